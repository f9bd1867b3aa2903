//! HubSpot JSON for world records, written straight into a `String` (no intermediate
//! tree): CRM objects with their `properties` (only those asked for, plus the ones
//! HubSpot always returns), v3 list `associations`, archived stubs, owners and
//! pipelines.

use domain::crm::{ActivityType, ObjectKind};

use super::{Shared, numeric_id, pipeline_id, stage_id};
use crate::server::rfc3339_ms;
use crate::world::{STAGES, World};

/// A HubSpot object type the mock serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Object {
    Companies,
    Contacts,
    Deals,
    Engagement(ActivityType),
}

impl Object {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "companies" => Object::Companies,
            "contacts" => Object::Contacts,
            "deals" => Object::Deals,
            "calls" => Object::Engagement(ActivityType::Call),
            "emails" => Object::Engagement(ActivityType::Email),
            "meetings" => Object::Engagement(ActivityType::Meeting),
            "notes" => Object::Engagement(ActivityType::Note),
            "tasks" => Object::Engagement(ActivityType::Task),
            _ => return None,
        })
    }

    pub fn kind(self) -> ObjectKind {
        match self {
            Object::Companies => ObjectKind::Company,
            Object::Contacts => ObjectKind::Contact,
            Object::Deals => ObjectKind::Deal,
            Object::Engagement(_) => ObjectKind::Activity,
        }
    }

    /// The property holding the last modification time.
    pub fn modified_property(self) -> &'static str {
        match self {
            Object::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// The name used in association type labels (`deal_to_contact`).
    pub fn singular(self) -> &'static str {
        match self {
            Object::Companies => "company",
            Object::Contacts => "contact",
            Object::Deals => "deal",
            Object::Engagement(ActivityType::Call) => "call",
            Object::Engagement(ActivityType::Email) => "email",
            Object::Engagement(ActivityType::Meeting) => "meeting_event",
            Object::Engagement(ActivityType::Note) => "note",
            Object::Engagement(ActivityType::Task) => "task",
        }
    }

    /// Every property the mock knows for this type, in the order they are written.
    pub fn properties(self) -> &'static [&'static str] {
        match self {
            Object::Companies => &[
                "createdate",
                "domain",
                "hs_lastmodifieddate",
                "hs_object_id",
                "hubspot_owner_id",
                "industry",
                "name",
            ],
            Object::Contacts => &[
                "associatedcompanyid",
                "createdate",
                "email",
                "firstname",
                "hs_object_id",
                "hubspot_owner_id",
                "jobtitle",
                "lastmodifieddate",
                "lastname",
                "phone",
            ],
            Object::Deals => &[
                "amount",
                "closedate",
                "createdate",
                "deal_currency_code",
                "dealname",
                "dealstage",
                "hs_is_closed",
                "hs_is_closed_won",
                "hs_lastmodifieddate",
                "hs_next_step",
                "hs_object_id",
                "hubspot_owner_id",
                "pipeline",
            ],
            Object::Engagement(ActivityType::Call) => &[
                "hs_call_body",
                "hs_call_direction",
                "hs_call_disposition",
                "hs_call_duration",
                "hs_call_status",
                "hs_call_title",
                "hs_createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
                "hs_timestamp",
                "hubspot_owner_id",
            ],
            Object::Engagement(ActivityType::Email) => &[
                "hs_createdate",
                "hs_email_direction",
                "hs_email_status",
                "hs_email_subject",
                "hs_email_text",
                "hs_lastmodifieddate",
                "hs_object_id",
                "hs_timestamp",
                "hubspot_owner_id",
            ],
            Object::Engagement(ActivityType::Meeting) => &[
                "hs_createdate",
                "hs_lastmodifieddate",
                "hs_meeting_body",
                "hs_meeting_end_time",
                "hs_meeting_outcome",
                "hs_meeting_start_time",
                "hs_meeting_title",
                "hs_object_id",
                "hs_timestamp",
                "hubspot_owner_id",
            ],
            Object::Engagement(ActivityType::Note) => &[
                "hs_createdate",
                "hs_lastmodifieddate",
                "hs_note_body",
                "hs_object_id",
                "hs_timestamp",
                "hubspot_owner_id",
            ],
            Object::Engagement(ActivityType::Task) => &[
                "hs_createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
                "hs_task_body",
                "hs_task_priority",
                "hs_task_status",
                "hs_task_subject",
                "hs_timestamp",
                "hubspot_owner_id",
            ],
        }
    }

    /// Returned when no `properties` are asked for (besides the always-returned ones).
    fn default_properties(self) -> &'static [&'static str] {
        match self {
            Object::Companies => &["name", "domain"],
            Object::Contacts => &["firstname", "lastname", "email"],
            Object::Deals => &["dealname", "amount", "closedate", "pipeline", "dealstage"],
            Object::Engagement(_) => &["hs_timestamp"],
        }
    }

    /// Which of [`Object::properties`] a request gets: those it names (or the defaults)
    /// plus creation date, modification date and `hs_object_id`, always.
    pub fn wanted(self, asked: &[String]) -> Vec<bool> {
        self.properties()
            .iter()
            .map(|p| {
                matches!(*p, "createdate" | "hs_createdate" | "hs_object_id")
                    || *p == self.modified_property()
                    || if asked.is_empty() {
                        self.default_properties().contains(p)
                    } else {
                        asked.iter().any(|a| a == p)
                    }
            })
            .collect()
    }
}

/// Append `s` as a JSON string.
pub(crate) fn esc(out: &mut String, s: &str) {
    out.push('"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
    } else {
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

/// Writes a `properties` object in [`Object::properties`] order, skipping unwanted ones.
struct Props<'a> {
    out: &'a mut String,
    names: &'static [&'static str],
    wanted: &'a [bool],
    i: usize,
    first: bool,
}

impl<'a> Props<'a> {
    fn new(out: &'a mut String, obj: Object, wanted: &'a [bool]) -> Self {
        out.push_str("\"properties\":{");
        Self {
            out,
            names: obj.properties(),
            wanted,
            i: 0,
            first: true,
        }
    }

    fn next(&mut self, value: Option<&str>) {
        if self.wanted.get(self.i).copied().unwrap_or(false)
            && let Some(name) = self.names.get(self.i)
        {
            if !self.first {
                self.out.push(',');
            }
            self.first = false;
            esc(self.out, name);
            self.out.push(':');
            match value {
                Some(v) => esc(self.out, v),
                None => self.out.push_str("null"),
            }
        }
        self.i += 1;
    }

    fn end(self) {
        debug_assert_eq!(self.i, self.names.len(), "properties written out of order");
        self.out.push('}');
    }
}

/// Which associations a list request asked for.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Associations {
    pub companies: bool,
    pub contacts: bool,
    pub deals: bool,
}

impl Associations {
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
    fn time(&self, ms: i64) -> String {
        rfc3339_ms(self.shared.clock(ms))
    }

    fn id(&self, kind: ObjectKind, idx: u64) -> String {
        numeric_id(kind, idx).to_string()
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
            v.iter().map(|i| ctx.id(kind, *i)).collect()
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
            p.next(Some(&ctx.time(c.meta.created_ms)));
            p.next(Some(&c.domain));
            p.next(Some(&ctx.time(c.meta.updated_ms)));
            p.next(Some(&id));
            p.next(Some(&ctx.id(ObjectKind::Owner, c.owner)));
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
            p.next(company.as_deref());
            p.next(Some(&ctx.time(c.meta.created_ms)));
            p.next(Some(&c.email));
            p.next(Some(&c.first_name));
            p.next(Some(&id));
            p.next(Some(&ctx.id(ObjectKind::Owner, c.owner)));
            p.next(Some(c.title));
            p.next(Some(&ctx.time(c.meta.updated_ms)));
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
                Some(ms) => ctx.time(ms),
                None => format!("{}T00:00:00Z", d.close_date),
            };
            p.next(Some(&d.amount.to_string()));
            p.next(Some(&close));
            p.next(Some(&ctx.time(d.meta.created_ms)));
            p.next(Some(d.currency));
            p.next(Some(&d.name));
            p.next(Some(&stage_id(d.pipeline, d.stage)));
            p.next(Some(if closed { "true" } else { "false" }));
            p.next(Some(if won { "true" } else { "false" }));
            p.next(Some(&ctx.time(d.meta.updated_ms)));
            p.next(d.next_step.as_deref());
            p.next(Some(&id));
            p.next(Some(&ctx.id(ObjectKind::Owner, d.owner)));
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
                    p.next(Some(&created));
                    p.next(Some(&updated));
                    p.next(Some(&id));
                    p.next(Some(&at));
                    p.next(Some(&owner));
                }
                ActivityType::Email => {
                    p.next(Some(&created));
                    p.next(Some(if a.inbound { "INCOMING_EMAIL" } else { "EMAIL" }));
                    p.next(Some("SENT"));
                    p.next(Some(&a.subject));
                    p.next(Some(&a.body));
                    p.next(Some(&updated));
                    p.next(Some(&id));
                    p.next(Some(&at));
                    p.next(Some(&owner));
                }
                ActivityType::Meeting => {
                    let end = a.occurred_ms + a.duration_secs.unwrap_or(0) as i64 * 1000;
                    p.next(Some(&created));
                    p.next(Some(&updated));
                    p.next(Some(&a.body));
                    p.next(Some(&ctx.time(end)));
                    p.next(Some("COMPLETED"));
                    p.next(Some(&at));
                    p.next(Some(&a.subject));
                    p.next(Some(&id));
                    p.next(Some(&at));
                    p.next(Some(&owner));
                }
                ActivityType::Note => {
                    p.next(Some(&created));
                    p.next(Some(&updated));
                    p.next(Some(&a.body));
                    p.next(Some(&id));
                    p.next(Some(&at));
                    p.next(Some(&owner));
                }
                ActivityType::Task => {
                    p.next(Some(&created));
                    p.next(Some(&updated));
                    p.next(Some(&id));
                    p.next(Some(&a.body));
                    p.next(Some("MEDIUM"));
                    p.next(Some(task_status(a.inbound)));
                    p.next(Some(&a.subject));
                    p.next(Some(&at));
                    p.next(Some(&owner));
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

/// Owner `idx` as `GET /crm/v3/owners` lists it.
pub(crate) fn owner(out: &mut String, world: &World, shared: &Shared, idx: u64) -> bool {
    let Some((name, email)) = world.owner(idx) else {
        return false;
    };
    let (first, last) = name.split_once(' ').unwrap_or((name.as_str(), ""));
    let meta = world.meta(ObjectKind::Owner, idx);
    out.push_str("{\"id\":");
    esc(out, &numeric_id(ObjectKind::Owner, idx).to_string());
    out.push_str(",\"email\":");
    esc(out, &email);
    out.push_str(",\"type\":\"PERSON\",\"firstName\":");
    esc(out, first);
    out.push_str(",\"lastName\":");
    esc(out, last);
    let user = 9_000_000 + idx;
    out.push_str(&format!(
        ",\"userId\":{user},\"userIdIncludingInactive\":{user},\"createdAt\":"
    ));
    esc(out, &rfc3339_ms(shared.clock(meta.created_ms)));
    out.push_str(",\"updatedAt\":");
    esc(out, &rfc3339_ms(shared.clock(meta.updated_ms)));
    out.push_str(",\"archived\":false}");
    true
}

/// Deal pipeline `idx` with its stages (probability and closed flag as strings).
pub(crate) fn pipeline(out: &mut String, world: &World, shared: &Shared, idx: usize) {
    let meta = world.meta(ObjectKind::Pipeline, idx as u64);
    let created = rfc3339_ms(shared.clock(meta.created_ms));
    let updated = rfc3339_ms(shared.clock(meta.updated_ms));
    out.push_str("{\"label\":");
    esc(
        out,
        crate::world::PIPELINES
            .get(idx)
            .copied()
            .unwrap_or("Pipeline"),
    );
    out.push_str(&format!(",\"displayOrder\":{idx},\"id\":"));
    esc(out, &pipeline_id(idx));
    out.push_str(",\"stages\":[");
    for (s, (label, probability, closed, _)) in STAGES.iter().enumerate() {
        if s > 0 {
            out.push(',');
        }
        out.push_str("{\"label\":");
        esc(out, label);
        out.push_str(&format!(
            ",\"displayOrder\":{s},\"metadata\":{{\"isClosed\":\"{closed}\",\"probability\":\"{:.1}\"}},\"id\":",
            f64::from(*probability) / 100.0
        ));
        esc(out, &stage_id(idx, s));
        out.push_str(",\"createdAt\":");
        esc(out, &created);
        out.push_str(",\"updatedAt\":");
        esc(out, &updated);
        out.push_str(",\"archived\":false}");
    }
    out.push_str("],\"createdAt\":");
    esc(out, &created);
    out.push_str(",\"updatedAt\":");
    esc(out, &updated);
    out.push_str(",\"archived\":false}");
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

    #[test]
    fn default_properties_are_few() {
        let w = Object::Deals.wanted(&[]);
        let names: Vec<&str> = Object::Deals
            .properties()
            .iter()
            .zip(w)
            .filter(|(_, w)| *w)
            .map(|(n, _)| *n)
            .collect();
        assert!(names.contains(&"dealname") && names.contains(&"hs_object_id"));
        assert!(!names.contains(&"hubspot_owner_id"));
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        esc(&mut out, "a\"b\\c\nd\u{1}");
        assert_eq!(out, r#""a\"b\\c\nd\u0001""#);
        let back: String = serde_json::from_str(&out).expect("json");
        assert_eq!(back, "a\"b\\c\nd\u{1}");
    }
}
