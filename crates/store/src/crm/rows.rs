//! How each canonical record kind becomes a row: its table, its own columns and their
//! values. The columns every mirrored table shares (id, org, connection, external id,
//! modification time, sealed payload, sync bookkeeping) are added by the writer.

use domain::crm::{ObjectKind, Record, RecordData};

/// A bind value of a dynamically built statement.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    Text(Option<String>),
    Int(Option<i64>),
}

impl Val {
    fn text(v: &Option<String>) -> Self {
        Val::Text(v.clone())
    }
    fn flag(v: Option<bool>) -> Self {
        Val::Int(v.map(i64::from))
    }
}

/// Bind `vals` to `query`, in order.
pub(crate) fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    vals: Vec<Val>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for v in vals {
        query = match v {
            Val::Text(t) => query.bind(t),
            Val::Int(i) => query.bind(i),
        };
    }
    query
}

/// The mirrored table of a kind.
pub(crate) fn table(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Owner => "crm_owners",
        ObjectKind::Pipeline => "crm_pipelines",
        ObjectKind::Company => "crm_companies",
        ObjectKind::Contact => "crm_contacts",
        ObjectKind::Deal => "crm_deals",
        ObjectKind::Activity => "crm_activities",
    }
}

/// The kind's own columns, in the order [`values`] gives them. Activities' sealed body
/// columns come last and are filled by the writer.
pub(crate) fn columns(kind: ObjectKind) -> &'static [&'static str] {
    match kind {
        ObjectKind::Owner => &["email", "name", "active"],
        ObjectKind::Pipeline => &["label", "display_order"],
        ObjectKind::Company => &["name", "domain", "industry", "owner_ext"],
        ObjectKind::Contact => &[
            "name",
            "email",
            "phone",
            "title",
            "owner_ext",
            "company_ext",
        ],
        ObjectKind::Deal => &[
            "name",
            "amount",
            "amount_scaled",
            "currency",
            "pipeline_ext",
            "stage_ext",
            "close_date",
            "owner_ext",
            "company_ext",
            "created_ms",
            "closed_ms",
            "is_closed",
            "is_won",
            "next_step",
            "forecast_category",
            "stage_history",
        ],
        ObjectKind::Activity => &[
            "activity_type",
            "direction",
            "occurred_ms",
            "owner_ext",
            "duration_secs",
            "outcome",
            "subject",
            "deal_ext",
            "contact_ext",
            "company_ext",
            "body_sealed",
            "body_key_id",
        ],
    }
}

/// The column whose incoming NULL keeps the stored value on update (see [`values`]).
pub(crate) const KEPT_IF_NULL: &str = "stage_history";

/// The kind's own column values of `record` (without the activity body, which is
/// sealed by the writer). A deal's `stage_history` is its JSON (`[]` when empty), or
/// NULL when the deal says [`stage_history_kept`](domain::crm::Deal::stage_history_kept)
/// and has a row already (`stored`): the upsert then keeps the stored history.
pub(crate) fn values(record: &Record, stored: bool) -> Vec<Val> {
    match &record.data {
        RecordData::Owner(o) => vec![
            Val::Text(domain::crm::email_key(o.email.as_deref())),
            Val::Text(Some(o.name.clone())),
            Val::Int(Some(i64::from(o.active))),
        ],
        RecordData::Pipeline(p) => vec![
            Val::Text(Some(p.label.clone())),
            Val::Int(Some(p.display_order)),
        ],
        RecordData::Company(c) => vec![
            Val::Text(Some(c.name.clone())),
            Val::text(&c.domain),
            Val::text(&c.industry),
            Val::text(&c.owner),
        ],
        RecordData::Contact(c) => vec![
            Val::Text(Some(c.name.clone())),
            Val::Text(c.email.as_ref().map(|e| e.trim().to_ascii_lowercase())),
            Val::text(&c.phone),
            Val::text(&c.title),
            Val::text(&c.owner),
            Val::text(&c.company),
        ],
        RecordData::Deal(d) => vec![
            Val::Text(Some(d.name.clone())),
            Val::Text(d.amount.map(|a| a.to_string())),
            Val::Int(d.amount.map(|a| a.scaled())),
            Val::text(&d.currency),
            Val::text(&d.pipeline),
            Val::text(&d.stage),
            Val::text(&d.close_date),
            Val::text(&d.owner),
            Val::text(&d.company),
            Val::Int(d.created_at),
            Val::Int(d.closed_at),
            Val::flag(d.is_closed),
            Val::flag(d.is_won),
            Val::text(&d.next_step),
            Val::text(&d.forecast_category),
            Val::Text(
                (!(d.stage_history_kept && stored))
                    .then(|| serde_json::to_string(&d.stage_history).unwrap_or_default()),
            ),
        ],
        RecordData::Activity(a) => vec![
            Val::Text(Some(a.activity_type.as_str().to_owned())),
            Val::Text(a.direction.map(|d| {
                match d {
                    domain::crm::Direction::Inbound => "inbound",
                    domain::crm::Direction::Outbound => "outbound",
                }
                .to_owned()
            })),
            // Epoch seconds in, milliseconds stored (`occurred_ms`, as the reads expect).
            Val::Int(a.occurred_at.map(|s| s.saturating_mul(1000))),
            Val::text(&a.owner),
            Val::Int(a.duration_secs),
            Val::text(&a.outcome),
            Val::text(&a.subject),
            Val::text(&a.deal),
            Val::text(&a.contact),
            Val::text(&a.company),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_gives_as_many_values_as_it_has_columns() {
        use domain::crm::*;
        let raw = serde_json::value::RawValue::from_string("{}".into()).expect("raw");
        let records = [
            RecordData::Owner(Owner {
                email: Some("A@B.example".into()),
                name: "A".into(),
                active: true,
            }),
            RecordData::Pipeline(Pipeline {
                label: "P".into(),
                display_order: 0,
                stages: vec![],
            }),
            RecordData::Company(Company {
                name: "C".into(),
                domain: None,
                industry: None,
                owner: None,
            }),
            RecordData::Contact(Contact {
                name: "N".into(),
                email: None,
                phone: None,
                title: None,
                owner: None,
                company: None,
            }),
            RecordData::Deal(Deal {
                name: "D".into(),
                amount: None,
                currency: None,
                pipeline: None,
                stage: None,
                close_date: None,
                owner: None,
                created_at: None,
                closed_at: None,
                is_closed: None,
                is_won: None,
                next_step: None,
                forecast_category: None,
                contacts: vec![],
                company: None,
                stage_history: vec![],
                stage_history_kept: false,
            }),
            RecordData::Activity(Activity {
                activity_type: ActivityType::Call,
                direction: None,
                occurred_at: None,
                owner: None,
                duration_secs: None,
                outcome: None,
                subject: None,
                body: None,
                deal: None,
                contact: None,
                company: None,
            }),
        ];
        for data in records {
            let kind = data.kind();
            let record = Record {
                external_id: "1".into(),
                updated_at_ms: 0,
                data,
                raw: raw.clone(),
            };
            let sealed_extra = if kind == ObjectKind::Activity { 2 } else { 0 };
            assert_eq!(
                values(&record, true).len() + sealed_extra,
                columns(kind).len(),
                "{kind}"
            );
        }
    }
}
