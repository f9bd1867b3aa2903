//! JSON shapes of integrations and of the CRM records they sync. No type here has a
//! field for a token: what the API can say about credentials is their kind
//! (`auth_kind`) and the scopes granted beyond the read-only ones (`extra_scopes`).

use std::collections::BTreeMap;

use serde::Serialize;
use store::crm::{
    ActivityRow, CompanyRow, ContactRow, DealRow, KindStats, OwnerMapping, OwnerRef, StageRef,
    SyncRun,
};
use utoipa::ToSchema;

use super::views::iso;
use crate::integrations::Detail;

/// An integration: one connected CRM account.
#[derive(Serialize, ToSchema)]
pub struct IntegrationView {
    pub id: String,
    /// `hubspot`, `salesforce` or `pipedrive`.
    pub provider: String,
    /// `oauth` or `token` (a HubSpot private-app or Pipedrive API token).
    pub auth_kind: String,
    /// `active`, `unhealthy`, `needs_reconnect`, `paused` or `disconnected`.
    pub status: String,
    /// Why the status is not `active`, in words.
    pub status_reason: Option<String>,
    /// Scopes the provider granted beyond the read-only ones asked for.
    pub extra_scopes: Vec<String>,
    /// True when `extra_scopes` is not empty: an admin should review the grant.
    pub scopes_flagged: bool,
    /// The CRM's API host this integration reads from.
    pub api_base: String,
    pub sync_interval_minutes: i64,
    /// Pitchside's share of the CRM's daily API budget, in percent.
    pub quota_share_percent: i64,
    /// A full re-sync was asked for and has not started yet.
    pub full_resync_pending: bool,
    pub created_at: String,
    pub updated_at: String,
    pub last_success_at: Option<String>,
    /// When the next sync is due (null once disconnected).
    pub next_sync_at: Option<String>,
    /// A sync is running now.
    pub running: bool,
    pub quota: QuotaView,
    /// The latest runs, newest first.
    pub runs: Vec<RunView>,
}

impl From<Detail> for IntegrationView {
    fn from(d: Detail) -> Self {
        let c = d.connection;
        Self {
            provider: c.provider.as_str().into(),
            auth_kind: c.auth_kind.as_str().into(),
            status: c.status.as_str().into(),
            status_reason: c.status_reason,
            scopes_flagged: !c.extra_scopes.is_empty(),
            extra_scopes: c.extra_scopes,
            api_base: c.api_base,
            sync_interval_minutes: c.sync_interval_secs / 60,
            quota_share_percent: c.quota_share_pct,
            full_resync_pending: c.full_resync,
            created_at: iso(c.created_at),
            updated_at: iso(c.updated_at),
            last_success_at: c.last_success_at.map(iso),
            next_sync_at: d.next_sync_at.map(iso),
            running: d.running,
            quota: QuotaView {
                day: d.quota.day,
                used: d.quota.used,
                daily_limit: d.daily_limit,
                share_percent: c.quota_share_pct,
                budget: d.budget,
                provider_used: d.quota.provider_used,
                provider_remaining: d.quota.provider_remaining,
            },
            runs: d.runs.into_iter().map(RunView::from).collect(),
            id: c.id,
        }
    }
}

/// Today's use of the CRM's API budget.
#[derive(Serialize, ToSchema)]
pub struct QuotaView {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// Requests (Pipedrive: tokens) Pitchside spent today.
    pub used: u64,
    /// The CRM's daily budget, as reported (or configured where it reports none).
    pub daily_limit: Option<u64>,
    pub share_percent: i64,
    /// The part of the daily budget Pitchside allows itself.
    pub budget: Option<u64>,
    /// The day's use by everyone on the CRM account, where the provider reports it.
    pub provider_used: Option<u64>,
    pub provider_remaining: Option<u64>,
}

/// Counts of one kind of record within a run.
#[derive(Serialize, ToSchema, Default)]
pub struct KindCountsView {
    pub read: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    /// Records the CRM sent that could not be mapped (counted, reasons logged).
    pub skipped: u64,
}

impl From<&KindStats> for KindCountsView {
    fn from(k: &KindStats) -> Self {
        Self {
            read: k.read,
            created: k.created,
            updated: k.updated,
            unchanged: k.unchanged,
            deleted: k.deleted,
            skipped: k.skipped,
        }
    }
}

/// One sync run.
#[derive(Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    /// What kind of run: `initial` (the first, full sync), `scheduled` (incremental;
    /// also after Sync now) or `resync` (a requested full re-sync).
    pub trigger: String,
    /// `running`, `succeeded`, `failed`, `paused`, `needs_reconnect` or `interrupted`.
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_secs: Option<i64>,
    /// Requests sent to the CRM (each retry counts).
    pub requests: u64,
    /// 429 answers met.
    pub throttled: u64,
    pub error: Option<String>,
    /// Counts per kind (`owner`, `pipeline`, `company`, `contact`, `deal`, `activity`).
    pub kinds: BTreeMap<String, KindCountsView>,
    pub totals: KindCountsView,
}

impl From<SyncRun> for RunView {
    fn from(r: SyncRun) -> Self {
        Self {
            duration_secs: r.finished_at.map(|f| (f - r.started_at).max(0)),
            finished_at: r.finished_at.map(iso),
            started_at: iso(r.started_at),
            requests: r.stats.requests,
            throttled: r.stats.throttled,
            kinds: r
                .stats
                .kinds
                .iter()
                .map(|(k, v)| (k.clone(), v.into()))
                .collect(),
            totals: (&r.stats.total()).into(),
            id: r.id,
            trigger: r.trigger,
            status: r.status,
            error: r.error,
        }
    }
}

/// A CRM owner (a user of the CRM) and the Pitchside user it maps to.
#[derive(Serialize, ToSchema)]
pub struct OwnerView {
    pub id: String,
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    pub active: bool,
    /// The Pitchside user the owner's records belong to (null: nobody, so only
    /// executives see them).
    pub user_id: Option<String>,
    /// `automatic` (matched by email), `user` (set by hand) or `nobody` (set by hand).
    pub mapping: String,
}

impl From<OwnerMapping> for OwnerView {
    fn from(o: OwnerMapping) -> Self {
        Self {
            mapping: match o.manual {
                None => "automatic",
                Some(None) => "nobody",
                Some(Some(_)) => "user",
            }
            .into(),
            user_id: o.user_id.map(|u| u.to_string()),
            id: o.id,
            external_id: o.external_id,
            name: o.name,
            email: o.email,
            active: o.active,
        }
    }
}

/// A pipeline or stage: the CRM's id and its label.
#[derive(Serialize, ToSchema)]
pub struct RefView {
    pub id: String,
    pub label: Option<String>,
}

impl From<StageRef> for RefView {
    fn from(s: StageRef) -> Self {
        Self {
            id: s.id,
            label: s.label,
        }
    }
}

/// Who owns a record in the CRM, and whom that is in Pitchside.
#[derive(Serialize, ToSchema)]
pub struct RecordOwnerView {
    pub external_id: Option<String>,
    pub user_id: Option<String>,
    pub name: Option<String>,
}

impl From<OwnerRef> for RecordOwnerView {
    fn from(o: OwnerRef) -> Self {
        Self {
            external_id: o.external_id,
            user_id: o.user_id.map(|u| u.to_string()),
            name: o.name,
        }
    }
}

/// A deal (opportunity).
#[derive(Serialize, ToSchema)]
pub struct DealView {
    pub id: String,
    pub integration_id: String,
    pub provider: String,
    pub external_id: String,
    pub name: String,
    /// An exact decimal, as a string (`"12000.50"`).
    pub amount: Option<String>,
    /// ISO 4217.
    pub currency: Option<String>,
    pub pipeline: Option<RefView>,
    pub stage: Option<RefView>,
    pub is_closed: bool,
    pub is_won: bool,
    /// `YYYY-MM-DD`.
    pub close_date: Option<String>,
    pub owner: RecordOwnerView,
    pub company_external_id: Option<String>,
    pub next_step: Option<String>,
    pub forecast_category: Option<String>,
    pub created_at: Option<String>,
    /// When the deal closed, where the CRM tells (HubSpot, Pipedrive; Salesforce from
    /// the opportunity's stage history).
    pub closed_at: Option<String>,
    /// The stages the deal entered, oldest first: Salesforce's OpportunityHistory,
    /// HubSpot's `dealstage` history, Pipedrive's deal flow (a deal that never moved:
    /// its stage since it was added).
    pub stage_history: Vec<StageChangeView>,
    /// The CRM's last modification.
    pub updated_at: String,
    /// The latest activity on the deal.
    pub last_activity_at: Option<String>,
}

/// A deal entered a stage.
#[derive(Serialize, ToSchema)]
pub struct StageChangeView {
    /// The stage's external id, as in `stage.id`.
    pub stage: String,
    pub entered_at: String,
}

impl From<DealRow> for DealView {
    fn from(d: DealRow) -> Self {
        Self {
            id: d.id,
            integration_id: d.connection_id,
            provider: d.provider.as_str().into(),
            external_id: d.external_id,
            name: d.name,
            amount: d.amount,
            currency: d.currency,
            pipeline: d.pipeline.map(RefView::from),
            stage: d.stage.map(RefView::from),
            is_closed: d.is_closed,
            is_won: d.is_won,
            close_date: d.close_date,
            owner: d.owner.into(),
            company_external_id: d.company_external_id,
            next_step: d.next_step,
            forecast_category: d.forecast_category,
            created_at: d.created_at.map(iso),
            closed_at: d.closed_at.map(iso),
            stage_history: d
                .stage_history
                .into_iter()
                .map(|c| StageChangeView {
                    stage: c.stage,
                    entered_at: iso(c.at),
                })
                .collect(),
            updated_at: iso(d.updated_at),
            last_activity_at: d.last_activity_at.map(iso),
        }
    }
}

/// A contact (a person at a customer).
#[derive(Serialize, ToSchema)]
pub struct ContactView {
    pub id: String,
    pub provider: String,
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
    pub company_external_id: Option<String>,
    pub owner: RecordOwnerView,
    pub updated_at: String,
}

impl From<ContactRow> for ContactView {
    fn from(c: ContactRow) -> Self {
        Self {
            id: c.id,
            provider: c.provider.as_str().into(),
            external_id: c.external_id,
            name: c.name,
            email: c.email,
            phone: c.phone,
            title: c.title,
            company_external_id: c.company_external_id,
            owner: c.owner.into(),
            updated_at: iso(c.updated_at),
        }
    }
}

/// A company (account, organization).
#[derive(Serialize, ToSchema)]
pub struct CompanyView {
    pub id: String,
    pub provider: String,
    pub external_id: String,
    pub name: String,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub owner: RecordOwnerView,
    pub updated_at: String,
}

impl From<CompanyRow> for CompanyView {
    fn from(c: CompanyRow) -> Self {
        Self {
            id: c.id,
            provider: c.provider.as_str().into(),
            external_id: c.external_id,
            name: c.name,
            domain: c.domain,
            industry: c.industry,
            owner: c.owner.into(),
            updated_at: iso(c.updated_at),
        }
    }
}

/// A call, email, meeting, note or task.
#[derive(Serialize, ToSchema)]
pub struct ActivityView {
    pub id: String,
    pub provider: String,
    pub external_id: String,
    /// `call`, `email`, `meeting`, `note` or `task`.
    #[serde(rename = "type")]
    pub activity_type: String,
    /// `inbound` or `outbound`.
    pub direction: Option<String>,
    pub occurred_at: Option<String>,
    pub duration_secs: Option<i64>,
    pub outcome: Option<String>,
    pub subject: Option<String>,
    /// The body or note text (sealed at rest).
    pub body: Option<String>,
    pub deal_external_id: Option<String>,
    pub contact_external_id: Option<String>,
    pub company_external_id: Option<String>,
    pub owner: RecordOwnerView,
    pub updated_at: String,
}

impl From<ActivityRow> for ActivityView {
    fn from(a: ActivityRow) -> Self {
        Self {
            id: a.id,
            provider: a.provider.as_str().into(),
            external_id: a.external_id,
            activity_type: a.activity_type,
            direction: a.direction,
            occurred_at: a.occurred_at.map(iso),
            duration_secs: a.duration_secs,
            outcome: a.outcome,
            subject: a.subject,
            body: a.body,
            deal_external_id: a.deal_external_id,
            contact_external_id: a.contact_external_id,
            company_external_id: a.company_external_id,
            owner: a.owner.into(),
            updated_at: iso(a.updated_at),
        }
    }
}
