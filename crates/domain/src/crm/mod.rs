//! The canonical CRM model: what Pitchside keeps of a HubSpot, Salesforce or Pipedrive
//! account, whatever the provider. Connectors map provider payloads into these types;
//! the store mirrors them; everything downstream (dashboards, AI context) reads only
//! these. Each record keeps its provider's external id; the raw payload travels beside
//! it (sealed by the store) for fields not mapped yet.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod money;

pub use money::{Amount, AmountError};

/// A CRM we read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Hubspot,
    Salesforce,
    Pipedrive,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Hubspot, Provider::Salesforce, Provider::Pipedrive];

    /// The stable name used in URLs, the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Hubspot => "hubspot",
            Provider::Salesforce => "salesforce",
            Provider::Pipedrive => "pipedrive",
        }
    }

    /// The name people read.
    pub fn label(self) -> &'static str {
        match self {
            Provider::Hubspot => "HubSpot",
            Provider::Salesforce => "Salesforce",
            Provider::Pipedrive => "Pipedrive",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or(UnknownName)
    }
}

/// A name that is not one of the known values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown name")]
pub struct UnknownName;

/// The kinds of record a sync mirrors, in the order a sync walks them (owners and
/// pipelines first, so deals can refer to them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Owner,
    Pipeline,
    Company,
    Contact,
    Deal,
    Activity,
}

impl ObjectKind {
    /// Every kind, in sync order.
    pub const ALL: [ObjectKind; 6] = [
        ObjectKind::Owner,
        ObjectKind::Pipeline,
        ObjectKind::Company,
        ObjectKind::Contact,
        ObjectKind::Deal,
        ObjectKind::Activity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Owner => "owner",
            ObjectKind::Pipeline => "pipeline",
            ObjectKind::Company => "company",
            ObjectKind::Contact => "contact",
            ObjectKind::Deal => "deal",
            ObjectKind::Activity => "activity",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ObjectKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(UnknownName)
    }
}

/// A CRM user who owns records. Mapped to a Pitchside user by email (or by hand).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Owner {
    pub email: Option<String>,
    pub name: String,
    pub active: bool,
}

/// A sales pipeline and its stages, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub label: String,
    pub display_order: i64,
    pub stages: Vec<Stage>,
}

/// One stage of a pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub external_id: String,
    pub label: String,
    pub display_order: i64,
    /// Win probability in percent (0–100), when the CRM states one.
    pub probability: Option<f64>,
    pub is_closed: bool,
    pub is_won: bool,
}

/// A company (HubSpot company, Salesforce Account, Pipedrive organization).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Company {
    pub name: String,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub owner: Option<String>,
}

/// A person at a customer (HubSpot contact, Salesforce Contact, Pipedrive person).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
    pub owner: Option<String>,
    /// The company this person works for (external id).
    pub company: Option<String>,
}

/// An opportunity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deal {
    pub name: String,
    pub amount: Option<Amount>,
    /// ISO 4217 code, upper case.
    pub currency: Option<String>,
    /// Pipeline external id (Salesforce has one implicit pipeline, `default`).
    pub pipeline: Option<String>,
    /// Stage external id within the pipeline.
    pub stage: Option<String>,
    /// `YYYY-MM-DD`.
    pub close_date: Option<String>,
    pub owner: Option<String>,
    /// Epoch seconds.
    pub created_at: Option<i64>,
    /// When the deal was won or lost (epoch seconds).
    pub closed_at: Option<i64>,
    /// Closed and won flags as the CRM states them on the deal itself; when `None`
    /// they follow the stage.
    pub is_closed: Option<bool>,
    pub is_won: Option<bool>,
    pub next_step: Option<String>,
    pub forecast_category: Option<String>,
    /// Contacts and the company on the deal (external ids).
    pub contacts: Vec<String>,
    pub company: Option<String>,
    /// Stage changes the CRM reports, oldest first.
    pub stage_history: Vec<StageChange>,
    /// The full history was not read this time (the deal's stage has not changed since
    /// the last sync): `stage_history` holds only what the deal itself says, and the
    /// mirror keeps the history it holds for the deal (a deal it does not hold yet gets
    /// `stage_history`). False unless a connector skips a history read.
    #[serde(default)]
    pub stage_history_kept: bool,
}

/// A deal entered `stage` at `at` (epoch seconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageChange {
    pub stage: String,
    pub at: i64,
}

/// What kind of sales activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    Call,
    Email,
    Meeting,
    Note,
    Task,
}

impl ActivityType {
    pub const ALL: [ActivityType; 5] = [
        ActivityType::Call,
        ActivityType::Email,
        ActivityType::Meeting,
        ActivityType::Note,
        ActivityType::Task,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActivityType::Call => "call",
            ActivityType::Email => "email",
            ActivityType::Meeting => "meeting",
            ActivityType::Note => "note",
            ActivityType::Task => "task",
        }
    }
}

impl FromStr for ActivityType {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(UnknownName)
    }
}

/// Inbound or outbound, for calls and emails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// A call, email, meeting, note or task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub activity_type: ActivityType,
    pub direction: Option<Direction>,
    /// When it happened or is due (epoch seconds).
    pub occurred_at: Option<i64>,
    pub owner: Option<String>,
    pub duration_secs: Option<i64>,
    pub outcome: Option<String>,
    pub subject: Option<String>,
    /// The body or note text. Sealed at rest.
    pub body: Option<String>,
    pub deal: Option<String>,
    pub contact: Option<String>,
    pub company: Option<String>,
}

/// The canonical fields of one record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordData {
    Owner(Owner),
    Pipeline(Pipeline),
    Company(Company),
    Contact(Contact),
    Deal(Deal),
    Activity(Activity),
}

impl RecordData {
    pub fn kind(&self) -> ObjectKind {
        match self {
            RecordData::Owner(_) => ObjectKind::Owner,
            RecordData::Pipeline(_) => ObjectKind::Pipeline,
            RecordData::Company(_) => ObjectKind::Company,
            RecordData::Contact(_) => ObjectKind::Contact,
            RecordData::Deal(_) => ObjectKind::Deal,
            RecordData::Activity(_) => ObjectKind::Activity,
        }
    }
}

/// One record as a connector delivers it.
#[derive(Clone, Debug)]
pub struct Record {
    pub external_id: String,
    /// The provider's last-modified time (epoch milliseconds); a mirror keeps the newest.
    pub updated_at_ms: i64,
    pub data: RecordData,
    /// The provider's payload, verbatim (sealed at rest in the `crm_records` domain).
    pub raw: Box<serde_json::value::RawValue>,
}

/// Normalize a free-text field from a CRM: trimmed, control characters dropped,
/// capped at `max` characters; `None` when nothing is left.
pub fn clean_text(value: Option<&str>, max: usize) -> Option<String> {
    let value = value?;
    let cleaned: String = value
        .trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .take(max)
        .collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// An ISO 4217 currency code, upper-cased, when `value` is three ASCII letters.
pub fn currency_code(value: Option<&str>) -> Option<String> {
    let v = value?.trim();
    (v.len() == 3 && v.bytes().all(|b| b.is_ascii_alphabetic())).then(|| v.to_ascii_uppercase())
}

/// A plausible email address, lower-cased (owner mapping compares these).
pub fn email_key(value: Option<&str>) -> Option<String> {
    let v = value?.trim();
    let (local, host) = v.split_once('@')?;
    (!local.is_empty() && host.contains('.') && !v.contains(char::is_whitespace) && v.len() <= 254)
        .then(|| v.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
        }
        for k in ObjectKind::ALL {
            assert_eq!(k.as_str().parse::<ObjectKind>(), Ok(k));
        }
        for t in ActivityType::ALL {
            assert_eq!(t.as_str().parse::<ActivityType>(), Ok(t));
        }
        assert!("zoho".parse::<Provider>().is_err());
    }

    #[test]
    fn text_is_trimmed_capped_and_stripped_of_controls() {
        assert_eq!(
            clean_text(Some("  a\u{0}b\u{7}c  "), 10).as_deref(),
            Some("abc")
        );
        assert_eq!(clean_text(Some("   "), 10), None);
        assert_eq!(clean_text(Some("abcdef"), 3).as_deref(), Some("abc"));
        assert_eq!(
            clean_text(Some("line\nnext"), 20).as_deref(),
            Some("line\nnext")
        );
    }

    #[test]
    fn currencies_and_emails_are_normalized_or_refused() {
        assert_eq!(currency_code(Some(" usd ")).as_deref(), Some("USD"));
        assert_eq!(currency_code(Some("US$")), None);
        assert_eq!(currency_code(Some("EURO")), None);
        assert_eq!(
            email_key(Some(" Ada@Acme.Example ")).as_deref(),
            Some("ada@acme.example")
        );
        assert_eq!(email_key(Some("not an email")), None);
        assert_eq!(email_key(Some("a@b")), None);
    }
}
