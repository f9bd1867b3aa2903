//! What viewers read of the mirror, by seat: a record is visible when the Pitchside
//! user its CRM owner maps to is someone the viewer sees (executives see every record,
//! managers their reps', reps their own). Records whose owner maps to nobody are seen
//! by executives only. Lists page by row id like every list; a record outside the
//! viewer's sight is NotFound, like a missing one.

use domain::UserId;
use domain::crm::{Amount, Provider};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::rows::{Val, bind_all};
use crate::scope::MANAGED_TEAMS_CTE;
use crate::{Page, PageRequest, Scope, Store, StoreError};
use domain::Seat;

/// A pipeline or stage: external id and label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageRef {
    pub id: String,
    pub label: Option<String>,
}

/// A record's owner: the CRM's id and name, and the Pitchside user it maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRef {
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub user_id: Option<UserId>,
}

/// A deal as the API shows it.
#[derive(Clone, Debug)]
pub struct DealRow {
    pub id: String,
    pub connection_id: String,
    pub provider: Provider,
    pub external_id: String,
    pub name: String,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub pipeline: Option<StageRef>,
    pub stage: Option<StageRef>,
    pub is_closed: bool,
    pub is_won: bool,
    pub close_date: Option<String>,
    pub owner: OwnerRef,
    pub company_external_id: Option<String>,
    pub next_step: Option<String>,
    pub forecast_category: Option<String>,
    /// Epoch seconds.
    pub created_at: Option<i64>,
    /// When the deal closed (epoch seconds), where the CRM tells.
    pub closed_at: Option<i64>,
    /// The stages the deal entered, oldest first, where the CRM provides them.
    pub stage_history: Vec<domain::crm::StageChange>,
    /// The CRM's last modification (epoch seconds).
    pub updated_at: i64,
    /// The latest activity on the deal (epoch seconds), if any.
    pub last_activity_at: Option<i64>,
}

/// A contact.
#[derive(Clone, Debug)]
pub struct ContactRow {
    pub id: String,
    pub provider: Provider,
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
    pub company_external_id: Option<String>,
    pub owner: OwnerRef,
    pub updated_at: i64,
}

/// A company.
#[derive(Clone, Debug)]
pub struct CompanyRow {
    pub id: String,
    pub provider: Provider,
    pub external_id: String,
    pub name: String,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub owner: OwnerRef,
    pub updated_at: i64,
}

/// An activity (its body opened only when asked for one).
#[derive(Clone, Debug)]
pub struct ActivityRow {
    pub id: String,
    pub provider: Provider,
    pub external_id: String,
    pub activity_type: String,
    pub direction: Option<String>,
    pub occurred_at: Option<i64>,
    pub duration_secs: Option<i64>,
    pub outcome: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub deal_external_id: Option<String>,
    pub contact_external_id: Option<String>,
    pub company_external_id: Option<String>,
    pub owner: OwnerRef,
    pub updated_at: i64,
}

/// Filters of the deal list.
#[derive(Clone, Debug, Default)]
pub struct DealFilter {
    /// Deals whose owner maps to this user.
    pub owner: Option<UserId>,
    /// Stage external id.
    pub stage: Option<String>,
    /// Open (`Some(true)`) or closed (`Some(false)`) deals only.
    pub open: Option<bool>,
    /// Closing on or after / before these dates (`YYYY-MM-DD`).
    pub close_from: Option<String>,
    pub close_to: Option<String>,
}

/// Filters of the activity list.
#[derive(Clone, Debug, Default)]
pub struct ActivityFilter {
    pub owner: Option<UserId>,
    pub activity_type: Option<String>,
    /// Occurred at or after / before (epoch seconds).
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// On this deal (external id).
    pub deal: Option<String>,
}

/// Open pipeline of one stage.
#[derive(Clone, Debug, PartialEq)]
pub struct StageTotal {
    pub pipeline: String,
    pub stage: String,
    pub stage_order: i64,
    pub deals: u64,
    /// Sum per currency (`None`: deals without a currency).
    pub amounts: Vec<(Option<String>, Amount)>,
}

/// A dynamic WHERE clause built from constant fragments; values are bound, never
/// spliced.
struct Where {
    sql: String,
    vals: Vec<Val>,
    /// The number of the first placeholder this clause may use.
    first: usize,
}

impl Where {
    fn new(first: usize) -> Self {
        Self {
            sql: String::new(),
            vals: Vec::new(),
            first,
        }
    }

    /// The filters every list starts with: after the page's cursor, and (optionally)
    /// records owned by one user. Records are aliased `alias`.
    fn list(alias: &str, page: &PageRequest, owner: Option<UserId>) -> Self {
        let mut w = Self::new(5);
        w.and(
            &format!("{alias}.id > ?"),
            Val::Text(Some(page.after_or_start())),
        );
        if let Some(owner) = owner {
            w.and("o.user_id = ?", Val::Text(Some(owner.to_string())));
        }
        w
    }
    /// `fragment` with `?` standing for the next placeholder.
    fn and(&mut self, fragment: &str, val: Val) {
        let n = self.first + self.vals.len();
        self.sql.push_str(" AND ");
        self.sql.push_str(&fragment.replace('?', &format!("${n}")));
        self.vals.push(val);
    }
}

/// Owner joins and the visibility predicate for records of alias `r`: binds `$1` org,
/// `$2` viewer, `$3` executive flag, `$4` manager flag (the `managed` CTE in scope).
fn owner_join(alias: &str) -> String {
    format!(
        " JOIN crm_connections c ON c.org_id = {alias}.org_id AND c.id = {alias}.connection_id \
          LEFT JOIN crm_owners o ON o.org_id = {alias}.org_id AND o.connection_id = {alias}.connection_id \
             AND o.external_id = {alias}.owner_ext "
    )
}

fn visible(alias: &str) -> String {
    format!(
        "{alias}.org_id = $1 AND ( $3 = 1 OR o.user_id IN (SELECT u.id FROM users u WHERE {}) )",
        crate::user_visible!()
    )
}

fn owner_ref(row: &AnyRow) -> Result<OwnerRef, StoreError> {
    Ok(OwnerRef {
        external_id: row.try_get("owner_ext")?,
        name: row.try_get("owner_name")?,
        user_id: crate::models::parse_opt(row, "owner_user")?,
    })
}

fn provider(row: &AnyRow) -> Result<Provider, StoreError> {
    let p: String = row.try_get("provider")?;
    p.parse()
        .map_err(|_| StoreError::Corrupt(format!("provider {p:?}")))
}

const DEAL_SELECT: &str = "SELECT d.id, d.connection_id, c.provider, d.external_id, d.name, d.amount, d.currency, \
    d.pipeline_ext, p.label AS pipeline_label, d.stage_ext, s.label AS stage_label, \
    COALESCE(d.is_closed, s.is_closed, 0) AS closed, COALESCE(d.is_won, s.is_won, 0) AS won, \
    d.close_date, d.owner_ext, o.name AS owner_name, o.user_id AS owner_user, d.company_ext, d.next_step, \
    d.forecast_category, d.created_ms, d.closed_ms, d.stage_history, d.updated_ms, \
    (SELECT MAX(a.occurred_ms) FROM crm_activities a WHERE a.org_id = d.org_id \
       AND a.connection_id = d.connection_id AND a.deal_ext = d.external_id) AS last_activity \
    FROM crm_deals d";

const DEAL_JOINS: &str = " LEFT JOIN crm_pipelines p ON p.org_id = d.org_id AND p.connection_id = d.connection_id \
       AND p.external_id = d.pipeline_ext \
    LEFT JOIN crm_stages s ON s.org_id = d.org_id AND s.connection_id = d.connection_id \
       AND s.pipeline_ext = d.pipeline_ext AND s.external_id = d.stage_ext ";

fn deal_row(row: &AnyRow) -> Result<DealRow, StoreError> {
    let closed: i64 = row.try_get("closed")?;
    let won: i64 = row.try_get("won")?;
    let updated: i64 = row.try_get("updated_ms")?;
    let created: Option<i64> = row.try_get("created_ms")?;
    let last: Option<i64> = row.try_get("last_activity")?;
    let pipeline: Option<String> = row.try_get("pipeline_ext")?;
    let stage: Option<String> = row.try_get("stage_ext")?;
    let history: Option<String> = row.try_get("stage_history")?;
    let stage_history = match history.as_deref() {
        None | Some("") => Vec::new(),
        Some(json) => serde_json::from_str(json)
            .map_err(|e| StoreError::Corrupt(format!("crm_deals.stage_history: {e}")))?,
    };
    Ok(DealRow {
        id: row.try_get("id")?,
        connection_id: row.try_get("connection_id")?,
        provider: provider(row)?,
        external_id: row.try_get("external_id")?,
        name: row.try_get("name")?,
        amount: row.try_get("amount")?,
        currency: row.try_get("currency")?,
        pipeline: pipeline
            .map(|id| -> Result<_, StoreError> {
                Ok(StageRef {
                    id,
                    label: row.try_get("pipeline_label")?,
                })
            })
            .transpose()?,
        stage: stage
            .map(|id| -> Result<_, StoreError> {
                Ok(StageRef {
                    id,
                    label: row.try_get("stage_label")?,
                })
            })
            .transpose()?,
        is_closed: closed != 0,
        is_won: won != 0,
        close_date: row.try_get("close_date")?,
        owner: owner_ref(row)?,
        company_external_id: row.try_get("company_ext")?,
        next_step: row.try_get("next_step")?,
        forecast_category: row.try_get("forecast_category")?,
        created_at: created,
        closed_at: row.try_get("closed_ms")?,
        stage_history,
        updated_at: updated / 1000,
        last_activity_at: last.map(|ms| ms / 1000),
    })
}

impl Store {
    /// The binds every visibility-scoped CRM query starts with.
    fn crm_binds(scope: &Scope) -> Vec<Val> {
        vec![
            Val::Text(Some(scope.org())),
            Val::Text(Some(scope.user())),
            Val::Int(Some(i64::from(scope.seat() == Seat::Executive))),
            Val::Int(Some(scope.manager_flag())),
        ]
    }

    async fn crm_query(
        &self,
        scope: &Scope,
        sql: String,
        vals: Vec<Val>,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let mut all = Self::crm_binds(scope);
        all.extend(vals);
        let mut conn = self.org_read(&scope.org()).await?;
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), all)
            .fetch_all(&mut *conn)
            .await?;
        conn.commit().await?;
        Ok(rows)
    }

    /// One page of a list: `select` (the columns, `FROM` the table aliased `alias`),
    /// the owner's joins then `joins`, filtered by visibility and `w`, in id order.
    #[allow(clippy::too_many_arguments)]
    async fn list_page<T>(
        &self,
        scope: &Scope,
        alias: &str,
        select: &str,
        joins: &str,
        mut w: Where,
        page: &PageRequest,
        map: impl Fn(&AnyRow) -> Result<T, StoreError>,
        id: impl Fn(&T) -> String,
    ) -> Result<Page<T>, StoreError> {
        let limit = w.first + w.vals.len();
        w.vals.push(Val::Int(Some(page.fetch())));
        let sql = format!(
            "{MANAGED_TEAMS_CTE} {select} {}{joins} WHERE {}{} ORDER BY {alias}.id LIMIT ${limit}",
            owner_join(alias),
            visible(alias),
            w.sql
        );
        let rows = self.crm_query(scope, sql, w.vals).await?;
        let items = rows.iter().map(map).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, page.limit, id))
    }

    /// Deals this viewer sees, oldest first.
    pub async fn list_deals(
        &self,
        scope: &Scope,
        filter: &DealFilter,
        page: &PageRequest,
    ) -> Result<Page<DealRow>, StoreError> {
        let mut w = Where::list("d", page, filter.owner);
        if let Some(stage) = &filter.stage {
            w.and("d.stage_ext = ?", Val::Text(Some(stage.clone())));
        }
        if let Some(open) = filter.open {
            w.and(
                "COALESCE(d.is_closed, s.is_closed, 0) = ?",
                Val::Int(Some(i64::from(!open))),
            );
        }
        if let Some(from) = &filter.close_from {
            w.and("d.close_date >= ?", Val::Text(Some(from.clone())));
        }
        if let Some(to) = &filter.close_to {
            w.and("d.close_date <= ?", Val::Text(Some(to.clone())));
        }
        self.list_page(
            scope,
            "d",
            DEAL_SELECT,
            DEAL_JOINS,
            w,
            page,
            deal_row,
            |d| d.id.clone(),
        )
        .await
    }

    /// One deal, if this viewer sees it.
    pub async fn get_deal(&self, scope: &Scope, id: &str) -> Result<DealRow, StoreError> {
        let sql = format!(
            "{MANAGED_TEAMS_CTE} {DEAL_SELECT} {}{DEAL_JOINS} WHERE {} AND d.id = $5",
            owner_join("d"),
            visible("d")
        );
        let rows = self
            .crm_query(scope, sql, vec![Val::Text(Some(id.to_owned()))])
            .await?;
        rows.first()
            .map(deal_row)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Contacts this viewer sees, oldest first.
    pub async fn list_contacts(
        &self,
        scope: &Scope,
        owner: Option<UserId>,
        page: &PageRequest,
    ) -> Result<Page<ContactRow>, StoreError> {
        let select = "SELECT r.id, c.provider, r.external_id, r.name, r.email, r.phone, r.title, \
             r.company_ext, r.owner_ext, o.name AS owner_name, o.user_id AS owner_user, r.updated_ms \
             FROM crm_contacts r";
        let map = |row: &AnyRow| {
            Ok(ContactRow {
                id: row.try_get("id")?,
                provider: provider(row)?,
                external_id: row.try_get("external_id")?,
                name: row.try_get("name")?,
                email: row.try_get("email")?,
                phone: row.try_get("phone")?,
                title: row.try_get("title")?,
                company_external_id: row.try_get("company_ext")?,
                owner: owner_ref(row)?,
                updated_at: row.try_get::<i64, _>("updated_ms")? / 1000,
            })
        };
        let w = Where::list("r", page, owner);
        self.list_page(scope, "r", select, "", w, page, map, |c| c.id.clone())
            .await
    }

    /// Companies this viewer sees, oldest first.
    pub async fn list_companies(
        &self,
        scope: &Scope,
        owner: Option<UserId>,
        page: &PageRequest,
    ) -> Result<Page<CompanyRow>, StoreError> {
        let select = "SELECT r.id, c.provider, r.external_id, r.name, r.domain, r.industry, \
             r.owner_ext, o.name AS owner_name, o.user_id AS owner_user, r.updated_ms \
             FROM crm_companies r";
        let map = |row: &AnyRow| {
            Ok(CompanyRow {
                id: row.try_get("id")?,
                provider: provider(row)?,
                external_id: row.try_get("external_id")?,
                name: row.try_get("name")?,
                domain: row.try_get("domain")?,
                industry: row.try_get("industry")?,
                owner: owner_ref(row)?,
                updated_at: row.try_get::<i64, _>("updated_ms")? / 1000,
            })
        };
        let w = Where::list("r", page, owner);
        self.list_page(scope, "r", select, "", w, page, map, |c| c.id.clone())
            .await
    }

    /// Activities this viewer sees, oldest first; bodies opened when `with_body`.
    pub async fn list_activities(
        &self,
        scope: &Scope,
        filter: &ActivityFilter,
        page: &PageRequest,
        with_body: bool,
    ) -> Result<Page<ActivityRow>, StoreError> {
        let mut w = Where::list("r", page, filter.owner);
        if let Some(t) = &filter.activity_type {
            w.and("r.activity_type = ?", Val::Text(Some(t.clone())));
        }
        if let Some(from) = filter.from {
            w.and(
                "r.occurred_ms >= ?",
                Val::Int(Some(from.saturating_mul(1000))),
            );
        }
        if let Some(to) = filter.to {
            w.and("r.occurred_ms < ?", Val::Int(Some(to.saturating_mul(1000))));
        }
        if let Some(deal) = &filter.deal {
            w.and("r.deal_ext = ?", Val::Text(Some(deal.clone())));
        }
        let org = scope.org();
        let map = |row: &AnyRow| self.activity_row(&org, row, with_body);
        self.list_page(scope, "r", ACTIVITY_SELECT, "", w, page, map, |a| {
            a.id.clone()
        })
        .await
    }

    /// The latest activities of a user this viewer sees, newest first.
    pub async fn recent_activities(
        &self,
        scope: &Scope,
        user: UserId,
        limit: u32,
    ) -> Result<Vec<ActivityRow>, StoreError> {
        let sql = format!(
            "{MANAGED_TEAMS_CTE} {ACTIVITY_SELECT} {} WHERE {} AND o.user_id = $5 \
             ORDER BY r.occurred_ms DESC, r.id DESC LIMIT $6",
            owner_join("r"),
            visible("r")
        );
        let rows = self
            .crm_query(
                scope,
                sql,
                vec![
                    Val::Text(Some(user.to_string())),
                    Val::Int(Some(i64::from(limit))),
                ],
            )
            .await?;
        rows.iter()
            .map(|row| self.activity_row(&scope.org(), row, false))
            .collect()
    }

    fn activity_row(
        &self,
        org: &str,
        row: &AnyRow,
        with_body: bool,
    ) -> Result<ActivityRow, StoreError> {
        let id: String = row.try_get("id")?;
        let body = if with_body {
            let sealed: Option<String> = row.try_get("body_sealed")?;
            sealed
                .map(|token| {
                    self.keys()
                        .ring(vault::sealed::Domain::CrmRecords)
                        .open(
                            vault::sealed::SealContext {
                                org,
                                table: "crm_activities",
                                column: "body",
                                row: &id,
                            },
                            &token,
                        )
                        .map_err(|_| StoreError::Sealed)
                        .and_then(|b| String::from_utf8(b).map_err(|_| StoreError::Sealed))
                })
                .transpose()?
        } else {
            None
        };
        let occurred: Option<i64> = row.try_get("occurred_ms")?;
        Ok(ActivityRow {
            id,
            provider: provider(row)?,
            external_id: row.try_get("external_id")?,
            activity_type: row.try_get("activity_type")?,
            direction: row.try_get("direction")?,
            occurred_at: occurred.map(|ms| ms / 1000),
            duration_secs: row.try_get("duration_secs")?,
            outcome: row.try_get("outcome")?,
            subject: row.try_get("subject")?,
            body,
            deal_external_id: row.try_get("deal_ext")?,
            contact_external_id: row.try_get("contact_ext")?,
            company_external_id: row.try_get("company_ext")?,
            owner: owner_ref(row)?,
            updated_at: row.try_get::<i64, _>("updated_ms")? / 1000,
        })
    }

    /// A visible user's open pipeline, per stage (NotFound for users out of sight).
    pub async fn pipeline_by_stage(
        &self,
        scope: &Scope,
        user: UserId,
    ) -> Result<Vec<StageTotal>, StoreError> {
        self.get_user(scope, user).await?;
        let sql = format!(
            "{MANAGED_TEAMS_CTE} SELECT COALESCE(p.label, d.pipeline_ext, '') AS pipeline, \
               COALESCE(s.label, d.stage_ext, '') AS stage, COALESCE(s.display_order, 0) AS stage_order, \
               d.currency, COUNT(*) AS n, CAST(SUM(COALESCE(d.amount_scaled, 0)) AS BIGINT) AS total \
             FROM crm_deals d {}{DEAL_JOINS} WHERE {} AND o.user_id = $5 \
               AND COALESCE(d.is_closed, s.is_closed, 0) = 0 \
             GROUP BY COALESCE(p.label, d.pipeline_ext, ''), COALESCE(s.label, d.stage_ext, ''), \
               COALESCE(s.display_order, 0), d.currency \
             ORDER BY pipeline, stage_order, stage",
            owner_join("d"),
            visible("d")
        );
        let rows = self
            .crm_query(scope, sql, vec![Val::Text(Some(user.to_string()))])
            .await?;
        let mut out: Vec<StageTotal> = Vec::new();
        for row in rows {
            let pipeline: String = row.try_get("pipeline")?;
            let stage: String = row.try_get("stage")?;
            let order: i64 = row.try_get("stage_order")?;
            let n: i64 = row.try_get("n")?;
            let total: i64 = row.try_get("total")?;
            let currency: Option<String> = row.try_get("currency")?;
            let amount = Amount::from_scaled(total).unwrap_or(Amount::ZERO);
            match out.last_mut() {
                Some(last) if last.pipeline == pipeline && last.stage == stage => {
                    last.deals += n as u64;
                    last.amounts.push((currency, amount));
                }
                _ => out.push(StageTotal {
                    pipeline,
                    stage,
                    stage_order: order,
                    deals: n as u64,
                    amounts: vec![(currency, amount)],
                }),
            }
        }
        Ok(out)
    }

    /// A visible user's open deals with no activity since `cutoff` (epoch seconds),
    /// stalest first.
    pub async fn stale_deals(
        &self,
        scope: &Scope,
        user: UserId,
        cutoff: i64,
        limit: u32,
    ) -> Result<Vec<DealRow>, StoreError> {
        self.get_user(scope, user).await?;
        let sql = format!(
            "{MANAGED_TEAMS_CTE} SELECT * FROM ({DEAL_SELECT} {}{DEAL_JOINS} WHERE {} AND o.user_id = $5 \
               AND COALESCE(d.is_closed, s.is_closed, 0) = 0) deals \
             WHERE last_activity IS NULL OR last_activity < $6 \
             ORDER BY COALESCE(last_activity, 0), id LIMIT $7",
            owner_join("d"),
            visible("d")
        );
        let rows = self
            .crm_query(
                scope,
                sql,
                vec![
                    Val::Text(Some(user.to_string())),
                    Val::Int(Some(cutoff.saturating_mul(1000))),
                    Val::Int(Some(i64::from(limit))),
                ],
            )
            .await?;
        rows.iter().map(deal_row).collect()
    }
}

const ACTIVITY_SELECT: &str = "SELECT r.id, c.provider, r.external_id, r.activity_type, r.direction, \
    r.occurred_ms, r.duration_secs, r.outcome, r.subject, r.body_sealed, r.deal_ext, r.contact_ext, \
    r.company_ext, r.owner_ext, o.name AS owner_name, o.user_id AS owner_user, r.updated_ms \
    FROM crm_activities r";
