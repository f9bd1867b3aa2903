//! Owners and deal pipelines: small, so every pass is a full one. Owners are read in
//! two phases — active (`archived=false`), then deactivated (`archived=true`, mapped
//! with `active: false` so records they own still resolve) — 500 a page; pipelines
//! come in one answer with their stages.

use crate::{Batch, Change, Checkpoint, ConnectorError, Http, Pass};

use super::map;
use super::objects::encode;
use super::wire::Page;

/// Owners per page (HubSpot's maximum for the owners API).
pub const OWNER_LIMIT: usize = 500;

fn batch(changes: Vec<Change>, skipped: Vec<crate::Skip>, next: Option<Checkpoint>) -> Batch {
    let done = next.is_none();
    Batch {
        changes,
        skipped,
        pass: Pass::Full,
        // A full pass again next time: the engine sweeps what this one did not see.
        checkpoint: next.unwrap_or_else(Checkpoint::full),
        done,
    }
}

/// One page of owners.
pub(crate) async fn owners(http: &Http, checkpoint: &Checkpoint) -> Result<Batch, ConnectorError> {
    let mut cp = if checkpoint.pass == Pass::Full && checkpoint.phase <= 1 {
        checkpoint.clone()
    } else {
        Checkpoint::full()
    };
    let archived = cp.phase == 1;
    let mut path = format!("/crm/v3/owners?limit={OWNER_LIMIT}&archived={archived}");
    if let Some(after) = &cp.page {
        path.push_str("&after=");
        path.push_str(&encode(after));
    }
    let first = cp.at_start();
    let page: Page = http.get(&path).await?.json()?;
    if first {
        cp.begin(http.meter().server_ms());
    }
    let next = page.next().map(str::to_owned);
    let mut changes = Vec::with_capacity(page.results.len());
    let mut skipped = Vec::new();
    for raw in page.results {
        match map::owner(raw, archived) {
            Ok(r) => changes.push(Change::Upsert(r)),
            Err(s) => skipped.push(s),
        }
    }
    let next = match next {
        Some(after) if cp.page.as_deref() == Some(after.as_str()) => {
            return Err(ConnectorError::Malformed(
                "paging cursor did not advance".into(),
            ));
        }
        Some(after) => {
            cp.page = Some(after);
            Some(cp)
        }
        None if !archived => {
            cp.phase = 1;
            cp.page = None;
            Some(cp)
        }
        None => None,
    };
    Ok(batch(changes, skipped, next))
}

/// Every deal pipeline, in one page.
pub(crate) async fn pipelines(http: &Http) -> Result<Batch, ConnectorError> {
    let page: Page = http.get("/crm/v3/pipelines/deals").await?.json()?;
    let mut changes = Vec::with_capacity(page.results.len());
    let mut skipped = Vec::new();
    for raw in page.results {
        match map::pipeline(raw) {
            Ok(r) => changes.push(Change::Upsert(r)),
            Err(s) => skipped.push(s),
        }
    }
    Ok(batch(changes, skipped, None))
}
