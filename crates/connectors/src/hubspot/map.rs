//! From HubSpot records to canonical ones. Each record is parsed on its own (a record
//! that is not an object, has the wrong shape or no id becomes a [`Skip`] with a short,
//! stable reason), then mapped: text cleaned and capped, amounts exact, times as epoch
//! milliseconds (`updated_at_ms`) or seconds (the model's fields), associations by
//! external id, owners by owner id, pipeline and stage by id.

use domain::crm::{
    Activity, ActivityType, Amount, Company, Contact, Deal, Direction, Record, RecordData,
    clean_text, currency_code,
};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::values::{civil_date, clean, millis, nonempty, seconds};
use super::wire::{self, Associations, CompanyProps, ContactProps, DealProps, EngagementProps};
use crate::Skip;

/// Longest names (companies, people, deals, stages).
pub(crate) const NAME: usize = 300;
/// Longest subjects and next steps.
const SUBJECT: usize = 500;
/// Longest bodies.
const BODY: usize = 20_000;
/// Longest short codes (outcomes, phone numbers, industries).
const SHORT: usize = 100;

/// One associated record: its HubSpot id and whether HubSpot marks it primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    pub id: String,
    pub primary: bool,
}

/// A record's associations, from a v3 list or from v4 batch reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Links {
    pub companies: Vec<Link>,
    pub contacts: Vec<Link>,
    pub deals: Vec<Link>,
}

impl Links {
    /// From a v3 list's `associations` (`deal_to_company` is the primary company;
    /// `…_unlabeled` and labelled duplicates are not).
    fn from_v3(a: Option<Associations>) -> Self {
        let Some(a) = a else {
            return Self::default();
        };
        let list = |l: Option<wire::AssociationList>, primary: &[&str]| -> Vec<Link> {
            l.map(|l| l.results)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|r| {
                    let id = nonempty(r.id)?;
                    let primary = r.kind.is_some_and(|k| primary.contains(&k.as_str()));
                    Some(Link { id, primary })
                })
                .collect()
        };
        Self {
            companies: list(a.companies, &["deal_to_company", "contact_to_company"]),
            contacts: list(a.contacts, &[]),
            deals: list(a.deals, &[]),
        }
    }
}

/// The primary link, else the first.
fn main_link(links: &[Link]) -> Option<String> {
    links
        .iter()
        .find(|l| l.primary)
        .or(links.first())
        .map(|l| l.id.clone())
}

/// Every linked id once, in order.
fn all_links(links: &[Link]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(links.len());
    for l in links {
        if !out.contains(&l.id) {
            out.push(l.id.clone());
        }
    }
    out
}

/// Which kind of HubSpot record a page holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Company,
    Contact,
    Deal,
    Engagement(ActivityType),
}

/// A record parsed into its typed form.
pub(crate) enum Typed {
    Company(wire::Object<CompanyProps>),
    Contact(wire::Object<ContactProps>),
    Deal(wire::Object<DealProps>),
    Engagement(ActivityType, wire::Object<EngagementProps>),
}

/// A record of a page: verbatim, and typed (or why it cannot be).
pub(crate) struct Parsed {
    pub raw: Box<RawValue>,
    pub typed: Result<Typed, Skip>,
}

/// A skipped record with a short, stable reason.
pub(crate) fn skip(external_id: Option<String>, reason: &str) -> Skip {
    Skip {
        external_id,
        reason: reason.to_owned(),
    }
}

fn typed<P: DeserializeOwned + Default>(raw: &RawValue) -> Result<wire::Object<P>, Skip> {
    if !raw.get().trim_start().starts_with('{') {
        return Err(skip(None, "not an object"));
    }
    let object: wire::Object<P> =
        serde_json::from_str(raw.get()).map_err(|_| skip(None, "unexpected shape"))?;
    if object.id.as_deref().is_none_or(|id| id.trim().is_empty()) {
        return Err(skip(None, "missing id"));
    }
    Ok(object)
}

/// Parse one record of `shape`.
pub(crate) fn parse(shape: Shape, raw: Box<RawValue>) -> Parsed {
    let typed = match shape {
        Shape::Company => typed(&raw).map(Typed::Company),
        Shape::Contact => typed(&raw).map(Typed::Contact),
        Shape::Deal => typed(&raw).map(Typed::Deal),
        Shape::Engagement(t) => typed(&raw).map(|o| Typed::Engagement(t, o)),
    };
    Parsed { raw, typed }
}

impl Typed {
    /// The HubSpot id (present: [`parse`] refuses records without one).
    pub fn id(&self) -> &str {
        let id = match self {
            Typed::Company(o) => &o.id,
            Typed::Contact(o) => &o.id,
            Typed::Deal(o) => &o.id,
            Typed::Engagement(_, o) => &o.id,
        };
        id.as_deref().map(str::trim).unwrap_or_default()
    }

    /// The modification time the search filters on (else `updatedAt`).
    pub fn modified_ms(&self) -> Option<i64> {
        let (prop, updated) = match self {
            Typed::Company(o) => (
                o.properties
                    .as_ref()
                    .and_then(|p| p.hs_lastmodifieddate.as_deref()),
                o.updated_at.as_deref(),
            ),
            Typed::Contact(o) => (
                o.properties
                    .as_ref()
                    .and_then(|p| p.lastmodifieddate.as_deref()),
                o.updated_at.as_deref(),
            ),
            Typed::Deal(o) => (
                o.properties
                    .as_ref()
                    .and_then(|p| p.hs_lastmodifieddate.as_deref()),
                o.updated_at.as_deref(),
            ),
            Typed::Engagement(_, o) => (
                o.properties
                    .as_ref()
                    .and_then(|p| p.hs_lastmodifieddate.as_deref()),
                o.updated_at.as_deref(),
            ),
        };
        prop.and_then(millis).or_else(|| updated.and_then(millis))
    }

    /// The external id this record gets (engagements carry their type).
    pub fn external_id(&self) -> String {
        match self {
            Typed::Engagement(t, _) => format!("{}:{}", t.as_str(), self.id()),
            _ => self.id().to_owned(),
        }
    }
}

impl Parsed {
    /// The canonical record, with `links` (from batch reads) or the record's own v3
    /// associations.
    pub fn build(self, links: Option<Links>) -> Result<Record, Skip> {
        let typed = self.typed?;
        let external_id = typed.external_id();
        let updated = typed.modified_ms();
        let data = match typed {
            Typed::Company(o) => {
                let p = o.properties.unwrap_or_default();
                let domain = clean(p.domain, NAME);
                RecordData::Company(Company {
                    name: clean(p.name, NAME)
                        .or_else(|| domain.clone())
                        .unwrap_or_default(),
                    domain,
                    industry: clean(p.industry, SHORT),
                    owner: nonempty(p.hubspot_owner_id),
                })
            }
            Typed::Contact(o) => {
                let links = links.unwrap_or_else(|| Links::from_v3(o.associations));
                let p = o.properties.unwrap_or_default();
                let email = clean(p.email, NAME);
                let name = format!(
                    "{} {}",
                    p.firstname.as_deref().unwrap_or_default().trim(),
                    p.lastname.as_deref().unwrap_or_default().trim()
                );
                RecordData::Contact(Contact {
                    name: clean(Some(name), NAME)
                        .or_else(|| email.clone())
                        .unwrap_or_default(),
                    email,
                    phone: clean(p.phone, SHORT),
                    title: clean(p.jobtitle, NAME),
                    owner: nonempty(p.hubspot_owner_id),
                    company: main_link(&links.companies).or(nonempty(p.associatedcompanyid)),
                })
            }
            Typed::Deal(o) => {
                let links = links.unwrap_or_else(|| Links::from_v3(o.associations));
                let mut d = deal(o.properties.unwrap_or_default(), &links, o.created_at);
                if let Some(h) = o.history {
                    d.stage_history = super::history::fold(&h.dealstage);
                }
                RecordData::Deal(d)
            }
            Typed::Engagement(t, o) => {
                let links = links.unwrap_or_else(|| Links::from_v3(o.associations));
                RecordData::Activity(activity(t, o.properties.unwrap_or_default(), &links))
            }
        };
        Ok(Record {
            external_id,
            updated_at_ms: updated.unwrap_or(0),
            data,
            raw: self.raw,
        })
    }
}

fn deal(p: DealProps, links: &Links, created_at: Option<String>) -> Deal {
    let amount = match p.amount {
        None => None,
        Some(text) => match Amount::from_json(&serde_json::Value::String(text)) {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(reason = %e, "deal amount not kept");
                None
            }
        },
    };
    let flag = |v: Option<&str>| match v.map(str::trim) {
        Some(t) if t.eq_ignore_ascii_case("true") => Some(true),
        Some(t) if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    };
    let is_closed = flag(p.hs_is_closed.as_deref());
    let close_ms = p.closedate.as_deref().and_then(millis);
    Deal {
        name: clean(p.dealname, NAME).unwrap_or_default(),
        amount,
        currency: currency_code(p.deal_currency_code.as_deref()),
        pipeline: nonempty(p.pipeline),
        stage: nonempty(p.dealstage),
        close_date: close_ms.and_then(civil_date),
        owner: nonempty(p.hubspot_owner_id),
        created_at: p
            .createdate
            .as_deref()
            .and_then(millis)
            .or_else(|| created_at.as_deref().and_then(millis))
            .map(seconds),
        // HubSpot stamps the close date when a deal is closed.
        closed_at: close_ms.filter(|_| is_closed == Some(true)).map(seconds),
        is_closed,
        is_won: flag(p.hs_is_closed_won.as_deref()),
        next_step: clean(p.hs_next_step, SUBJECT),
        forecast_category: clean(p.hs_manual_forecast_category, SHORT),
        contacts: all_links(&links.contacts),
        company: main_link(&links.companies),
        stage_history: Vec::new(),
        stage_history_kept: false,
    }
}

fn activity(t: ActivityType, p: EngagementProps, links: &Links) -> Activity {
    let body = |v: Option<String>| clean(v, BODY);
    let subject = |v: Option<String>| clean(v, SUBJECT);
    let (subject, body, direction, duration_secs, outcome) = match t {
        ActivityType::Call => (
            subject(p.hs_call_title),
            body(p.hs_call_body),
            match p.hs_call_direction.as_deref().map(str::trim) {
                Some("INBOUND") => Some(Direction::Inbound),
                Some("OUTBOUND") => Some(Direction::Outbound),
                _ => None,
            },
            p.hs_call_duration
                .as_deref()
                .and_then(|d| d.trim().parse::<f64>().ok())
                .filter(|ms| ms.is_finite() && *ms >= 0.0 && *ms < 1e15)
                .map(|ms| (ms / 1000.0).round() as i64),
            p.hs_call_disposition.as_deref().and_then(call_outcome),
        ),
        ActivityType::Email => (
            subject(p.hs_email_subject),
            body(p.hs_email_text),
            match p.hs_email_direction.as_deref().map(str::trim) {
                Some("INCOMING_EMAIL") => Some(Direction::Inbound),
                Some("EMAIL" | "FORWARDED_EMAIL") => Some(Direction::Outbound),
                _ => None,
            },
            None,
            None,
        ),
        ActivityType::Meeting => {
            let start = p.hs_meeting_start_time.as_deref().and_then(millis);
            let end = p.hs_meeting_end_time.as_deref().and_then(millis);
            (
                subject(p.hs_meeting_title),
                body(p.hs_meeting_body),
                None,
                start
                    .zip(end)
                    .filter(|(s, e)| e >= s)
                    .map(|(s, e)| (e - s) / 1000),
                clean(p.hs_meeting_outcome, SHORT),
            )
        }
        ActivityType::Note => (None, body(p.hs_note_body), None, None, None),
        ActivityType::Task => (
            subject(p.hs_task_subject),
            body(p.hs_task_body),
            None,
            None,
            clean(p.hs_task_status, SHORT),
        ),
    };
    Activity {
        activity_type: t,
        direction,
        occurred_at: p.hs_timestamp.as_deref().and_then(millis).map(seconds),
        owner: nonempty(p.hubspot_owner_id),
        duration_secs,
        outcome,
        subject,
        body,
        deal: links.deals.first().map(|l| l.id.clone()),
        contact: links.contacts.first().map(|l| l.id.clone()),
        company: main_link(&links.companies),
    }
}

/// HubSpot's built-in call outcomes are GUIDs; custom ones are shown as given.
fn call_outcome(value: &str) -> Option<String> {
    let label = match value.trim() {
        "f240bbac-87c9-4f6e-bf70-924b57d47db7" => "Connected",
        "b2cf5968-551e-4856-9783-52b3da59a7d0" => "Left voicemail",
        "a4c4c377-d246-4b32-a13b-75a56a4cd0ff" => "Left live message",
        "73a0d17f-1163-4015-bdd5-ec830791da20" => "No answer",
        "9d9162e7-6cf3-4944-bf63-4dff82258764" => "Busy",
        "17b47fee-58de-441e-a44c-c6300d46f273" => "Wrong number",
        other => return clean_text(Some(other), SHORT),
    };
    Some(label.to_owned())
}
