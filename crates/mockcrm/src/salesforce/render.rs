//! Salesforce rows as JSON, written straight into the response buffer: `attributes`,
//! then exactly the selected fields, with Salesforce's value formats (18-character ids,
//! `2025-05-01T10:12:13.000+0000` datetimes, `YYYY-MM-DD` dates, numbers for currency).

use domain::crm::ActivityType;

use super::soql::{Field, Object};
use super::{API_VERSION, sf_id};
use crate::world::{ActivitySeed, CompanySeed, ContactSeed, DealSeed, STAGES, World};

/// Owners and stages have no modification history in the world: a fixed past time.
pub const FIXED_MS: i64 = 1_700_000_000_000;

/// Appends JSON to a byte buffer.
pub struct Json<'a>(pub &'a mut Vec<u8>);

impl Json<'_> {
    pub fn raw(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }
    /// A JSON string, escaped.
    pub fn str(&mut self, s: &str) {
        let _ = serde_json::to_writer(&mut *self.0, s);
    }
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.raw("null"),
        }
    }
    pub fn int(&mut self, n: i64) {
        self.raw(&n.to_string());
    }
    pub fn bool(&mut self, b: bool) {
        self.raw(if b { "true" } else { "false" });
    }
    /// `2025-05-01T10:12:13.000+0000`.
    pub fn datetime(&mut self, ms: i64) {
        self.0.push(b'"');
        write_datetime(self.0, ms);
        self.0.push(b'"');
    }
    pub fn date(&mut self, ms: i64) {
        let (y, m, d) = civil(ms.div_euclid(86_400_000));
        self.raw(&format!("\"{y:04}-{m:02}-{d:02}\""));
    }
}

/// Days since the epoch as (year, month, day) (Howard Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Epoch ms in Salesforce's datetime format, without quotes.
pub fn write_datetime(out: &mut Vec<u8>, ms: i64) {
    let (y, mo, d) = civil(ms.div_euclid(86_400_000));
    let in_day = ms.rem_euclid(86_400_000);
    let (h, mi, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    out.extend_from_slice(
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}+0000").as_bytes(),
    );
}

/// The row of a record: `{"attributes":{…},"Id":…,…}` with the selected fields.
pub struct Row<'a> {
    pub object: Object,
    pub id: &'a str,
    pub fields: &'a [Field],
}

impl Row<'_> {
    fn open(&self, j: &mut Json) {
        j.raw("{\"attributes\":{\"type\":\"");
        j.raw(self.object.name());
        j.raw("\",\"url\":\"/services/data/");
        j.raw(API_VERSION);
        j.raw("/sobjects/");
        j.raw(self.object.name());
        j.raw("/");
        j.raw(self.id);
        j.raw("\"}");
    }

    /// Write the row, asking `value` for each field.
    pub fn write(&self, j: &mut Json, mut value: impl FnMut(Field, &mut Json)) {
        self.open(j);
        for f in self.fields {
            j.raw(",\"");
            j.raw(f.name());
            j.raw("\":");
            value(*f, j);
        }
        j.raw("}");
    }
}

/// A deleted row as `queryAll` shows it: the id, `IsDeleted`, its deletion time; the
/// mock no longer knows the other values and sends them as null.
pub fn deleted(j: &mut Json, object: Object, fields: &[Field], id: &str, deleted_ms: i64) {
    Row { object, id, fields }.write(j, |f, j| match f {
        Field::Id => j.str(id),
        Field::IsDeleted => j.bool(true),
        Field::SystemModstamp => j.datetime(deleted_ms),
        _ => j.raw("null"),
    });
}

fn common(f: Field, j: &mut Json, created: i64, updated: i64) {
    match f {
        Field::IsDeleted | Field::IsArchived => j.bool(false),
        Field::CreatedDate => j.datetime(created),
        Field::SystemModstamp => j.datetime(updated),
        _ => j.raw("null"),
    }
}

pub fn user(j: &mut Json, fields: &[Field], idx: u64, name: &str, email: &str) {
    let id = sf_id("005", idx);
    let (first, last) = name.split_once(' ').unwrap_or(("", name));
    let at = FIXED_MS + idx as i64 * 1000;
    Row {
        object: Object::User,
        id: &id,
        fields,
    }
    .write(j, |f, j| match f {
        Field::Id => j.str(&id),
        Field::Name => j.str(name),
        Field::FirstName => j.str(first),
        Field::LastName => j.str(last),
        Field::Email | Field::Username => j.str(email),
        Field::IsActive => j.bool(true),
        f => common(f, j, at, at),
    });
}

/// The forecast category a stage implies.
pub fn forecast(stage: usize) -> &'static str {
    match STAGES.get(stage) {
        Some((_, _, true, true)) => "Closed",
        Some((_, _, true, false)) => "Omitted",
        Some((_, p, _, _)) if *p >= 80 => "Commit",
        Some((_, p, _, _)) if *p >= 60 => "Best Case",
        _ => "Pipeline",
    }
}

pub fn stage(j: &mut Json, fields: &[Field], idx: usize) {
    let Some((label, probability, closed, won)) = STAGES.get(idx).copied() else {
        return;
    };
    let id = sf_id("01J", idx as u64);
    let at = FIXED_MS - 86_400_000 + idx as i64 * 1000;
    Row {
        object: Object::OpportunityStage,
        id: &id,
        fields,
    }
    .write(j, |f, j| match f {
        Field::Id => j.str(&id),
        Field::ApiName | Field::MasterLabel => j.str(label),
        Field::SortOrder => j.int(idx as i64 + 1),
        Field::DefaultProbability => j.int(i64::from(probability)),
        Field::IsActive => j.bool(true),
        Field::IsClosed => j.bool(closed),
        Field::IsWon => j.bool(won),
        Field::ForecastCategoryName => j.str(forecast(idx)),
        f => common(f, j, at, at),
    });
}

pub fn account(j: &mut Json, fields: &[Field], c: &CompanySeed) {
    let id = sf_id("001", c.meta.idx);
    Row {
        object: Object::Account,
        id: &id,
        fields,
    }
    .write(j, |f, j| match f {
        Field::Id => j.str(&id),
        Field::Name => j.str(&c.name),
        Field::Website => j.str(&format!("https://www.{}", c.domain)),
        Field::Industry => j.str(c.industry),
        Field::OwnerId => j.str(&sf_id("005", c.owner)),
        f => common(f, j, c.meta.created_ms, c.meta.updated_ms),
    });
}

pub fn contact(j: &mut Json, fields: &[Field], c: &ContactSeed) {
    let id = sf_id("003", c.meta.idx);
    Row {
        object: Object::Contact,
        id: &id,
        fields,
    }
    .write(j, |f, j| match f {
        Field::Id => j.str(&id),
        Field::Name => j.str(&format!("{} {}", c.first_name, c.last_name)),
        Field::FirstName => j.str(&c.first_name),
        Field::LastName => j.str(&c.last_name),
        Field::Email => j.str(&c.email),
        Field::Phone => j.str(&c.phone),
        Field::Title => j.str(c.title),
        Field::AccountId => j.opt_str(c.company.map(|i| sf_id("001", i)).as_deref()),
        Field::OwnerId => j.str(&sf_id("005", c.owner)),
        f => common(f, j, c.meta.created_ms, c.meta.updated_ms),
    });
}

pub fn opportunity(j: &mut Json, fields: &[Field], d: &DealSeed) {
    let id = sf_id("006", d.meta.idx);
    let (label, probability, closed, won) = STAGES[d.stage.min(STAGES.len() - 1)];
    Row {
        object: Object::Opportunity,
        id: &id,
        fields,
    }
    .write(j, |f, j| match f {
        Field::Id => j.str(&id),
        Field::Name => j.str(&d.name),
        Field::AccountId => j.opt_str(d.company.map(|i| sf_id("001", i)).as_deref()),
        Field::OwnerId => j.str(&sf_id("005", d.owner)),
        Field::StageName => j.str(label),
        // Currency fields are JSON numbers.
        Field::Amount => j.raw(&format!("{}.0", d.amount)),
        Field::CurrencyIsoCode => j.str(d.currency),
        Field::Probability => j.int(i64::from(probability)),
        Field::CloseDate => j.str(&d.close_date),
        Field::IsClosed => j.bool(closed),
        Field::IsWon => j.bool(won),
        Field::ForecastCategoryName => j.str(forecast(d.stage)),
        Field::NextStep => j.opt_str(d.next_step.as_deref()),
        Field::ContactRoles if d.contacts.is_empty() => j.raw("null"),
        Field::ContactRoles => children(j, d.contacts.len(), |k, j| {
            let role = sf_id("00K", d.meta.idx * 4 + k as u64);
            Row {
                object: Object::OpportunityContactRole,
                id: &role,
                fields: &[Field::ContactId],
            }
            .write(j, |_, j| j.str(&sf_id("003", d.contacts[k])));
        }),
        // One OpportunityHistory row per stage the deal entered, oldest first (the
        // subquery orders by CreatedDate).
        Field::StageHistory => children(j, d.stage_history.len(), |k, j| {
            let (stage, at) = d.stage_history[k];
            let row = sf_id("008", d.meta.idx * 8 + k as u64);
            Row {
                object: Object::OpportunityHistory,
                id: &row,
                fields: &[Field::StageName, Field::CreatedDate],
            }
            .write(j, |f, j| match f {
                Field::StageName => j.str(STAGES[stage.min(STAGES.len() - 1)].0),
                _ => j.datetime(at),
            });
        }),
        f => common(f, j, d.meta.created_ms, d.meta.updated_ms),
    });
}

/// A subquery's result: `{"totalSize":n,"done":true,"records":[…]}`, `row` writing the
/// k-th record.
fn children(j: &mut Json, n: usize, mut row: impl FnMut(usize, &mut Json)) {
    j.raw(&format!("{{\"totalSize\":{n},\"done\":true,\"records\":["));
    for k in 0..n {
        if k > 0 {
            j.raw(",");
        }
        row(k, j);
    }
    j.raw("]}");
}

/// World activity `idx` is a Salesforce Event when `idx % 5 == 4`, else a Task.
pub fn is_event(idx: u64) -> bool {
    idx % 5 == 4
}

fn task_subtype(kind: ActivityType) -> &'static str {
    match kind {
        ActivityType::Call => "Call",
        ActivityType::Email => "Email",
        _ => "Task",
    }
}

pub fn activity(j: &mut Json, fields: &[Field], a: &ActivitySeed) {
    let event = is_event(a.meta.idx);
    let (object, id) = if event {
        (Object::Event, sf_id("00U", a.meta.idx))
    } else {
        (Object::Task, sf_id("00T", a.meta.idx))
    };
    let call = a.kind == ActivityType::Call && !event;
    let minutes = a.duration_secs.map_or(30, |s| (s / 60).max(1)) as i64;
    let what = a
        .deal
        .map(|i| sf_id("006", i))
        .or_else(|| a.company.map(|i| sf_id("001", i)));
    Row {
        object,
        id: &id,
        fields,
    }
    .write(j, |f, j| match f {
        Field::Id => j.str(&id),
        Field::Subject => j.str(&a.subject),
        Field::Description => j.str(&a.body),
        Field::TaskSubtype => j.str(task_subtype(a.kind)),
        Field::EventSubtype => j.str("Event"),
        Field::Status => j.str("Completed"),
        Field::ActivityDate => j.date(a.occurred_ms),
        Field::CompletedDateTime | Field::StartDateTime => j.datetime(a.occurred_ms),
        Field::EndDateTime => j.datetime(a.occurred_ms + minutes * 60_000),
        Field::DurationInMinutes => j.int(minutes),
        Field::CallDurationInSeconds if call => match a.duration_secs {
            Some(s) => j.int(s as i64),
            None => j.raw("null"),
        },
        Field::CallDisposition if call => j.opt_str(a.outcome),
        Field::CallType if call => j.str(if a.inbound { "Inbound" } else { "Outbound" }),
        Field::WhoId => j.opt_str(a.contact.map(|i| sf_id("003", i)).as_deref()),
        Field::WhatId => j.opt_str(what.as_deref()),
        Field::AccountId => j.opt_str(a.company.map(|i| sf_id("001", i)).as_deref()),
        Field::OwnerId => j.str(&sf_id("005", a.owner)),
        f => common(f, j, a.meta.created_ms, a.meta.updated_ms),
    });
}

/// Render live record `idx` of `object`; false when it is not live (any more).
pub fn live(j: &mut Json, world: &World, object: Object, fields: &[Field], idx: u64) -> bool {
    match object {
        Object::User => match world.owner(idx) {
            Some((name, email)) => user(j, fields, idx, &name, &email),
            None => return false,
        },
        Object::OpportunityStage => stage(j, fields, idx as usize),
        Object::Account => match world.company(idx) {
            Some(c) => account(j, fields, &c),
            None => return false,
        },
        Object::Contact => match world.contact(idx) {
            Some(c) => contact(j, fields, &c),
            None => return false,
        },
        Object::Opportunity => match world.deal(idx) {
            Some(d) => opportunity(j, fields, &d),
            None => return false,
        },
        Object::Task | Object::Event => match world.activity(idx) {
            Some(a) => activity(j, fields, &a),
            None => return false,
        },
        Object::OpportunityContactRole | Object::OpportunityHistory => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_look_like_salesforces() {
        let mut out = Vec::new();
        write_datetime(&mut out, 1_746_094_333_456);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "2025-05-01T10:12:13.456+0000"
        );
        let mut out = Vec::new();
        write_datetime(&mut out, 0);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "1970-01-01T00:00:00.000+0000"
        );
        assert_eq!(civil(20_000), (2024, 10, 4));
    }
}
