//! Owners and deal pipelines: small, so every pass is a full one. Owners are read in
//! two phases — active (`archived=false`), then deactivated (`archived=true`, mapped
//! with `active: false` so records they own still resolve) — 500 a page; pipelines
//! come in one answer with their stages.

use domain::crm::{Owner, Pipeline, Record, RecordData, Stage, clean_text, email_key};
use serde_json::value::RawValue;

use super::map::{NAME, skip};
use super::types::encode;
use super::values::{millis, nonempty, order};
use super::wire::{self, Page};
use crate::{Batch, Change, Checkpoint, ConnectorError, Http, Pass, Skip};

/// Owners per page (HubSpot's maximum for the owners API).
pub const OWNER_LIMIT: usize = 500;

fn batch(changes: Vec<Change>, skipped: Vec<Skip>, next: Option<Checkpoint>) -> Batch {
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
        match map_owner(raw, archived) {
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
        match map_pipeline(raw) {
            Ok(r) => changes.push(Change::Upsert(r)),
            Err(s) => skipped.push(s),
        }
    }
    Ok(batch(changes, skipped, None))
}

/// An owner; `archived_listing` when it came from the deactivated owners.
pub(crate) fn map_owner(raw: Box<RawValue>, archived_listing: bool) -> Result<Record, Skip> {
    if !raw.get().trim_start().starts_with('{') {
        return Err(skip(None, "not an object"));
    }
    let o: wire::Owner =
        serde_json::from_str(raw.get()).map_err(|_| skip(None, "unexpected shape"))?;
    let id = nonempty(o.id).ok_or_else(|| skip(None, "missing id"))?;
    let name = format!(
        "{} {}",
        o.first_name.as_deref().unwrap_or_default().trim(),
        o.last_name.as_deref().unwrap_or_default().trim()
    );
    let email = email_key(o.email.as_deref());
    let updated = o
        .updated_at
        .as_deref()
        .and_then(millis)
        .or_else(|| o.created_at.as_deref().and_then(millis));
    Ok(Record {
        data: RecordData::Owner(Owner {
            name: clean_text(Some(&name), NAME)
                .or_else(|| email.clone())
                .unwrap_or_else(|| id.clone()),
            email,
            active: !(archived_listing || o.archived == Some(true)),
        }),
        external_id: id,
        updated_at_ms: updated.unwrap_or(0),
        raw,
    })
}

/// A deal pipeline with its (unarchived) stages in display order.
pub(crate) fn map_pipeline(raw: Box<RawValue>) -> Result<Record, Skip> {
    if !raw.get().trim_start().starts_with('{') {
        return Err(skip(None, "not an object"));
    }
    let p: wire::Pipeline =
        serde_json::from_str(raw.get()).map_err(|_| skip(None, "unexpected shape"))?;
    let id = nonempty(p.id).ok_or_else(|| skip(None, "missing id"))?;
    let mut updated = p.updated_at.as_deref().and_then(millis).unwrap_or(0);
    let mut stages: Vec<Stage> = Vec::with_capacity(p.stages.len());
    for s in p.stages {
        let Some(stage_id) = nonempty(s.id) else {
            continue;
        };
        if s.archived == Some(true) {
            continue;
        }
        updated = updated.max(s.updated_at.as_deref().and_then(millis).unwrap_or(0));
        let meta = s.metadata.unwrap_or_default();
        let probability = meta
            .probability
            .as_deref()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && (0.0..=100.0).contains(v))
            .map(|v| if v <= 1.0 { v * 100.0 } else { v });
        let is_closed = meta.is_closed == Some(true);
        stages.push(Stage {
            label: clean_text(s.label.as_deref(), NAME).unwrap_or_else(|| stage_id.clone()),
            external_id: stage_id,
            display_order: order(s.display_order.as_deref()),
            is_won: is_closed && probability.is_some_and(|p| p >= 99.999),
            probability,
            is_closed,
        });
    }
    stages.sort_by(|a, b| (a.display_order, &a.label).cmp(&(b.display_order, &b.label)));
    Ok(Record {
        data: RecordData::Pipeline(Pipeline {
            label: clean_text(p.label.as_deref(), NAME).unwrap_or_else(|| id.clone()),
            display_order: order(p.display_order.as_deref()),
            stages,
        }),
        external_id: id,
        updated_at_ms: updated,
        raw,
    })
}
