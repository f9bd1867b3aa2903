//! The HubSpot object types we read — companies, contacts, deals and the five
//! engagement types that make up activities — with the properties and associations
//! we ask for, and the list URLs built from them.

use domain::crm::{ActivityType, ObjectKind};

use super::map::Shape;

/// Records per list page (HubSpot's maximum).
pub const LIST_LIMIT: usize = 100;
/// Records per list page that asks for property history (`propertiesWithHistory`
/// lowers HubSpot's maximum; 50, as for batch reads with history).
pub const HISTORY_LIST_LIMIT: usize = 50;
/// Records per search page (HubSpot's maximum).
pub const SEARCH_LIMIT: usize = 200;

/// How we read one HubSpot object type.
#[derive(Clone, Copy, Debug)]
pub struct ObjectType {
    /// The path segment (`deals`).
    pub name: &'static str,
    pub shape: Shape,
    /// The modification-date property searches filter and sort on.
    pub modified: &'static str,
    /// The properties we ask for.
    pub properties: &'static [&'static str],
    /// Association targets we map.
    pub associations: &'static [&'static str],
}

impl ObjectType {
    /// The property whose history we read with the records (deals' `dealstage`).
    pub fn history(&self) -> Option<&'static str> {
        (self.shape == Shape::Deal).then_some("dealstage")
    }
}

/// Companies.
pub const COMPANIES: ObjectType = ObjectType {
    name: "companies",
    shape: Shape::Company,
    modified: "hs_lastmodifieddate",
    properties: &[
        "name",
        "domain",
        "industry",
        "hubspot_owner_id",
        "hs_lastmodifieddate",
    ],
    associations: &[],
};

/// Contacts (whose modification date is `lastmodifieddate`).
pub const CONTACTS: ObjectType = ObjectType {
    name: "contacts",
    shape: Shape::Contact,
    modified: "lastmodifieddate",
    properties: &[
        "firstname",
        "lastname",
        "email",
        "phone",
        "jobtitle",
        "hubspot_owner_id",
        "associatedcompanyid",
        "lastmodifieddate",
    ],
    associations: &["companies"],
};

/// Deals.
pub const DEALS: ObjectType = ObjectType {
    name: "deals",
    shape: Shape::Deal,
    modified: "hs_lastmodifieddate",
    properties: &[
        "dealname",
        "amount",
        "deal_currency_code",
        "pipeline",
        "dealstage",
        "closedate",
        "hubspot_owner_id",
        "createdate",
        "hs_lastmodifieddate",
        "hs_is_closed",
        "hs_is_closed_won",
        "hs_next_step",
        "hs_manual_forecast_category",
    ],
    associations: &["contacts", "companies"],
};

const ENGAGEMENT_LINKS: &[&str] = &["deals", "contacts", "companies"];

/// The engagement types that make up activities, in sync order.
pub const ENGAGEMENTS: [ObjectType; 5] = [
    ObjectType {
        name: "calls",
        shape: Shape::Engagement(ActivityType::Call),
        modified: "hs_lastmodifieddate",
        properties: &[
            "hs_timestamp",
            "hubspot_owner_id",
            "hs_lastmodifieddate",
            "hs_call_title",
            "hs_call_body",
            "hs_call_duration",
            "hs_call_direction",
            "hs_call_disposition",
        ],
        associations: ENGAGEMENT_LINKS,
    },
    ObjectType {
        name: "emails",
        shape: Shape::Engagement(ActivityType::Email),
        modified: "hs_lastmodifieddate",
        properties: &[
            "hs_timestamp",
            "hubspot_owner_id",
            "hs_lastmodifieddate",
            "hs_email_subject",
            "hs_email_text",
            "hs_email_direction",
        ],
        associations: ENGAGEMENT_LINKS,
    },
    ObjectType {
        name: "meetings",
        shape: Shape::Engagement(ActivityType::Meeting),
        modified: "hs_lastmodifieddate",
        properties: &[
            "hs_timestamp",
            "hubspot_owner_id",
            "hs_lastmodifieddate",
            "hs_meeting_title",
            "hs_meeting_body",
            "hs_meeting_start_time",
            "hs_meeting_end_time",
            "hs_meeting_outcome",
        ],
        associations: ENGAGEMENT_LINKS,
    },
    ObjectType {
        name: "notes",
        shape: Shape::Engagement(ActivityType::Note),
        modified: "hs_lastmodifieddate",
        properties: &[
            "hs_timestamp",
            "hubspot_owner_id",
            "hs_lastmodifieddate",
            "hs_note_body",
        ],
        associations: ENGAGEMENT_LINKS,
    },
    ObjectType {
        name: "tasks",
        shape: Shape::Engagement(ActivityType::Task),
        modified: "hs_lastmodifieddate",
        properties: &[
            "hs_timestamp",
            "hubspot_owner_id",
            "hs_lastmodifieddate",
            "hs_task_subject",
            "hs_task_body",
            "hs_task_status",
        ],
        associations: ENGAGEMENT_LINKS,
    },
];

/// The HubSpot object types a kind is read from.
pub fn types_of(kind: ObjectKind) -> &'static [ObjectType] {
    match kind {
        ObjectKind::Company => std::slice::from_ref(&COMPANIES),
        ObjectKind::Contact => std::slice::from_ref(&CONTACTS),
        ObjectKind::Deal => std::slice::from_ref(&DEALS),
        ObjectKind::Activity => &ENGAGEMENTS,
        ObjectKind::Owner | ObjectKind::Pipeline => &[],
    }
}

/// Percent-encode a query value (RFC 3986 unreserved characters pass).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /crm/v3/objects/{type}`: a page of live records with the properties and
/// associations we map (and, for deals, the history of their stage, 50 a page), or of
/// archived ones (ids and times only).
pub(crate) fn list_path(t: &ObjectType, after: Option<&str>, archived: bool) -> String {
    let history = t.history().filter(|_| !archived);
    let limit = if history.is_some() {
        HISTORY_LIST_LIMIT
    } else {
        LIST_LIMIT
    };
    let mut path = format!(
        "/crm/v3/objects/{}?limit={limit}&archived={archived}",
        t.name
    );
    if archived {
        path.push_str("&properties=hs_object_id");
    } else {
        path.push_str("&properties=");
        path.push_str(&t.properties.join(","));
        if !t.associations.is_empty() {
            path.push_str("&associations=");
            path.push_str(&t.associations.join(","));
        }
        if let Some(property) = history {
            path.push_str("&propertiesWithHistory=");
            path.push_str(property);
        }
    }
    if let Some(after) = after {
        path.push_str("&after=");
        path.push_str(&encode(after));
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deals_are_listed_fifty_a_page_with_their_stage_history() {
        let deals = list_path(&DEALS, Some("30000000050"), false);
        assert!(
            deals.starts_with("/crm/v3/objects/deals?limit=50&archived=false&properties=dealname,"),
            "{deals}"
        );
        assert!(
            deals.ends_with(
                "&associations=contacts,companies&propertiesWithHistory=dealstage&after=30000000050"
            ),
            "{deals}"
        );
        // The recycle bin and the other types: 100 a page, no history.
        assert_eq!(
            list_path(&DEALS, None, true),
            "/crm/v3/objects/deals?limit=100&archived=true&properties=hs_object_id"
        );
        for t in [&COMPANIES, &CONTACTS]
            .into_iter()
            .chain(ENGAGEMENTS.iter())
        {
            let path = list_path(t, None, false);
            assert!(path.contains("?limit=100&"), "{path}");
            assert!(!path.contains("propertiesWithHistory"), "{path}");
        }
    }
}
