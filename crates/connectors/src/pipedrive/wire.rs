//! Pipedrive's payloads as typed, borrowing structs, and their mapping into the
//! canonical model.
//!
//! Pages are parsed once into `Vec<&RawValue>` (no copy of the body), then each record
//! into a struct whose text fields borrow from the page. Every field is lenient (see
//! [`super::lenient`]): a field of an unexpected type reads as absent rather than
//! failing the record, so only a record that is not a JSON object at all, or has no
//! id, becomes a [`Skip`].

use domain::crm::{
    Activity, ActivityType, Amount, Company, Contact, Deal, Owner, Pipeline, Record, RecordData,
    Stage, StageChange, clean_text, currency_code, email_key,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::convert::{date, due_secs, duration_secs, html_to_text, parse_time_ms};
use super::lenient::{Channels, Flag, Id, Num, Text};
use crate::Skip;

/// Caps on free text (characters).
const NAME_MAX: usize = 300;
const SUBJECT_MAX: usize = 500;
const BODY_MAX: usize = 20_000;

/// Skip reasons (short and stable; no record contents).
pub(super) const MALFORMED: &str = "malformed record";
pub(super) const NO_ID: &str = "missing id";

/// A v2 list page: `{"success":…,"data":[…],"additional_data":{"next_cursor":…}}`.
#[derive(Debug, Deserialize)]
pub(super) struct V2Page<'a> {
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(borrow, default)]
    pub data: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    pub additional_data: Option<V2Extra>,
}

/// `additional_data` of a v2 page.
#[derive(Debug, Default, Deserialize)]
pub(super) struct V2Extra {
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// A v1 list page: `{"success":…,"data":[…]|null,"additional_data":{"pagination":…}}`.
#[derive(Debug, Deserialize)]
pub(super) struct V1Page<'a> {
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(borrow, default)]
    pub data: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    pub additional_data: Option<V1Extra>,
}

/// `additional_data` of a v1 page.
#[derive(Debug, Default, Deserialize)]
pub(super) struct V1Extra {
    #[serde(default)]
    pub pagination: Option<Pagination>,
}

/// v1 offset pagination.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Pagination {
    #[serde(default)]
    pub more_items_in_collection: Flag,
    #[serde(default)]
    pub next_start: Id,
}

/// `GET /v1/users` entry.
#[derive(Debug, Deserialize)]
pub(super) struct UserWire<'a> {
    #[serde(default)]
    id: Id,
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(borrow, default)]
    email: Text<'a>,
    #[serde(default)]
    active_flag: Flag,
    #[serde(default)]
    is_deleted: Flag,
    #[serde(borrow, default)]
    modified: Text<'a>,
    #[serde(borrow, default)]
    created: Text<'a>,
}

/// `GET /api/v2/pipelines` entry.
#[derive(Debug, Deserialize)]
pub(super) struct PipelineWire<'a> {
    #[serde(default)]
    pub id: Id,
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(default)]
    order_nr: Num,
    #[serde(default)]
    pub is_deleted: Flag,
    #[serde(borrow, default)]
    add_time: Text<'a>,
    #[serde(borrow, default)]
    update_time: Text<'a>,
}

/// `GET /api/v2/stages` entry.
#[derive(Debug, Deserialize)]
pub(super) struct StageWire<'a> {
    #[serde(default)]
    pub id: Id,
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(default)]
    order_nr: Num,
    #[serde(default)]
    deal_probability: Num,
    #[serde(default)]
    pub pipeline_id: Id,
    #[serde(default)]
    pub is_deleted: Flag,
    #[serde(borrow, default)]
    add_time: Text<'a>,
    #[serde(borrow, default)]
    update_time: Text<'a>,
}

/// `GET /api/v2/organizations` entry.
#[derive(Debug, Deserialize)]
struct OrgWire<'a> {
    #[serde(default)]
    id: Id,
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(default)]
    owner_id: Id,
    #[serde(default)]
    is_deleted: Flag,
    #[serde(borrow, default)]
    add_time: Text<'a>,
    #[serde(borrow, default)]
    update_time: Text<'a>,
}

/// `GET /api/v2/persons` entry.
#[derive(Debug, Deserialize)]
struct PersonWire<'a> {
    #[serde(default)]
    id: Id,
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(borrow, default)]
    first_name: Text<'a>,
    #[serde(borrow, default)]
    last_name: Text<'a>,
    #[serde(default)]
    owner_id: Id,
    #[serde(default)]
    org_id: Id,
    #[serde(borrow, default)]
    emails: Channels<'a>,
    #[serde(borrow, default)]
    phones: Channels<'a>,
    #[serde(borrow, default)]
    job_title: Text<'a>,
    #[serde(default)]
    is_deleted: Flag,
    #[serde(borrow, default)]
    add_time: Text<'a>,
    #[serde(borrow, default)]
    update_time: Text<'a>,
}

/// `GET /api/v2/deals` entry.
#[derive(Debug, Deserialize)]
struct DealWire<'a> {
    #[serde(default)]
    id: Id,
    #[serde(borrow, default)]
    title: Text<'a>,
    #[serde(default)]
    owner_id: Id,
    #[serde(default)]
    person_id: Id,
    #[serde(default)]
    org_id: Id,
    #[serde(default)]
    pipeline_id: Id,
    #[serde(default)]
    stage_id: Id,
    #[serde(default)]
    value: Option<serde_json::Value>,
    #[serde(borrow, default)]
    currency: Text<'a>,
    #[serde(borrow, default)]
    status: Text<'a>,
    #[serde(default)]
    is_deleted: Flag,
    #[serde(default)]
    is_archived: Flag,
    #[serde(borrow, default)]
    expected_close_date: Text<'a>,
    #[serde(borrow, default)]
    add_time: Text<'a>,
    #[serde(borrow, default)]
    update_time: Text<'a>,
    #[serde(borrow, default)]
    stage_change_time: Text<'a>,
    #[serde(borrow, default)]
    close_time: Text<'a>,
    #[serde(borrow, default)]
    won_time: Text<'a>,
    #[serde(borrow, default)]
    lost_time: Text<'a>,
}

/// `GET /api/v2/activities` entry.
#[derive(Debug, Deserialize)]
struct ActivityWire<'a> {
    #[serde(default)]
    id: Id,
    #[serde(borrow, default)]
    subject: Text<'a>,
    #[serde(borrow, default, rename = "type")]
    kind: Text<'a>,
    #[serde(default)]
    owner_id: Id,
    #[serde(default)]
    user_id: Id,
    #[serde(default)]
    deal_id: Id,
    #[serde(default)]
    person_id: Id,
    #[serde(default)]
    org_id: Id,
    #[serde(borrow, default)]
    due_date: Text<'a>,
    #[serde(borrow, default)]
    due_time: Text<'a>,
    #[serde(borrow, default)]
    duration: Text<'a>,
    #[serde(borrow, default)]
    note: Text<'a>,
    #[serde(borrow, default)]
    public_description: Text<'a>,
    #[serde(default)]
    is_deleted: Flag,
    #[serde(borrow, default)]
    add_time: Text<'a>,
    #[serde(borrow, default)]
    update_time: Text<'a>,
}

/// `GET /v1/notes` entry.
#[derive(Debug, Deserialize)]
struct NoteWire<'a> {
    #[serde(default)]
    id: Id,
    #[serde(default)]
    user_id: Id,
    #[serde(default)]
    deal_id: Id,
    #[serde(default)]
    person_id: Id,
    #[serde(default)]
    org_id: Id,
    #[serde(borrow, default)]
    content: Text<'a>,
    #[serde(default)]
    active_flag: Flag,
    #[serde(borrow, default)]
    add_time: Text<'a>,
    #[serde(borrow, default)]
    update_time: Text<'a>,
}

/// What one provider record becomes.
// Upserts are the common case by far (as in `Change`): boxing them would cost an
// allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(super) enum Mapped {
    Upsert(Record),
    Delete(String),
    Skip(Skip),
}

fn skip(id: Option<String>, reason: &str) -> Mapped {
    Mapped::Skip(Skip {
        external_id: id,
        reason: reason.to_owned(),
    })
}

fn id_string(id: Id) -> Option<String> {
    id.0.map(|i| i.to_string())
}

/// A record as `T`, if it is a JSON object (serde would also take an array, by position).
fn object<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Result<T, ()> {
    if !raw.get().trim_start().starts_with('{') {
        return Err(());
    }
    serde_json::from_str(raw.get()).map_err(|_| ())
}

/// The id of a record that failed to parse, if it has a readable one.
fn salvage_id(raw: &RawValue) -> Option<u64> {
    #[derive(Deserialize)]
    struct Bare {
        #[serde(default)]
        id: Id,
    }
    object::<Bare>(raw).ok()?.id.0
}

fn record(external_id: String, updated_at_ms: i64, data: RecordData, raw: &RawValue) -> Mapped {
    Mapped::Upsert(Record {
        external_id,
        updated_at_ms,
        data,
        raw: raw.to_owned(),
    })
}

/// The modification time: `update_time`, else `add_time`, else 0.
fn modified_ms(update: &Text, add: &Text) -> i64 {
    update
        .get()
        .and_then(parse_time_ms)
        .or_else(|| add.get().and_then(parse_time_ms))
        .unwrap_or(0)
}

fn secs(t: &Text) -> Option<i64> {
    t.get()
        .and_then(parse_time_ms)
        .map(|ms| ms.div_euclid(1000))
}

/// A v1 user as an owner (deleted and deactivated users stay, inactive).
pub(super) fn owner(raw: &RawValue) -> Mapped {
    let Ok(u) = object::<UserWire>(raw) else {
        return skip(salvage_id(raw).map(|i| i.to_string()), MALFORMED);
    };
    let Some(id) = id_string(u.id) else {
        return skip(None, NO_ID);
    };
    let data = RecordData::Owner(Owner {
        email: email_key(u.email.get()),
        name: clean_text(u.name.get(), NAME_MAX).unwrap_or_default(),
        active: u.active_flag.0.unwrap_or(true) && !u.is_deleted.is(),
    });
    record(id, modified_ms(&u.modified, &u.created), data, raw)
}

/// Pipelines with their stages (stages of other or deleted pipelines are dropped).
/// Returns the mapped pipelines and the skips among pipelines and stages.
pub(super) fn pipelines(
    pipelines: &[Box<RawValue>],
    stages: &[Box<RawValue>],
) -> (Vec<Record>, Vec<Skip>) {
    let mut skipped = Vec::new();
    let mut parsed_stages: Vec<(u64, f64, u64, Stage, i64)> = Vec::new();
    for raw in stages {
        let Ok(s) = object::<StageWire>(raw) else {
            skipped.push(Skip {
                external_id: salvage_id(raw).map(|i| format!("stage:{i}")),
                reason: MALFORMED.into(),
            });
            continue;
        };
        let (Some(id), Some(pipeline)) = (s.id.0, s.pipeline_id.0) else {
            skipped.push(Skip {
                external_id: s.id.0.map(|i| format!("stage:{i}")),
                reason: NO_ID.into(),
            });
            continue;
        };
        if s.is_deleted.is() {
            continue;
        }
        let order = s.order_nr.0.unwrap_or(0.0);
        let stage = Stage {
            external_id: id.to_string(),
            label: clean_text(s.name.get(), NAME_MAX).unwrap_or_default(),
            display_order: order as i64,
            probability: s.deal_probability.0.filter(|p| (0.0..=100.0).contains(p)),
            // Pipedrive stages are all open: a deal's own status says won or lost.
            is_closed: false,
            is_won: false,
        };
        parsed_stages.push((
            pipeline,
            order,
            id,
            stage,
            modified_ms(&s.update_time, &s.add_time),
        ));
    }
    parsed_stages.sort_by(|a, b| {
        (a.0, a.1, a.2)
            .partial_cmp(&(b.0, b.1, b.2))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut out = Vec::new();
    for raw in pipelines {
        let Ok(p) = object::<PipelineWire>(raw) else {
            skipped.push(Skip {
                external_id: salvage_id(raw).map(|i| i.to_string()),
                reason: MALFORMED.into(),
            });
            continue;
        };
        let Some(id) = p.id.0 else {
            skipped.push(Skip {
                external_id: None,
                reason: NO_ID.into(),
            });
            continue;
        };
        if p.is_deleted.is() {
            continue;
        }
        let mut updated = modified_ms(&p.update_time, &p.add_time);
        let mut stages = Vec::new();
        for (pipeline, _, _, stage, ms) in &parsed_stages {
            if *pipeline == id {
                updated = updated.max(*ms);
                stages.push(stage.clone());
            }
        }
        let data = RecordData::Pipeline(Pipeline {
            label: clean_text(p.name.get(), NAME_MAX).unwrap_or_default(),
            display_order: p.order_nr.0.unwrap_or(0.0) as i64,
            stages,
        });
        out.push(Record {
            external_id: id.to_string(),
            updated_at_ms: updated,
            data,
            raw: raw.clone(),
        });
    }
    (out, skipped)
}

/// The v2 listings mapped record by record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum V2Kind {
    Organizations,
    Persons,
    Deals,
    /// `GET /api/v2/deals/archived`: every row is a deal gone from the active list.
    ArchivedDeals,
    Activities,
}

/// Map one v2 record; `saw` gets its modification time (deletions included).
pub(super) fn v2_record(kind: V2Kind, raw: &RawValue, saw: &mut impl FnMut(i64)) -> Mapped {
    match kind {
        V2Kind::Organizations => organization(raw, saw),
        V2Kind::Persons => person(raw, saw),
        V2Kind::Deals => deal(raw, saw).0,
        V2Kind::ArchivedDeals => archived_deal(raw, saw),
        V2Kind::Activities => activity(raw, saw),
    }
}

fn organization(raw: &RawValue, saw: &mut impl FnMut(i64)) -> Mapped {
    let Ok(o) = object::<OrgWire>(raw) else {
        return skip(salvage_id(raw).map(|i| i.to_string()), MALFORMED);
    };
    let Some(id) = id_string(o.id) else {
        return skip(None, NO_ID);
    };
    let updated = modified_ms(&o.update_time, &o.add_time);
    saw(updated);
    if o.is_deleted.is() {
        return Mapped::Delete(id);
    }
    let data = RecordData::Company(Company {
        name: clean_text(o.name.get(), NAME_MAX).unwrap_or_default(),
        // Website, domain and industry are custom fields in Pipedrive.
        domain: None,
        industry: None,
        owner: id_string(o.owner_id),
    });
    record(id, updated, data, raw)
}

fn person(raw: &RawValue, saw: &mut impl FnMut(i64)) -> Mapped {
    let Ok(p) = object::<PersonWire>(raw) else {
        return skip(salvage_id(raw).map(|i| i.to_string()), MALFORMED);
    };
    let Some(id) = id_string(p.id) else {
        return skip(None, NO_ID);
    };
    let updated = modified_ms(&p.update_time, &p.add_time);
    saw(updated);
    if p.is_deleted.is() {
        return Mapped::Delete(id);
    }
    let name = clean_text(p.name.get(), NAME_MAX).or_else(|| {
        let joined = [p.first_name.get(), p.last_name.get()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        clean_text(Some(&joined), NAME_MAX)
    });
    let data = RecordData::Contact(Contact {
        name: name.unwrap_or_default(),
        email: clean_text(p.emails.0.as_deref(), 320),
        phone: clean_text(p.phones.0.as_deref(), 100),
        title: clean_text(p.job_title.get(), NAME_MAX),
        owner: id_string(p.owner_id),
        company: id_string(p.org_id),
    });
    record(id, updated, data, raw)
}

/// A v2 deal, and its Pipedrive id and `stage_change_time` (epoch s) when it changed
/// stage since it was added (its history then comes from its flow, see
/// [`super::flow`]; until then it holds only the stage it entered at
/// `stage_change_time`).
pub(super) fn deal(raw: &RawValue, saw: &mut impl FnMut(i64)) -> (Mapped, Option<(u64, i64)>) {
    let Ok(d) = object::<DealWire>(raw) else {
        return (
            skip(salvage_id(raw).map(|i| i.to_string()), MALFORMED),
            None,
        );
    };
    let Some(id) = id_string(d.id) else {
        return (skip(None, NO_ID), None);
    };
    let updated = modified_ms(&d.update_time, &d.add_time);
    saw(updated);
    let status = d.status.get().map(str::trim);
    // Deleted and archived deals leave the mirror (archived ones are listed apart).
    if d.is_deleted.is() || d.is_archived.is() || status == Some("deleted") {
        return (Mapped::Delete(id), None);
    }
    // An absurd or unreadable amount keeps the deal, without an amount.
    let amount = d
        .value
        .as_ref()
        .and_then(|v| Amount::from_json(v).ok())
        .flatten();
    let (is_closed, is_won) = match status {
        Some("open") => (Some(false), Some(false)),
        Some("won") => (Some(true), Some(true)),
        Some("lost") => (Some(true), Some(false)),
        _ => (None, None),
    };
    let closed_at = secs(&d.close_time)
        .or_else(|| secs(&d.won_time))
        .or_else(|| secs(&d.lost_time))
        .filter(|_| is_closed == Some(true));
    let stage = id_string(d.stage_id);
    let created_at = secs(&d.add_time);
    let moved_at = secs(&d.stage_change_time);
    let stage_history = stage
        .clone()
        .zip(moved_at.or(created_at))
        .map(|(stage, at)| StageChange { stage, at })
        .into_iter()
        .collect();
    let data = RecordData::Deal(Deal {
        name: clean_text(d.title.get(), NAME_MAX).unwrap_or_default(),
        amount,
        currency: currency_code(d.currency.get()),
        pipeline: id_string(d.pipeline_id),
        stage,
        close_date: d
            .expected_close_date
            .get()
            .and_then(date)
            .map(str::to_owned),
        owner: id_string(d.owner_id),
        created_at,
        closed_at,
        is_closed,
        is_won,
        next_step: None,
        forecast_category: None,
        contacts: id_string(d.person_id).into_iter().collect(),
        company: id_string(d.org_id),
        stage_history,
        stage_history_kept: false,
    });
    (record(id, updated, data, raw), d.id.0.zip(moved_at))
}

/// A row of the archived deals listing: a deletion from the mirror.
fn archived_deal(raw: &RawValue, saw: &mut impl FnMut(i64)) -> Mapped {
    #[derive(Deserialize)]
    struct Archived<'a> {
        #[serde(default)]
        id: Id,
        #[serde(borrow, default)]
        add_time: Text<'a>,
        #[serde(borrow, default)]
        update_time: Text<'a>,
    }
    let Ok(d) = object::<Archived>(raw) else {
        return skip(salvage_id(raw).map(|i| i.to_string()), MALFORMED);
    };
    let Some(id) = id_string(d.id) else {
        return skip(None, NO_ID);
    };
    saw(modified_ms(&d.update_time, &d.add_time));
    Mapped::Delete(id)
}

/// Pipedrive's activity type keys (`call`, `meeting`, `task`, `deadline`, `email`,
/// `lunch`, and company-defined ones) in the canonical five.
pub(super) fn activity_type(key: Option<&str>) -> ActivityType {
    let key = key.unwrap_or_default().trim();
    let is = |k: &str| key.eq_ignore_ascii_case(k);
    if is("call") {
        ActivityType::Call
    } else if is("meeting") || is("lunch") {
        ActivityType::Meeting
    } else if is("email") {
        ActivityType::Email
    } else {
        ActivityType::Task
    }
}

fn activity(raw: &RawValue, saw: &mut impl FnMut(i64)) -> Mapped {
    let Ok(a) = object::<ActivityWire>(raw) else {
        return skip(salvage_id(raw).map(|i| format!("activity:{i}")), MALFORMED);
    };
    let Some(id) = a.id.0.map(|i| format!("activity:{i}")) else {
        return skip(None, NO_ID);
    };
    let updated = modified_ms(&a.update_time, &a.add_time);
    saw(updated);
    if a.is_deleted.is() {
        return Mapped::Delete(id);
    }
    let occurred_at = a
        .due_date
        .get()
        .and_then(|d| due_secs(d, a.due_time.get()))
        .or_else(|| secs(&a.add_time));
    let body = a.note.get().map(html_to_text);
    let body = clean_text(body.as_deref(), BODY_MAX)
        .or_else(|| clean_text(a.public_description.get(), BODY_MAX));
    let data = RecordData::Activity(Activity {
        activity_type: activity_type(a.kind.get()),
        direction: None,
        occurred_at,
        owner: id_string(if a.owner_id.0.is_some() {
            a.owner_id
        } else {
            a.user_id
        }),
        duration_secs: a.duration.get().and_then(duration_secs),
        outcome: None,
        subject: clean_text(a.subject.get(), SUBJECT_MAX),
        body,
        deal: id_string(a.deal_id),
        contact: id_string(a.person_id),
        company: id_string(a.org_id),
    });
    record(id, updated, data, raw)
}

/// The sort key of a note in a listing sorted by id (`(0, id)`) or by update time
/// (`(update second, id)`), and its mapping.
pub(super) fn note(
    raw: &RawValue,
    by_time: bool,
    saw: &mut impl FnMut(i64),
) -> (Option<(i64, u64)>, Mapped) {
    let Ok(n) = object::<NoteWire>(raw) else {
        let id = salvage_id(raw);
        return (
            id.filter(|_| !by_time).map(|i| (0, i)),
            skip(id.map(|i| format!("note:{i}")), MALFORMED),
        );
    };
    let Some(raw_id) = n.id.0 else {
        return (None, skip(None, NO_ID));
    };
    let updated = modified_ms(&n.update_time, &n.add_time);
    let key = if by_time {
        (updated.div_euclid(1000), raw_id)
    } else {
        (0, raw_id)
    };
    let id = format!("note:{raw_id}");
    saw(updated);
    if n.active_flag.0 == Some(false) {
        return (Some(key), Mapped::Delete(id));
    }
    let body = n.content.get().map(html_to_text);
    let data = RecordData::Activity(Activity {
        activity_type: ActivityType::Note,
        direction: None,
        occurred_at: secs(&n.add_time),
        owner: id_string(n.user_id),
        duration_secs: None,
        outcome: None,
        subject: None,
        body: clean_text(body.as_deref(), BODY_MAX),
        deal: id_string(n.deal_id),
        contact: id_string(n.person_id),
        company: id_string(n.org_id),
    });
    (Some(key), record(id, updated, data, raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).expect("json")
    }

    #[test]
    fn lenient_fields() {
        let d: DealWire = serde_json::from_str(
            r#"{"id":"12","title":7,"owner_id":{"id":3,"name":"x","value":3},"person_id":null,"org_id":[1],"value":"12.5","is_deleted":0,"status":"won"}"#,
        )
        .expect("lenient");
        assert_eq!(d.id, Id(Some(12)));
        assert_eq!(d.title, Text(None));
        assert_eq!(d.owner_id, Id(Some(3)));
        assert_eq!(d.org_id, Id(None));
        assert_eq!(d.is_deleted, Flag(Some(false)));
        let p: PersonWire = serde_json::from_str(
            r#"{"id":1,"emails":[{"value":"","primary":true},{"value":"b@x.io","primary":false},{"value":"c@x.io","primary":true}],"phones":"555"}"#,
        )
        .expect("lenient");
        assert_eq!(p.emails.0.as_deref(), Some("c@x.io"));
        assert_eq!(p.phones.0.as_deref(), Some("555"));
    }

    #[test]
    fn bad_records_are_skipped_not_fatal() {
        let mut saw = |_| {};
        for (json, reason) in [
            ("[1,2]", MALFORMED),
            ("\"x\"", MALFORMED),
            ("{}", NO_ID),
            ("{\"id\":-3}", NO_ID),
        ] {
            match deal(&raw(json), &mut saw).0 {
                Mapped::Skip(s) => assert_eq!(s.reason, reason, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
    }

    #[test]
    fn deals_map_status_amount_and_links() {
        let mut seen = Vec::new();
        let r = raw(
            r#"{"id":42,"title":" ACME renewal ","owner_id":7,"person_id":901,"org_id":55,"pipeline_id":1,"stage_id":3,"value":1e300,"currency":"usd","status":"lost","add_time":"2025-04-01T09:00:00Z","update_time":"2025-05-01T10:12:13Z","close_time":"2025-05-01T10:00:00Z","expected_close_date":"2025-06-30"}"#,
        );
        let (Mapped::Upsert(rec), None) = deal(&r, &mut |ms| seen.push(ms)) else {
            panic!("not an upsert")
        };
        assert_eq!(seen, vec![1_746_094_333_000]);
        assert_eq!(rec.external_id, "42");
        let RecordData::Deal(d) = rec.data else {
            panic!("not a deal")
        };
        assert_eq!(d.name, "ACME renewal");
        assert_eq!(d.amount, None, "absurd amounts are dropped, the deal kept");
        assert_eq!(d.currency.as_deref(), Some("USD"));
        assert_eq!((d.is_closed, d.is_won), (Some(true), Some(false)));
        assert_eq!(d.closed_at, Some(1_746_093_600));
        assert_eq!(d.contacts, vec!["901".to_owned()]);
        assert_eq!(d.close_date.as_deref(), Some("2025-06-30"));
        // Never moved (no stage_change_time): in its stage since it was added, and no
        // flow to read. Moved: the stage it entered then, until its flow is read.
        let history = |d: &Deal| -> Vec<(String, i64)> {
            d.stage_history
                .iter()
                .map(|c| (c.stage.clone(), c.at))
                .collect()
        };
        assert_eq!(history(&d), vec![("3".to_owned(), 1_743_498_000)]);
        let moved = raw(
            r#"{"id":46,"stage_id":"5","status":"open","add_time":"2025-04-01T09:00:00Z","stage_change_time":"2025-04-20T15:30:00Z"}"#,
        );
        let (Mapped::Upsert(rec), Some((46, 1_745_163_000))) = deal(&moved, &mut |_| {}) else {
            panic!("a moved deal")
        };
        let RecordData::Deal(d) = rec.data else {
            panic!("not a deal")
        };
        assert_eq!(history(&d), vec![("5".to_owned(), 1_745_163_000)]);
        let gone = raw(r#"{"id":43,"status":"deleted","update_time":"2025-05-01T10:12:13Z"}"#);
        assert!(matches!(deal(&gone, &mut |_| {}).0, Mapped::Delete(id) if id == "43"));
        let archived = raw(r#"{"id":44,"status":"won","is_archived":true}"#);
        assert!(matches!(deal(&archived, &mut |_| {}).0, Mapped::Delete(id) if id == "44"));
        let mut seen = Vec::new();
        let listed = raw(r#"{"id":45,"title":"x","update_time":"2025-05-01T10:12:13Z"}"#);
        let mapped = v2_record(V2Kind::ArchivedDeals, &listed, &mut |ms| seen.push(ms));
        assert!(matches!(mapped, Mapped::Delete(id) if id == "45"));
        assert_eq!(seen, vec![1_746_094_333_000]);
    }

    #[test]
    fn activity_types() {
        assert_eq!(activity_type(Some("CALL")), ActivityType::Call);
        assert_eq!(activity_type(Some("lunch")), ActivityType::Meeting);
        assert_eq!(activity_type(Some("deadline")), ActivityType::Task);
        assert_eq!(activity_type(Some("custom_demo")), ActivityType::Task);
        assert_eq!(activity_type(None), ActivityType::Task);
    }

    #[test]
    fn nothing_panics_on_garbage() {
        // Objects built from real field names and values of every JSON type, plus
        // near-miss strings, fed to every mapper.
        let keys = [
            "id",
            "name",
            "title",
            "owner_id",
            "person_id",
            "org_id",
            "pipeline_id",
            "stage_id",
            "value",
            "currency",
            "status",
            "is_deleted",
            "active_flag",
            "emails",
            "phones",
            "add_time",
            "update_time",
            "close_time",
            "won_time",
            "expected_close_date",
            "type",
            "due_date",
            "due_time",
            "duration",
            "note",
            "content",
            "order_nr",
            "deal_probability",
            "email",
            "modified",
            "user_id",
            "subject",
        ];
        let values = [
            "null",
            "true",
            "0",
            "-1",
            "7",
            "1e999",
            "-0.0",
            "18446744073709551616",
            "12.5",
            "\"\"",
            "\"x\"",
            "\"deleted\"",
            "\"won\"",
            "\"2025-02-29\"",
            "\"2024-02-29\"",
            "\"9999-12-31T23:59:60+23:59\"",
            "\"2025-05-01 10:12:13\"",
            "\"99:99\"",
            "\"23:59:59\"",
            "\"<p>&#xFFFFFFFF;&amp\"",
            "\"<\"",
            "\"\\u0000é\"",
            "[]",
            "[null,{}]",
            "[{\"value\":1,\"primary\":\"yes\"}]",
            "{\"value\":{\"id\":[]}}",
            "{}",
        ];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let fields = next() % 10;
            let body: Vec<String> = (0..fields)
                .map(|_| {
                    let k = keys[(next() % keys.len() as u64) as usize];
                    let v = values[(next() % values.len() as u64) as usize];
                    format!("\"{k}\":{v}")
                })
                .collect();
            let json = format!("{{{}}}", body.join(","));
            let Ok(r) = RawValue::from_string(json) else {
                continue;
            };
            for kind in [
                V2Kind::Organizations,
                V2Kind::Persons,
                V2Kind::Deals,
                V2Kind::ArchivedDeals,
                V2Kind::Activities,
            ] {
                let _ = v2_record(kind, &r, &mut |_| {});
            }
            let _ = note(&r, true, &mut |_| {});
            let _ = note(&r, false, &mut |_| {});
            let _ = owner(&r);
            let _ = pipelines(std::slice::from_ref(&r), std::slice::from_ref(&r));
        }
    }
}
