//! HubSpot's JSON shapes, as far as we read them. Pages keep each record verbatim
//! ([`RawValue`]) for `Record::raw`; records are then parsed into small typed structs
//! whose fields are all optional and lenient (a number where a string was expected is
//! taken as its text; an object or array where a scalar was expected is ignored), so a
//! surprising record maps as well as it can instead of failing its page.

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// One page of a listing or a search: the records verbatim and the cursor to the next.
#[derive(Deserialize)]
pub struct Page {
    pub results: Vec<Box<RawValue>>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

impl Page {
    /// The `after` cursor of the next page; `None` on the last page.
    pub fn next(&self) -> Option<&str> {
        self.paging
            .as_ref()?
            .next
            .as_ref()?
            .after
            .as_deref()
            .filter(|a| !a.is_empty())
    }
}

/// `paging` of a page (and of one id in an association batch read).
#[derive(Deserialize, Default)]
pub struct Paging {
    #[serde(default)]
    pub next: Option<Next>,
}

/// `paging.next`.
#[derive(Deserialize, Default)]
pub struct Next {
    #[serde(default, deserialize_with = "text")]
    pub after: Option<String>,
}

/// Any scalar as text; `null`, objects and arrays as `None`.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(TextVisitor)
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(v.is_finite().then(|| v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// `true`/`false` as JSON booleans or strings; anything else is `None`.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match text(d)?.as_deref().map(str::trim) {
        Some(t) if t.eq_ignore_ascii_case("true") => Some(true),
        Some(t) if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    })
}

/// A struct of optional, lenient text properties named as HubSpot names them.
macro_rules! properties {
    ($(#[$doc:meta])* $name:ident { $($field:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Deserialize, Default, Debug)]
        pub struct $name {
            $(
                #[serde(default, deserialize_with = "text")]
                pub $field: Option<String>,
            )*
        }
    };
}

properties!(
    /// Company properties we read.
    CompanyProps { name, domain, industry, hubspot_owner_id, hs_lastmodifieddate }
);

properties!(
    /// Contact properties we read (contacts name their modification date differently).
    ContactProps {
        firstname, lastname, email, phone, jobtitle, hubspot_owner_id, associatedcompanyid,
        lastmodifieddate,
    }
);

properties!(
    /// Deal properties we read.
    DealProps {
        dealname, amount, deal_currency_code, pipeline, dealstage, closedate,
        hubspot_owner_id, createdate, hs_lastmodifieddate, hs_is_closed, hs_is_closed_won,
        hs_next_step, hs_manual_forecast_category,
    }
);

properties!(
    /// Properties of every engagement type (calls, emails, meetings, notes, tasks).
    EngagementProps {
        hs_timestamp, hubspot_owner_id, hs_lastmodifieddate,
        hs_call_title, hs_call_body, hs_call_duration, hs_call_direction,
        hs_call_disposition, hs_email_subject, hs_email_text, hs_email_direction,
        hs_meeting_title, hs_meeting_body, hs_meeting_start_time, hs_meeting_end_time,
        hs_meeting_outcome, hs_note_body, hs_task_subject, hs_task_body, hs_task_status,
    }
);

/// A CRM object record (`SimplePublicObject…`) with properties `P`.
#[derive(Deserialize)]
pub struct Object<P> {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default)]
    pub properties: Option<P>,
    #[serde(default, rename = "createdAt", deserialize_with = "text")]
    pub created_at: Option<String>,
    #[serde(default, rename = "updatedAt", deserialize_with = "text")]
    pub updated_at: Option<String>,
    #[serde(default, rename = "archivedAt", deserialize_with = "text")]
    pub archived_at: Option<String>,
    #[serde(default)]
    pub associations: Option<Associations>,
    /// Deals listed with `propertiesWithHistory=dealstage` (full pass).
    #[serde(
        default,
        rename = "propertiesWithHistory",
        deserialize_with = "super::history::lenient"
    )]
    pub history: Option<super::history::Histories>,
}

/// v3 list `associations`: per target type, the associated ids.
#[derive(Deserialize, Default)]
pub struct Associations {
    #[serde(default)]
    pub companies: Option<AssociationList>,
    #[serde(default)]
    pub contacts: Option<AssociationList>,
    #[serde(default)]
    pub deals: Option<AssociationList>,
}

/// `{"results":[{"id":…,"type":…}]}`.
#[derive(Deserialize, Default)]
pub struct AssociationList {
    #[serde(default)]
    pub results: Vec<AssociatedId>,
}

/// One associated record in a v3 list.
#[derive(Deserialize)]
pub struct AssociatedId {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "text")]
    pub kind: Option<String>,
}

/// A v4 association batch read answer.
#[derive(Deserialize)]
pub struct AssociationBatch {
    #[serde(default)]
    pub results: Vec<AssociationResult>,
}

/// The associations of one input id.
#[derive(Deserialize)]
pub struct AssociationResult {
    pub from: FromId,
    #[serde(default)]
    pub to: Vec<AssociationTarget>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

/// `{"id": …}`.
#[derive(Deserialize)]
pub struct FromId {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
}

/// One associated record in a v4 answer.
#[derive(Deserialize)]
pub struct AssociationTarget {
    #[serde(default, rename = "toObjectId", deserialize_with = "text")]
    pub to_object_id: Option<String>,
    #[serde(default, rename = "associationTypes")]
    pub types: Vec<AssociationType>,
}

/// An association's type (`typeId` 1 and 5 are the primary company of a contact and of
/// a deal; HubSpot labels them "Contact/Deal with Primary Company", but says to go by
/// the id).
#[derive(Deserialize)]
pub struct AssociationType {
    #[serde(default, rename = "typeId", deserialize_with = "text")]
    pub type_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub label: Option<String>,
}

/// An owner (`GET /crm/v3/owners`).
#[derive(Deserialize)]
pub struct Owner {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub email: Option<String>,
    #[serde(default, rename = "firstName", deserialize_with = "text")]
    pub first_name: Option<String>,
    #[serde(default, rename = "lastName", deserialize_with = "text")]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    pub archived: Option<bool>,
    #[serde(default, rename = "createdAt", deserialize_with = "text")]
    pub created_at: Option<String>,
    #[serde(default, rename = "updatedAt", deserialize_with = "text")]
    pub updated_at: Option<String>,
}

/// A deal pipeline (`GET /crm/v3/pipelines/deals`).
#[derive(Deserialize)]
pub struct Pipeline {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub label: Option<String>,
    #[serde(default, rename = "displayOrder", deserialize_with = "text")]
    pub display_order: Option<String>,
    #[serde(default)]
    pub stages: Vec<PipelineStage>,
    #[serde(default, rename = "updatedAt", deserialize_with = "text")]
    pub updated_at: Option<String>,
}

/// A pipeline stage; `metadata` values are strings (`"0.2"`, `"true"`).
#[derive(Deserialize)]
pub struct PipelineStage {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub label: Option<String>,
    #[serde(default, rename = "displayOrder", deserialize_with = "text")]
    pub display_order: Option<String>,
    #[serde(default)]
    pub metadata: Option<StageMetadata>,
    #[serde(default, deserialize_with = "flag")]
    pub archived: Option<bool>,
    #[serde(default, rename = "updatedAt", deserialize_with = "text")]
    pub updated_at: Option<String>,
}

/// `metadata` of a deal stage.
#[derive(Deserialize, Default)]
pub struct StageMetadata {
    #[serde(default, deserialize_with = "text")]
    pub probability: Option<String>,
    #[serde(default, rename = "isClosed", deserialize_with = "flag")]
    pub is_closed: Option<bool>,
}

/// HubSpot's error body (the parts the dialect reads).
#[derive(Deserialize, Default)]
pub struct ErrorBody {
    #[serde(default, rename = "policyName", deserialize_with = "text")]
    pub policy_name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub message: Option<String>,
}
