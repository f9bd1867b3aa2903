//! Salesforce rows as typed structs (borrowing from the page where they can) and their
//! mapping into canonical records. Every association is kept by Salesforce id; a row
//! that cannot be mapped becomes a [`Skip`] with a short, stable reason.

use std::borrow::Cow;

use domain::crm::{
    Activity, ActivityType, Amount, Company, Contact, Deal, Direction, Owner, Record, RecordData,
    Stage, StageChange, clean_text, currency_code, email_key,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::Source;
use super::wire::{is_date, is_id, parse_date, parse_datetime};
use crate::{Change, Skip};

type Text<'a> = Option<Cow<'a, str>>;

const NAME_MAX: usize = 300;
const SUBJECT_MAX: usize = 500;
const BODY_MAX: usize = 20_000;

/// What every row carries.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Head<'a> {
    #[serde(borrow, default)]
    id: Text<'a>,
    #[serde(default)]
    is_deleted: Option<bool>,
    #[serde(borrow, default)]
    system_modstamp: Text<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UserRow<'a> {
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(borrow, default)]
    first_name: Text<'a>,
    #[serde(borrow, default)]
    last_name: Text<'a>,
    #[serde(borrow, default)]
    email: Text<'a>,
    #[serde(default)]
    is_active: Option<bool>,
}

/// An OpportunityStage row.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StageRow<'a> {
    #[serde(borrow, default)]
    api_name: Text<'a>,
    #[serde(borrow, default)]
    master_label: Text<'a>,
    #[serde(default)]
    sort_order: Option<i64>,
    #[serde(default)]
    default_probability: Option<f64>,
    #[serde(default)]
    is_closed: Option<bool>,
    #[serde(default)]
    is_won: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccountRow<'a> {
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(borrow, default)]
    website: Text<'a>,
    #[serde(borrow, default)]
    industry: Text<'a>,
    #[serde(borrow, default)]
    owner_id: Text<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContactRow<'a> {
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(borrow, default)]
    first_name: Text<'a>,
    #[serde(borrow, default)]
    last_name: Text<'a>,
    #[serde(borrow, default)]
    email: Text<'a>,
    #[serde(borrow, default)]
    phone: Text<'a>,
    #[serde(borrow, default)]
    title: Text<'a>,
    #[serde(borrow, default)]
    account_id: Text<'a>,
    #[serde(borrow, default)]
    owner_id: Text<'a>,
}

#[derive(Deserialize)]
struct Children<'a> {
    #[serde(borrow, default)]
    records: Vec<RoleRow<'a>>,
}

/// The `OpportunityHistories` subquery's result.
#[derive(Deserialize)]
struct Histories<'a> {
    #[serde(borrow, default)]
    records: Vec<HistoryRow<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoleRow<'a> {
    #[serde(borrow, default)]
    contact_id: Text<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OpportunityRow<'a> {
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(borrow, default)]
    account_id: Text<'a>,
    #[serde(borrow, default)]
    owner_id: Text<'a>,
    #[serde(borrow, default)]
    stage_name: Text<'a>,
    #[serde(default)]
    amount: serde_json::Value,
    /// Only in multi-currency orgs.
    #[serde(borrow, default)]
    currency_iso_code: Text<'a>,
    #[serde(borrow, default)]
    close_date: Text<'a>,
    #[serde(default)]
    is_closed: Option<bool>,
    #[serde(default)]
    is_won: Option<bool>,
    #[serde(borrow, default)]
    forecast_category_name: Text<'a>,
    #[serde(borrow, default)]
    next_step: Text<'a>,
    #[serde(borrow, default)]
    created_date: Text<'a>,
    #[serde(borrow, default)]
    opportunity_contact_roles: Option<Children<'a>>,
    /// The stage history (OpportunityHistory rows: one per change of stage, amount,
    /// probability or close date), oldest first.
    #[serde(borrow, default)]
    opportunity_histories: Option<Histories<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HistoryRow<'a> {
    #[serde(borrow, default)]
    stage_name: Text<'a>,
    #[serde(borrow, default)]
    created_date: Text<'a>,
}

/// Task and Event rows (each has only its own fields).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ActivityRow<'a> {
    #[serde(borrow, default)]
    subject: Text<'a>,
    #[serde(borrow, default)]
    description: Text<'a>,
    #[serde(borrow, default)]
    task_subtype: Text<'a>,
    #[serde(borrow, default)]
    activity_date: Text<'a>,
    #[serde(borrow, default)]
    completed_date_time: Text<'a>,
    #[serde(default)]
    call_duration_in_seconds: Option<i64>,
    #[serde(borrow, default)]
    call_disposition: Text<'a>,
    #[serde(borrow, default)]
    call_type: Text<'a>,
    #[serde(borrow, default)]
    start_date_time: Text<'a>,
    #[serde(borrow, default)]
    end_date_time: Text<'a>,
    #[serde(default)]
    duration_in_minutes: Option<i64>,
    #[serde(borrow, default)]
    who_id: Text<'a>,
    #[serde(borrow, default)]
    what_id: Text<'a>,
    #[serde(borrow, default)]
    account_id: Text<'a>,
    #[serde(borrow, default)]
    owner_id: Text<'a>,
    #[serde(borrow, default)]
    created_date: Text<'a>,
}

fn skip(id: Option<&str>, reason: &str) -> Skip {
    Skip {
        external_id: id.map(str::to_owned),
        reason: reason.to_owned(),
    }
}

/// A reference to a record of the object with this key prefix, if it is one.
fn reference(value: &Text, prefix: &str) -> Option<String> {
    value
        .as_deref()
        .filter(|v| is_id(v) && v.starts_with(prefix))
        .map(str::to_owned)
}

fn owner_ref(value: &Text) -> Option<String> {
    reference(value, "005")
}

fn text(value: &Text, max: usize) -> Option<String> {
    clean_text(value.as_deref(), max)
}

fn secs(value: &Text) -> Option<i64> {
    value
        .as_deref()
        .and_then(parse_datetime)
        .map(|ms| ms.div_euclid(1000))
}

fn person(name: &Text, first: &Text, last: &Text) -> Option<String> {
    text(name, NAME_MAX).or_else(|| {
        let joined = [first.as_deref(), last.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        clean_text(Some(&joined), NAME_MAX)
    })
}

/// `https://www.acme.example/path` → `acme.example`.
fn domain_of(website: &Text) -> Option<String> {
    let w = website.as_deref()?.trim();
    let w = w.split_once("://").map_or(w, |(_, rest)| rest);
    let host = w.split(['/', '?', '#']).next()?.trim_end_matches('.');
    let host = host.strip_prefix("www.").unwrap_or(host);
    (host.contains('.') && !host.contains(char::is_whitespace) && host.len() <= 253)
        .then(|| host.to_ascii_lowercase())
}

fn parse<'a, T: Deserialize<'a>>(raw: &'a RawValue, id: &str) -> Result<T, Skip> {
    serde_json::from_str(raw.get()).map_err(|_| skip(Some(id), "unexpected shape"))
}

/// Map one row of `source` into a change, with its SystemModstamp (epoch ms).
pub fn map(source: Source, raw: Box<RawValue>) -> Result<(Change, i64), Skip> {
    let head: Head = serde_json::from_str(raw.get()).map_err(|_| skip(None, "unexpected shape"))?;
    let id = head
        .id
        .as_deref()
        .filter(|id| is_id(id))
        .ok_or_else(|| skip(None, "missing id"))?
        .to_owned();
    let updated = head
        .system_modstamp
        .as_deref()
        .and_then(parse_datetime)
        .ok_or_else(|| skip(Some(&id), "missing SystemModstamp"))?;
    if head.is_deleted == Some(true) {
        return Ok((Change::Delete { external_id: id }, updated));
    }
    drop(head);
    let data = match source {
        Source::User => {
            let r: UserRow = parse(&raw, &id)?;
            let email = email_key(r.email.as_deref());
            RecordData::Owner(Owner {
                name: person(&r.name, &r.first_name, &r.last_name)
                    .or_else(|| email.clone())
                    .unwrap_or_else(|| id.clone()),
                email,
                active: r.is_active.unwrap_or(true),
            })
        }
        Source::Account => {
            let r: AccountRow = parse(&raw, &id)?;
            RecordData::Company(Company {
                name: text(&r.name, NAME_MAX).unwrap_or_else(|| id.clone()),
                domain: domain_of(&r.website),
                industry: text(&r.industry, NAME_MAX),
                owner: owner_ref(&r.owner_id),
            })
        }
        Source::Contact => {
            let r: ContactRow = parse(&raw, &id)?;
            let email = text(&r.email, NAME_MAX);
            RecordData::Contact(Contact {
                name: person(&r.name, &r.first_name, &r.last_name)
                    .or_else(|| email.clone())
                    .unwrap_or_else(|| id.clone()),
                email,
                phone: text(&r.phone, 100),
                title: text(&r.title, NAME_MAX),
                owner: owner_ref(&r.owner_id),
                company: reference(&r.account_id, "001"),
            })
        }
        Source::Opportunity => RecordData::Deal(deal(parse(&raw, &id)?, &id)),
        Source::Task | Source::Event => RecordData::Activity(activity(source, parse(&raw, &id)?)),
        Source::Stage => return Err(skip(Some(&id), "not a record")),
    };
    let record = Record {
        external_id: id,
        updated_at_ms: updated,
        data,
        raw,
    };
    Ok((Change::Upsert(record), updated))
}

fn deal(r: OpportunityRow, id: &str) -> Deal {
    let amount = Amount::from_json(&r.amount).unwrap_or_else(|e| {
        tracing::debug!(reason = %e, "opportunity amount kept out");
        None
    });
    let mut contacts: Vec<String> = Vec::new();
    for role in r.opportunity_contact_roles.iter().flat_map(|c| &c.records) {
        if let Some(c) = reference(&role.contact_id, "003")
            && !contacts.contains(&c)
        {
            contacts.push(c);
        }
    }
    let stage_history = stage_history(r.opportunity_histories.as_ref());
    Deal {
        name: text(&r.name, NAME_MAX).unwrap_or_else(|| id.to_owned()),
        amount,
        currency: currency_code(r.currency_iso_code.as_deref()),
        pipeline: Some(super::PIPELINE_ID.to_owned()),
        stage: text(&r.stage_name, NAME_MAX),
        close_date: r
            .close_date
            .as_deref()
            .filter(|d| is_date(d))
            .map(str::to_owned),
        owner: owner_ref(&r.owner_id),
        created_at: secs(&r.created_date),
        // Salesforce keeps no "closed at" on the opportunity: when it entered the
        // closed stage it is in, from its history.
        closed_at: if r.is_closed == Some(true) {
            stage_history.last().map(|c| c.at)
        } else {
            None
        },
        is_closed: r.is_closed,
        is_won: r.is_won,
        next_step: text(&r.next_step, SUBJECT_MAX),
        forecast_category: text(&r.forecast_category_name, NAME_MAX),
        contacts,
        company: reference(&r.account_id, "001"),
        stage_history,
        stage_history_kept: false,
    }
}

/// A stage change per history row whose stage differs from the one before (rows also
/// record changes of amount, probability and close date), in time order; rows without a
/// stage or a readable time are skipped.
fn stage_history(rows: Option<&Histories>) -> Vec<StageChange> {
    let mut changes: Vec<StageChange> = rows
        .iter()
        .flat_map(|c| &c.records)
        .filter_map(|h| {
            Some(StageChange {
                stage: text(&h.stage_name, NAME_MAX)?,
                at: secs(&h.created_date)?,
            })
        })
        .collect();
    changes.sort_by_key(|c| c.at);
    changes.dedup_by(|later, earlier| later.stage == earlier.stage);
    changes
}

fn activity(source: Source, r: ActivityRow) -> Activity {
    let what_deal = reference(&r.what_id, "006");
    let company = reference(&r.account_id, "001").or_else(|| reference(&r.what_id, "001"));
    let (activity_type, occurred_at, duration_secs, direction, outcome) = match source {
        Source::Event => {
            let start = secs(&r.start_date_time);
            let duration = r
                .duration_in_minutes
                .map(|m| m.saturating_mul(60))
                .or_else(|| Some(secs(&r.end_date_time)? - start?))
                .filter(|d| *d >= 0);
            (
                ActivityType::Meeting,
                start.or_else(|| secs(&r.created_date)),
                duration,
                None,
                None,
            )
        }
        _ => {
            let kind = match r.task_subtype.as_deref() {
                Some("Call") => ActivityType::Call,
                Some("Email" | "ListEmail") => ActivityType::Email,
                _ => ActivityType::Task,
            };
            let direction = match r.call_type.as_deref() {
                Some("Inbound") => Some(Direction::Inbound),
                Some("Outbound") => Some(Direction::Outbound),
                _ => None,
            };
            let occurred = secs(&r.completed_date_time)
                .or_else(|| r.activity_date.as_deref().and_then(parse_date))
                .or_else(|| secs(&r.created_date));
            let duration = r.call_duration_in_seconds.filter(|d| *d >= 0);
            (
                kind,
                occurred,
                duration,
                direction,
                text(&r.call_disposition, NAME_MAX),
            )
        }
    };
    Activity {
        activity_type,
        direction,
        occurred_at,
        owner: owner_ref(&r.owner_id),
        duration_secs,
        outcome,
        subject: text(&r.subject, SUBJECT_MAX),
        body: text(&r.description, BODY_MAX),
        deal: what_deal,
        contact: reference(&r.who_id, "003"),
        company,
    }
}

/// A stage and its sort key, from an OpportunityStage row.
pub fn stage(raw: &RawValue) -> Result<(i64, Stage, i64), Skip> {
    let head: Head = serde_json::from_str(raw.get()).map_err(|_| skip(None, "unexpected shape"))?;
    let id = head.id.as_deref().filter(|id| is_id(id)).map(str::to_owned);
    let updated = head
        .system_modstamp
        .as_deref()
        .and_then(parse_datetime)
        .unwrap_or(0);
    let r: StageRow =
        serde_json::from_str(raw.get()).map_err(|_| skip(id.as_deref(), "unexpected shape"))?;
    let key = text(&r.api_name, NAME_MAX)
        .or_else(|| text(&r.master_label, NAME_MAX))
        .ok_or_else(|| skip(id.as_deref(), "stage without a name"))?;
    let order = r.sort_order.unwrap_or(i64::MAX);
    Ok((
        order,
        Stage {
            label: text(&r.master_label, NAME_MAX).unwrap_or_else(|| key.clone()),
            external_id: key,
            display_order: order,
            probability: r.default_probability.filter(|p| p.is_finite()),
            is_closed: r.is_closed.unwrap_or(false),
            is_won: r.is_won.unwrap_or(false),
        },
        updated,
    ))
}

#[cfg(test)]
#[path = "rows_tests.rs"]
mod tests;
