//! HubSpot JSON for world records: CRM objects with their `properties` (only those
//! asked for, plus the ones HubSpot always returns), v3 list `associations`, and the
//! stubs `archived=true` lists.

use domain::crm::{ActivityType, ObjectKind};

use super::json::{Props, Small, esc};
use super::objects::Object;
use super::{Shared, numeric_id, pipeline_id, stage_id};
use crate::world::{STAGES, World};

/// Which associations a list request asked for.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Associations {
    pub companies: bool,
    pub contacts: bool,
    pub deals: bool,
}

impl Associations {
    /// From the `associations` query values.
    pub fn parse(asked: &[String]) -> Self {
        let has = |n: &str| asked.iter().any(|a| a == n);
        Self {
            companies: has("companies"),
            contacts: has("contacts"),
            deals: has("deals"),
        }
    }
}

/// What rendering one page needs.
pub(crate) struct Ctx<'a> {
    pub world: &'a World,
    pub shared: &'a Shared,
    pub obj: Object,
    pub wanted: Vec<bool>,
    pub associations: Associations,
}

impl Ctx<'_> {
    fn time(&self, ms: i64) -> Small {
        Small::time(self.shared.clock(ms))
    }

    fn id(&self, kind: ObjectKind, idx: u64) -> Small {
        Small::number(numeric_id(kind, idx))
    }
}

/// A `{"results":[{"id":…,"type":…}]}` association list.
fn association_list(out: &mut String, first: &mut bool, key: &str, label: &str, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    if !*first {
        out.push(',');
    }
    *first = false;
    esc(out, key);
    out.push_str(":{\"results\":[");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"id\":");
        esc(out, id);
        out.push_str(",\"type\":");
        esc(out, label);
        out.push('}');
    }
    out.push_str("]}");
}

/// The targets of a record's associations: (companies, contacts, deals) world indices.
pub(crate) fn targets(world: &World, obj: Object, idx: u64) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
    match obj {
        Object::Companies => Default::default(),
        Object::Contacts => world
            .contact(idx)
            .map(|c| (c.company.into_iter().collect(), Vec::new(), Vec::new()))
            .unwrap_or_default(),
        Object::Deals => world
            .deal(idx)
            .map(|d| (d.company.into_iter().collect(), d.contacts, Vec::new()))
            .unwrap_or_default(),
        Object::Engagement(_) => world
            .activity(idx)
            .map(|a| {
                (
                    a.company.into_iter().collect(),
                    a.contact.into_iter().collect(),
                    a.deal.into_iter().collect(),
                )
            })
            .unwrap_or_default(),
    }
}

fn associations(out: &mut String, ctx: &Ctx<'_>, idx: u64) {
    let a = ctx.associations;
    if !(a.companies || a.contacts || a.deals) {
        return;
    }
    let (companies, contacts, deals) = targets(ctx.world, ctx.obj, idx);
    let ids = |kind: ObjectKind, v: &[u64], on: bool| -> Vec<String> {
        if on {
            v.iter().map(|i| ctx.id(kind, *i).to_string()).collect()
        } else {
            Vec::new()
        }
    };
    let companies = ids(ObjectKind::Company, &companies, a.companies);
    let contacts = ids(ObjectKind::Contact, &contacts, a.contacts);
    let deals = ids(ObjectKind::Deal, &deals, a.deals);
    if companies.is_empty() && contacts.is_empty() && deals.is_empty() {
        return;
    }
    let from = ctx.obj.singular();
    out.push_str(",\"associations\":{");
    let mut first = true;
    association_list(
        out,
        &mut first,
        "companies",
        &format!("{from}_to_company"),
        &companies,
    );
    association_list(
        out,
        &mut first,
        "contacts",
        &format!("{from}_to_contact"),
        &contacts,
    );
    association_list(out, &mut first, "deals", &format!("{from}_to_deal"), &deals);
    out.push('}');
}

/// Append record `idx` as HubSpot returns it; `false` (nothing written) when it is not
/// live or not of this engagement type.
pub(crate) fn record(out: &mut String, ctx: &Ctx<'_>, idx: u64, with_associations: bool) -> bool {
    let kind = ctx.obj.kind();
    let id = ctx.id(kind, idx);
    let start = out.len();
    out.push_str("{\"id\":");
    esc(out, &id);
    out.push(',');
    let mut p = Props::new(out, ctx.obj, &ctx.wanted);
    let meta = match ctx.obj {
        Object::Companies => {
            let Some(c) = ctx.world.company(idx) else {
                out.truncate(start);
                return false;
            };
            p.next(Some(&*ctx.time(c.meta.created_ms)));
            p.next(Some(&c.domain));
            p.next(Some(&*ctx.time(c.meta.updated_ms)));
            p.next(Some(&*id));
            p.next(Some(&*ctx.id(ObjectKind::Owner, c.owner)));
            p.next(Some(c.industry));
            p.next(Some(&c.name));
            p.end();
            c.meta
        }
        Object::Contacts => {
            let Some(c) = ctx.world.contact(idx) else {
                out.truncate(start);
                return false;
            };
            let company = c.company.map(|i| ctx.id(ObjectKind::Company, i));
            let company = company.as_deref();
            p.next(company);
            p.next(Some(&*ctx.time(c.meta.created_ms)));
            p.next(Some(&c.email));
            p.next(Some(&c.first_name));
            p.next(Some(&*id));
            p.next(Some(&*ctx.id(ObjectKind::Owner, c.owner)));
            p.next(Some(c.title));
            p.next(Some(&*ctx.time(c.meta.updated_ms)));
            p.next(Some(&c.last_name));
            p.next(Some(&c.phone));
            p.end();
            c.meta
        }
        Object::Deals => {
            let Some(d) = ctx.world.deal(idx) else {
                out.truncate(start);
                return false;
            };
            let (_, _, closed, won) = STAGES[d.stage.min(STAGES.len() - 1)];
            // HubSpot stamps the close date with the moment a deal is closed.
            let close = match d.closed_ms {
                Some(ms) => ctx.time(ms).to_string(),
                None => format!("{}T00:00:00Z", d.close_date),
            };
            p.next(Some(&d.amount.to_string()));
            p.next(Some(&close));
            p.next(Some(&*ctx.time(d.meta.created_ms)));
            p.next(Some(d.currency));
            p.next(Some(&d.name));
            p.next(Some(&stage_id(d.pipeline, d.stage)));
            p.next(Some(if closed { "true" } else { "false" }));
            p.next(Some(if won { "true" } else { "false" }));
            p.next(Some(&*ctx.time(d.meta.updated_ms)));
            p.next(d.next_step.as_deref());
            p.next(Some(&*id));
            p.next(Some(&*ctx.id(ObjectKind::Owner, d.owner)));
            p.next(Some(&pipeline_id(d.pipeline)));
            p.end();
            d.meta
        }
        Object::Engagement(t) => {
            let Some(a) = ctx.world.activity(idx).filter(|a| a.kind == t) else {
                out.truncate(start);
                return false;
            };
            let created = ctx.time(a.meta.created_ms);
            let updated = ctx.time(a.meta.updated_ms);
            let at = ctx.time(a.occurred_ms);
            let owner = ctx.id(ObjectKind::Owner, a.owner);
            match t {
                ActivityType::Call => {
                    p.next(Some(&a.body));
                    p.next(Some(if a.inbound { "INBOUND" } else { "OUTBOUND" }));
                    p.next(a.outcome.map(disposition));
                    p.next(a.duration_secs.map(|s| (s * 1000).to_string()).as_deref());
                    p.next(Some("COMPLETED"));
                    p.next(Some(&a.subject));
                    p.next(Some(&*created));
                    p.next(Some(&*updated));
                    p.next(Some(&*id));
                    p.next(Some(&*at));
                    p.next(Some(&*owner));
                }
                ActivityType::Email => {
                    p.next(Some(&*created));
                    p.next(Some(if a.inbound { "INCOMING_EMAIL" } else { "EMAIL" }));
                    p.next(Some("SENT"));
                    p.next(Some(&a.subject));
                    p.next(Some(&a.body));
                    p.next(Some(&*updated));
                    p.next(Some(&*id));
                    p.next(Some(&*at));
                    p.next(Some(&*owner));
                }
                ActivityType::Meeting => {
                    let end = a.occurred_ms + a.duration_secs.unwrap_or(0) as i64 * 1000;
                    p.next(Some(&*created));
                    p.next(Some(&*updated));
                    p.next(Some(&a.body));
                    p.next(Some(&*ctx.time(end)));
                    p.next(Some("COMPLETED"));
                    p.next(Some(&*at));
                    p.next(Some(&a.subject));
                    p.next(Some(&*id));
                    p.next(Some(&*at));
                    p.next(Some(&*owner));
                }
                ActivityType::Note => {
                    p.next(Some(&*created));
                    p.next(Some(&*updated));
                    p.next(Some(&a.body));
                    p.next(Some(&*id));
                    p.next(Some(&*at));
                    p.next(Some(&*owner));
                }
                ActivityType::Task => {
                    p.next(Some(&*created));
                    p.next(Some(&*updated));
                    p.next(Some(&*id));
                    p.next(Some(&a.body));
                    p.next(Some("MEDIUM"));
                    p.next(Some(task_status(a.inbound)));
                    p.next(Some(&a.subject));
                    p.next(Some(&*at));
                    p.next(Some(&*owner));
                }
            }
            p.end();
            a.meta
        }
    };
    out.push_str(",\"createdAt\":");
    esc(out, &ctx.time(meta.created_ms));
    out.push_str(",\"updatedAt\":");
    esc(out, &ctx.time(meta.updated_ms));
    out.push_str(",\"archived\":false");
    if with_associations {
        associations(out, ctx, idx);
    }
    out.push('}');
    true
}

/// A task's status in the mock: done for "inbound" seeds, else not started.
pub fn task_status(inbound: bool) -> &'static str {
    if inbound { "COMPLETED" } else { "NOT_STARTED" }
}

/// HubSpot's built-in call outcomes are GUIDs (`hs_call_disposition`).
pub fn disposition(label: &str) -> &'static str {
    match label {
        "Connected" => "f240bbac-87c9-4f6e-bf70-924b57d47db7",
        "Left voicemail" => "b2cf5968-551e-4856-9783-52b3da59a7d0",
        "No answer" => "73a0d17f-1163-4015-bdd5-ec830791da20",
        "Busy" => "9d9162e7-6cf3-4944-bf63-4dff82258764",
        "Wrong number" => "17b47fee-58de-441e-a44c-c6300d46f273",
        _ => "a4c4c377-d246-4b32-a13b-75a56a4cd0ff",
    }
}

/// An archived record as `archived=true` lists it: the world keeps no fields of deleted
/// records, so only ids and times.
pub(crate) fn archived(out: &mut String, ctx: &Ctx<'_>, idx: u64, deleted_ms: i64) {
    let kind = ctx.obj.kind();
    let meta = ctx.world.meta(kind, idx);
    let id = ctx.id(kind, idx);
    out.push_str("{\"id\":");
    esc(out, &id);
    out.push_str(",\"properties\":{\"hs_object_id\":");
    esc(out, &id);
    out.push_str("},\"createdAt\":");
    esc(out, &ctx.time(meta.created_ms));
    out.push_str(",\"updatedAt\":");
    esc(out, &ctx.time(deleted_ms));
    out.push_str(",\"archived\":true,\"archivedAt\":");
    esc(out, &ctx.time(deleted_ms));
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldSpec;

    fn shared() -> Shared {
        Shared {
            config: super::super::Config::default(),
            search_window: std::sync::Mutex::default(),
        }
    }

    #[test]
    fn records_are_valid_json_with_what_was_asked() {
        let world = World::new(WorldSpec::small());
        let shared = shared();
        for obj in [
            Object::Companies,
            Object::Contacts,
            Object::Deals,
            Object::Engagement(ActivityType::Call),
            Object::Engagement(ActivityType::Email),
            Object::Engagement(ActivityType::Meeting),
            Object::Engagement(ActivityType::Note),
            Object::Engagement(ActivityType::Task),
        ] {
            let all: Vec<String> = obj.properties().iter().map(|s| s.to_string()).collect();
            let ctx = Ctx {
                world: &world,
                shared: &shared,
                obj,
                wanted: obj.wanted(&all),
                associations: Associations::parse(&[
                    "companies".into(),
                    "contacts".into(),
                    "deals".into(),
                ]),
            };
            let mut written = 0;
            for idx in 0..60 {
                let mut out = String::new();
                if record(&mut out, &ctx, idx, true) {
                    written += 1;
                    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
                    assert_eq!(
                        v["properties"].as_object().map(|p| p.len()),
                        Some(obj.properties().len()),
                        "{out}"
                    );
                } else {
                    assert!(out.is_empty());
                }
            }
            assert!(written > 0, "{obj:?}");
        }
    }
}
