//! An in-memory mirror that applies connector batches the way the sync engine does:
//! upserts keep the newest version (and a deal's held stage history when the connector
//! did not read it), deletions remove, and the end of a full pass sweeps away what that
//! pass did not see. Connector tests compare it with the mock's world.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use connectors::{Change, Checkpoint, Connector, ConnectorError, Pass};
use domain::crm::{ObjectKind, Record, RecordData};

/// What one pass cost and changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub pages: u64,
    pub upserts: u64,
    pub deletes: u64,
    pub skipped: u64,
    pub swept: u64,
}

#[derive(Default)]
pub struct Mirror {
    pub records: HashMap<ObjectKind, BTreeMap<String, Record>>,
    pub checkpoints: HashMap<ObjectKind, Checkpoint>,
}

impl Mirror {
    /// Run one complete pass of `kind` (full the first time, then whatever the
    /// connector's checkpoint says).
    pub async fn pass(
        &mut self,
        connector: &Connector,
        kind: ObjectKind,
    ) -> Result<PassReport, ConnectorError> {
        let mut report = PassReport::default();
        let mut seen: HashSet<String> = HashSet::new();
        let mut checkpoint = self.checkpoints.get(&kind).cloned().unwrap_or_default();
        loop {
            let batch = connector.fetch(kind, &checkpoint).await?;
            report.pages += 1;
            report.skipped += batch.skipped.len() as u64;
            let table = self.records.entry(kind).or_default();
            for change in batch.changes {
                match change {
                    Change::Upsert(mut record) => {
                        report.upserts += 1;
                        seen.insert(record.external_id.clone());
                        let old = table.get(&record.external_id);
                        if old.is_some_and(|old| old.updated_at_ms > record.updated_at_ms) {
                            continue;
                        }
                        // A deal whose history was not read keeps the one held.
                        if let (Some(old), RecordData::Deal(deal)) = (old, &mut record.data)
                            && deal.stage_history_kept
                            && let RecordData::Deal(held) = &old.data
                        {
                            deal.stage_history = held.stage_history.clone();
                            deal.stage_history_kept = false;
                        }
                        table.insert(record.external_id.clone(), record);
                    }
                    Change::Delete { external_id } => {
                        report.deletes += 1;
                        table.remove(&external_id);
                    }
                }
            }
            checkpoint = batch.checkpoint;
            if batch.done {
                if batch.pass == Pass::Full {
                    let before = table.len();
                    table.retain(|id, _| seen.contains(id));
                    report.swept = (before - table.len()) as u64;
                }
                break;
            }
            assert!(report.pages < 100_000, "a pass that never ends");
        }
        self.checkpoints.insert(kind, checkpoint);
        Ok(report)
    }

    /// One pass of every kind, in sync order.
    pub async fn sync_all(
        &mut self,
        connector: &Connector,
    ) -> Result<BTreeMap<ObjectKind, PassReport>, ConnectorError> {
        let mut out = BTreeMap::new();
        for kind in ObjectKind::ALL {
            out.insert(kind, self.pass(connector, kind).await?);
        }
        Ok(out)
    }

    pub fn ids(&self, kind: ObjectKind) -> BTreeSet<String> {
        self.records
            .get(&kind)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn get(&self, kind: ObjectKind, id: &str) -> Option<&Record> {
        self.records.get(&kind)?.get(id)
    }
}
