//! Companies, contacts, deals and engagements: full and incremental passes.
//!
//! **Full pass** (phase = object type index; activities step through calls, emails,
//! meetings, notes, tasks): `GET /crm/v3/objects/{type}` 100 at a time in id order,
//! with the properties we map and the associations (`page` = HubSpot's `after`); deals
//! 50 at a time, with the history of their stage (`propertiesWithHistory=dealstage`).
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
//!
//! Deals get their stage history from their list page in the full pass, and from a
//! batch read after each search page in the incremental one ([`history`]).

use std::collections::HashMap;

use domain::crm::ObjectKind;
use serde_json::json;

use super::history;
use super::map::{self, Link, Links};
use super::types::{ObjectType, list_path, types_of};
use super::values::{millis, nonempty};
use super::window::Window;
use super::wire::{AssociationBatch, Page};
use crate::{Batch, Change, Checkpoint, ConnectorError, Http, Pass, Skip};

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
    let t = match (types.get(step.0), types.first()) {
        (Some(t), _) => t,
        // Past the last type (a checkpoint this build did not write): a full pass
        // starts over (ending it here would sweep everything); an incremental one ends.
        (None, Some(first)) if cp.pass == Pass::Full => {
            cp = Checkpoint::full();
            first
        }
        (None, _) => return Ok(finish(cp, Vec::new(), Vec::new())),
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

/// Move to the next step (or type); `false` when the pass is over.
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
    // Listed deals carry their stage history (`propertiesWithHistory`), read with them.
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
    let times = typed.clone().filter_map(|t| t.modified_ms());
    let span = times.clone().min().zip(times.max());
    let top_id = typed
        .clone()
        .filter_map(|t| t.id().parse::<u64>().ok())
        .max();
    let ids: Vec<String> = typed.map(|t| t.id().to_owned()).collect();
    let links = read_links(http, t, &ids).await?;
    let histories = history::for_page(http, t, &parsed).await?;
    let (mut changes, skipped) = upserts(parsed, Some(&links), cp);
    history::attach(&mut changes, histories);
    match window.after_page(more_results, span, top_id)? {
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
                .and_then(millis);
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
                let Some(from) = nonempty(result.from.id) else {
                    continue;
                };
                let links = out.entry(from.clone()).or_default();
                let list = match *target {
                    "companies" => &mut links.companies,
                    "contacts" => &mut links.contacts,
                    _ => &mut links.deals,
                };
                for to in result.to {
                    let Some(id) = nonempty(to.to_object_id) else {
                        continue;
                    };
                    // HubSpot asks integrations to go by type id (1: a contact's primary
                    // company, 5: a deal's); the label ("Deal with Primary Company",
                    // formerly "Primary") is only a fallback.
                    let primary = to.types.iter().any(|ty| {
                        matches!(ty.type_id.as_deref(), Some("1" | "5"))
                            || ty
                                .label
                                .as_deref()
                                .is_some_and(|l| l.to_ascii_lowercase().contains("primary"))
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
