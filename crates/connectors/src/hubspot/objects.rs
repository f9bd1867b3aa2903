//! Companies, contacts, deals and engagements: full and incremental passes.
//!
//! **Full pass** (phase = object type index; activities step through calls, emails,
//! meetings, notes, tasks): `GET /crm/v3/objects/{type}` 100 at a time in id order,
//! with the properties we map and the associations (`page` = HubSpot's `after`).
//!
//! **Incremental pass** (phase = 2 × type index + step): step 0 searches records
//! modified since the pass's lower bound, 200 at a time, sorted by modification time,
//! as a keyset: each page asks again from the newest time seen (`extra` = `k:<ms>`), so
//! no offset ever nears the 10,000-result cap and records modified meanwhile cannot
//! shift out of view. When a whole page shares one timestamp the window steps through
//! that instant by `hs_object_id` (`extra` = `t:<ms>:<id>`), then moves past it. Search
//! results carry no associations, so each page's are read with v4 batch reads. Step 1
//! lists the archived records (`archived=true`, no time filter exists, so it pages
//! through HubSpot's recycle bin) and emits a deletion for each archived since the
//! lower bound.

use std::collections::HashMap;

use domain::crm::{ActivityType, ObjectKind};
use serde_json::json;

use super::map::{self, Link, Links, Shape};
use super::wire::{AssociationBatch, Page};
use crate::{Batch, Change, Checkpoint, ConnectorError, Http, Pass, Skip};

/// Records per list page (HubSpot's maximum).
pub const LIST_LIMIT: usize = 100;
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

fn list_path(t: &ObjectType, after: Option<&str>, archived: bool) -> String {
    let mut path = format!(
        "/crm/v3/objects/{}?limit={LIST_LIMIT}&archived={archived}",
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
    }
    if let Some(after) = after {
        path.push_str("&after=");
        path.push_str(&encode(after));
    }
    path
}

/// Where an incremental search stands inside its pass (`Checkpoint::extra`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Window {
    /// Records modified at or after `lo`, by modification time.
    From { lo: i64 },
    /// Records modified exactly at `at` with an id above `after_id`, by id.
    Tie { at: i64, after_id: u64 },
}

impl Window {
    /// The window in `extra`, or the pass's lower bound when there is none (or it is
    /// unreadable: starting the step again is always safe).
    pub fn parse(extra: Option<&str>, since: i64) -> Self {
        let parsed = extra.and_then(|e| {
            let mut parts = e.split(':');
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some("k"), Some(lo), None, None) => Some(Window::From {
                    lo: lo.parse().ok()?,
                }),
                (Some("t"), Some(at), Some(id), None) => Some(Window::Tie {
                    at: at.parse().ok()?,
                    after_id: id.parse().ok()?,
                }),
                _ => None,
            }
        });
        parsed.unwrap_or(Window::From { lo: since })
    }

    pub fn encode(self) -> String {
        match self {
            Window::From { lo } => format!("k:{lo}"),
            Window::Tie { at, after_id } => format!("t:{at}:{after_id}"),
        }
    }

    /// The search request for this window.
    pub fn body(self, t: &ObjectType) -> serde_json::Value {
        let (filters, sort) = match self {
            Window::From { lo } => (
                json!([{ "propertyName": t.modified, "operator": "GTE", "value": lo.to_string() }]),
                t.modified,
            ),
            Window::Tie { at, after_id } => (
                json!([
                    { "propertyName": t.modified, "operator": "EQ", "value": at.to_string() },
                    { "propertyName": "hs_object_id", "operator": "GT", "value": after_id.to_string() },
                ]),
                "hs_object_id",
            ),
        };
        json!({
            "filterGroups": [{ "filters": filters }],
            "sorts": [{ "propertyName": sort, "direction": "ASCENDING" }],
            "properties": t.properties,
            "limit": SEARCH_LIMIT,
        })
    }

    /// The window after a page: `None` when this step is done. `newest` is the newest
    /// modification time on the page, `top_id` its highest id.
    pub fn after_page(
        self,
        more: bool,
        newest: Option<i64>,
        top_id: Option<u64>,
    ) -> Result<Option<Window>, ConnectorError> {
        Ok(match self {
            Window::From { .. } if !more => None,
            Window::From { lo } => match newest {
                Some(t) if t > lo => Some(Window::From { lo: t }),
                // A full page of one instant: step through it by id.
                _ => Some(Window::Tie {
                    at: lo,
                    after_id: 0,
                }),
            },
            Window::Tie { at, .. } if !more => Some(Window::From {
                lo: at.saturating_add(1),
            }),
            Window::Tie { at, after_id } => match top_id {
                Some(id) if id > after_id => Some(Window::Tie { at, after_id: id }),
                _ => {
                    return Err(ConnectorError::Malformed(
                        "search paging did not advance".into(),
                    ));
                }
            },
        })
    }
}

/// One page of `kind` after `checkpoint`.
pub(crate) async fn fetch(
    http: &Http,
    kind: ObjectKind,
    checkpoint: &Checkpoint,
) -> Result<Batch, ConnectorError> {
    let types = types_of(kind);
    let mut cp = checkpoint.clone();
    let step = match cp.pass {
        Pass::Full => (cp.phase as usize, 0),
        Pass::Incremental => (cp.phase as usize / 2, cp.phase % 2),
    };
    let Some(t) = types.get(step.0) else {
        // Past the last type (a checkpoint from a build with more types): done.
        return Ok(finish(cp, Vec::new(), Vec::new()));
    };
    match (cp.pass, step.1) {
        (Pass::Full, _) => full_page(http, types, t, &mut cp).await,
        (Pass::Incremental, 0) => search_page(http, types, t, &mut cp).await,
        (Pass::Incremental, _) => archived_page(http, types, t, &mut cp).await,
    }
}

/// The batch that ends a pass: the next one is incremental from this one's start.
fn finish(cp: Checkpoint, changes: Vec<Change>, skipped: Vec<Skip>) -> Batch {
    Batch {
        changes,
        skipped,
        pass: cp.pass,
        checkpoint: cp.next_pass(),
        done: true,
    }
}

fn more(cp: Checkpoint, changes: Vec<Change>, skipped: Vec<Skip>) -> Batch {
    Batch {
        changes,
        skipped,
        pass: cp.pass,
        checkpoint: cp,
        done: false,
    }
}

/// Move to the next step (or type); `None` when the pass is over.
fn advance(cp: &mut Checkpoint, types: &[ObjectType]) -> bool {
    let steps = if cp.pass == Pass::Full { 1 } else { 2 };
    cp.phase = cp.phase.saturating_add(1);
    cp.page = None;
    cp.extra = None;
    (cp.phase as usize) < types.len() * steps
}

fn upserts(
    parsed: Vec<map::Parsed>,
    links: Option<&HashMap<String, Links>>,
    cp: &mut Checkpoint,
) -> (Vec<Change>, Vec<Skip>) {
    let mut changes = Vec::with_capacity(parsed.len());
    let mut skipped = Vec::new();
    for p in parsed {
        let l = links.map(|m| {
            p.typed
                .as_ref()
                .ok()
                .and_then(|t| m.get(t.id()).cloned())
                .unwrap_or_default()
        });
        match p.build(l) {
            Ok(record) => {
                if record.updated_at_ms > 0 {
                    cp.saw(record.updated_at_ms);
                }
                changes.push(Change::Upsert(record));
            }
            Err(s) => skipped.push(s),
        }
    }
    (changes, skipped)
}

async fn full_page(
    http: &Http,
    types: &[ObjectType],
    t: &ObjectType,
    cp: &mut Checkpoint,
) -> Result<Batch, ConnectorError> {
    let first = cp.at_start();
    let reply = http.get(&list_path(t, cp.page.as_deref(), false)).await?;
    let page: Page = reply.json()?;
    if first {
        cp.begin(http.meter().server_ms());
    }
    let next = page.next().map(str::to_owned);
    let parsed = page
        .results
        .into_iter()
        .map(|raw| map::parse(t.shape, raw))
        .collect();
    let (changes, skipped) = upserts(parsed, None, cp);
    match next {
        Some(after) if cp.page.as_deref() == Some(after.as_str()) => Err(
            ConnectorError::Malformed("paging cursor did not advance".into()),
        ),
        Some(after) => {
            cp.page = Some(after);
            Ok(more(cp.clone(), changes, skipped))
        }
        None if advance(cp, types) => Ok(more(cp.clone(), changes, skipped)),
        None => Ok(finish(cp.clone(), changes, skipped)),
    }
}

async fn search_page(
    http: &Http,
    types: &[ObjectType],
    t: &ObjectType,
    cp: &mut Checkpoint,
) -> Result<Batch, ConnectorError> {
    let first = cp.at_start();
    let window = Window::parse(cp.extra.as_deref(), cp.since_ms.unwrap_or(0));
    let path = format!("/crm/v3/objects/{}/search", t.name);
    let reply = http.post_read(&path, &window.body(t)).await?;
    let page: Page = reply.json()?;
    if first {
        cp.begin(http.meter().server_ms());
    }
    let more_results = page.next().is_some();
    let parsed: Vec<map::Parsed> = page
        .results
        .into_iter()
        .map(|raw| map::parse(t.shape, raw))
        .collect();
    let typed = parsed.iter().filter_map(|p| p.typed.as_ref().ok());
    let newest = typed.clone().filter_map(|t| t.modified_ms()).max();
    let top_id = typed
        .clone()
        .filter_map(|t| t.id().parse::<u64>().ok())
        .max();
    let ids: Vec<String> = typed.map(|t| t.id().to_owned()).collect();
    let links = read_links(http, t, &ids).await?;
    let (changes, skipped) = upserts(parsed, Some(&links), cp);
    match window.after_page(more_results, newest, top_id)? {
        Some(next) => cp.extra = Some(next.encode()),
        None => {
            advance(cp, types);
            // The archived step of this type always follows.
        }
    }
    Ok(more(cp.clone(), changes, skipped))
}

async fn archived_page(
    http: &Http,
    types: &[ObjectType],
    t: &ObjectType,
    cp: &mut Checkpoint,
) -> Result<Batch, ConnectorError> {
    let reply = http.get(&list_path(t, cp.page.as_deref(), true)).await?;
    let page: Page = reply.json()?;
    let next = page.next().map(str::to_owned);
    let since = cp.since_ms.unwrap_or(i64::MIN);
    let mut changes = Vec::new();
    let mut skipped = Vec::new();
    for raw in page.results {
        let p = map::parse(t.shape, raw);
        match p.typed {
            Ok(typed) => {
                let archived_at = match &typed {
                    map::Typed::Company(o) => o.archived_at.as_deref(),
                    map::Typed::Contact(o) => o.archived_at.as_deref(),
                    map::Typed::Deal(o) => o.archived_at.as_deref(),
                    map::Typed::Engagement(_, o) => o.archived_at.as_deref(),
                }
                .and_then(map::millis);
                // Archived before this pass's window: an earlier pass (or the full
                // pass's sweep) already removed it.
                if archived_at.is_none_or(|at| at >= since) {
                    changes.push(Change::Delete {
                        external_id: typed.external_id(),
                    });
                }
            }
            Err(s) => skipped.push(s),
        }
    }
    match next {
        Some(after) if cp.page.as_deref() == Some(after.as_str()) => Err(
            ConnectorError::Malformed("paging cursor did not advance".into()),
        ),
        Some(after) => {
            cp.page = Some(after);
            Ok(more(cp.clone(), changes, skipped))
        }
        None if advance(cp, types) => Ok(more(cp.clone(), changes, skipped)),
        None => Ok(finish(cp.clone(), changes, skipped)),
    }
}

/// The associations of `ids` (a search page) for every target of `t`, by v4 batch read,
/// following per-id paging.
async fn read_links(
    http: &Http,
    t: &ObjectType,
    ids: &[String],
) -> Result<HashMap<String, Links>, ConnectorError> {
    let mut out: HashMap<String, Links> = HashMap::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(out);
    }
    for target in t.associations {
        let path = format!("/crm/v4/associations/{}/{target}/batch/read", t.name);
        let mut inputs: Vec<serde_json::Value> = ids.iter().map(|id| json!({ "id": id })).collect();
        // Each round follows the ids that have more; HubSpot pages a few hundred
        // associations per id, so a handful of rounds is already extreme.
        for _ in 0..50 {
            if inputs.is_empty() {
                break;
            }
            let reply = http.post_read(&path, &json!({ "inputs": inputs })).await?;
            let batch: AssociationBatch = reply.json()?;
            inputs = Vec::new();
            for result in batch.results {
                let Some(from) = map::nonempty(result.from.id) else {
                    continue;
                };
                let links = out.entry(from.clone()).or_default();
                let list = match *target {
                    "companies" => &mut links.companies,
                    "contacts" => &mut links.contacts,
                    _ => &mut links.deals,
                };
                for to in result.to {
                    let Some(id) = map::nonempty(to.to_object_id) else {
                        continue;
                    };
                    let primary = to.types.iter().any(|ty| {
                        ty.label
                            .as_deref()
                            .is_some_and(|l| l.eq_ignore_ascii_case("primary"))
                            || matches!(ty.type_id.as_deref(), Some("1" | "5"))
                    });
                    list.push(Link { id, primary });
                }
                if let Some(after) = result.paging.and_then(|p| p.next).and_then(|n| n.after) {
                    inputs.push(json!({ "id": from, "after": after }));
                }
            }
        }
    }
    Ok(out)
}
