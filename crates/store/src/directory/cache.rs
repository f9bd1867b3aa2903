//! The per-instance cache of directories: one slot per organization holding the
//! directory of one version, bounded by [`super::MAX_CACHED_ORGS`] organizations and
//! [`super::MAX_CACHED_USERS`] users, least recently used out first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use domain::OrgId;

use super::{Directory, MAX_CACHED_ORGS, MAX_CACHED_USERS};

/// One cached organization: its directory (`None` when it is too large to cache) at a
/// version.
struct Slot {
    version: i64,
    directory: Option<Arc<Directory>>,
    last_used: AtomicU64,
}

/// Loads of one organization's directory take one of these (by organization), so a
/// burst of requests after a change loads it once, not once per request.
const LOAD_STRIPES: usize = 16;

/// The per-instance cache of directories, bounded by [`MAX_CACHED_ORGS`] and
/// [`MAX_CACHED_USERS`].
pub(crate) struct DirectoryCache {
    slots: RwLock<HashMap<OrgId, Slot>>,
    clock: AtomicU64,
    loads: [tokio::sync::Mutex<()>; LOAD_STRIPES],
}

impl Default for DirectoryCache {
    fn default() -> Self {
        Self {
            slots: RwLock::default(),
            clock: AtomicU64::default(),
            loads: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
        }
    }
}

/// What a look-up found.
pub(super) enum Cached {
    Hit(Option<Arc<Directory>>),
    Miss,
}

impl DirectoryCache {
    /// The lock a load of `org`'s directory holds.
    pub(super) fn load_lock(&self, org: OrgId) -> &tokio::sync::Mutex<()> {
        let stripe = usize::from(org.0.as_bytes()[15]) % LOAD_STRIPES;
        &self.loads[stripe]
    }

    pub(super) fn get(&self, org: OrgId, version: i64) -> Cached {
        let slots = match self.slots.read() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        match slots.get(&org) {
            Some(slot) if slot.version == version => {
                let now = self.clock.fetch_add(1, Ordering::Relaxed);
                slot.last_used.store(now, Ordering::Relaxed);
                Cached::Hit(slot.directory.clone())
            }
            _ => Cached::Miss,
        }
    }

    /// Keep `directory` (the newest load replaces whatever was there), then evict the
    /// least recently used organizations beyond the bounds.
    pub(super) fn put(&self, org: OrgId, version: i64, directory: Option<Arc<Directory>>) {
        let mut slots = match self.slots.write() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        slots.insert(
            org,
            Slot {
                version,
                directory,
                last_used: AtomicU64::new(now),
            },
        );
        let size = |s: &Slot| s.directory.as_ref().map_or(0, |d| d.len());
        let mut users: usize = slots.values().map(size).sum();
        while slots.len() > MAX_CACHED_ORGS || users > MAX_CACHED_USERS {
            let Some(oldest) = slots
                .iter()
                .filter(|(id, _)| **id != org)
                .min_by_key(|(_, s)| s.last_used.load(Ordering::Relaxed))
                .map(|(id, _)| *id)
            else {
                break;
            };
            if let Some(gone) = slots.remove(&oldest) {
                users -= size(&gone);
            }
        }
    }

    /// How many organizations are cached (for tests).
    pub(super) fn len(&self) -> usize {
        match self.slots.read() {
            Ok(s) => s.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_the_bound_and_drops_the_least_recently_used() {
        let cache = DirectoryCache::default();
        let orgs: Vec<OrgId> = (0..=MAX_CACHED_ORGS).map(|_| OrgId::new()).collect();
        let directory = Arc::new(Directory::new(Vec::new(), Vec::new()));
        for org in &orgs[..MAX_CACHED_ORGS] {
            cache.put(*org, 1, Some(directory.clone()));
        }
        // Only the version read by the session check matches.
        assert!(matches!(cache.get(orgs[0], 2), Cached::Miss));
        // Using the first makes the second the least recently used.
        assert!(matches!(cache.get(orgs[0], 1), Cached::Hit(Some(_))));
        cache.put(orgs[MAX_CACHED_ORGS], 1, None);
        assert_eq!(cache.len(), MAX_CACHED_ORGS);
        assert!(matches!(cache.get(orgs[1], 1), Cached::Miss));
        assert!(matches!(cache.get(orgs[0], 1), Cached::Hit(Some(_))));
        assert!(matches!(
            cache.get(orgs[MAX_CACHED_ORGS], 1),
            Cached::Hit(None)
        ));
        // A newer load replaces the slot.
        cache.put(orgs[0], 3, Some(directory));
        assert!(matches!(cache.get(orgs[0], 1), Cached::Miss));
        assert!(matches!(cache.get(orgs[0], 3), Cached::Hit(Some(_))));
    }
}
