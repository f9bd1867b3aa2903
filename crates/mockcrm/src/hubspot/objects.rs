//! The HubSpot object types the mock serves, with the properties it knows for each
//! (written in a fixed order) and which of them a request gets.

use domain::crm::{ActivityType, ObjectKind};

/// A HubSpot object type the mock serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Object {
    Companies,
    Contacts,
    Deals,
    Engagement(ActivityType),
}

impl Object {
    /// The type a path segment names (`deals`, `calls`, …).
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

    /// The world kind records of this type come from.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
