//! A deterministic CRM dataset, generated from record indices on demand.
//!
//! Record `i` of a kind is a pure function of the seed and `i` (plus the record's
//! version once modified), so a world of a million records holds only what changed:
//! versions and modification times of modified records, and deletion times. Untouched
//! records were last modified at `base_ms + i` seconds (long before any sync), which
//! keeps "modified since T" answerable without sorting the whole world: untouched
//! records in index order, then the change log in time order.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use domain::crm::{ActivityType, ObjectKind};

/// The size and shape of a world.
#[derive(Clone, Debug)]
pub struct WorldSpec {
    pub seed: u64,
    /// CRM users (name, email). Emails that match Pitchside users map owners to reps.
    pub owners: Vec<(String, String)>,
    pub pipelines: usize,
    pub companies: u64,
    pub contacts: u64,
    pub deals: u64,
    pub activities: u64,
    /// A string put into every activity body (tests look for it in the database).
    pub body_marker: Option<String>,
    /// Spread the untouched records' creation and modification times evenly over this
    /// many days up to now (the demo's recent-looking history). `None`: one second
    /// apart, starting 400 days ago (long before any sync).
    pub history_days: Option<u32>,
}

impl WorldSpec {
    /// A small world for tests: 5 owners, 2 pipelines, 20 companies, 40 contacts, 30
    /// deals, 60 activities.
    pub fn small() -> Self {
        Self::sized(20, 40, 30, 60)
    }

    /// Generated owners and the given counts.
    pub fn sized(companies: u64, contacts: u64, deals: u64, activities: u64) -> Self {
        Self {
            seed: 42,
            owners: (0..5)
                .map(|i| {
                    let (first, last) = person_name(hash(7, 0, i));
                    (format!("{first} {last}"), format!("owner{i}@crm.example"))
                })
                .collect(),
            pipelines: 2,
            companies,
            contacts,
            deals,
            activities,
            body_marker: None,
            history_days: None,
        }
    }

    pub fn with_owners(mut self, owners: Vec<(String, String)>) -> Self {
        if !owners.is_empty() {
            self.owners = owners;
        }
        self
    }
}

/// Stages of every pipeline: label, probability %, closed, won.
pub const STAGES: [(&str, u32, bool, bool); 6] = [
    ("Appointment scheduled", 20, false, false),
    ("Qualified to buy", 40, false, false),
    ("Presentation scheduled", 60, false, false),
    ("Decision maker bought-in", 80, false, false),
    ("Closed won", 100, true, true),
    ("Closed lost", 0, true, false),
];

/// Pipeline labels, in order.
pub const PIPELINES: [&str; 3] = ["Sales Pipeline", "Renewals", "Partnerships"];

/// Common fields of every generated record.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    pub idx: u64,
    pub version: u32,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CompanySeed {
    pub meta: Meta,
    pub name: String,
    pub domain: String,
    pub industry: &'static str,
    pub owner: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ContactSeed {
    pub meta: Meta,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub title: &'static str,
    pub company: Option<u64>,
    pub owner: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DealSeed {
    pub meta: Meta,
    pub name: String,
    /// Whole currency units.
    pub amount: u64,
    pub currency: &'static str,
    pub pipeline: usize,
    /// Index into [`STAGES`].
    pub stage: usize,
    /// `YYYY-MM-DD`.
    pub close_date: String,
    pub owner: u64,
    pub company: Option<u64>,
    pub contacts: Vec<u64>,
    pub next_step: Option<String>,
    /// When the deal reached its closed stage, if it did.
    pub closed_ms: Option<i64>,
    /// The stages the deal went through, oldest first: (index into [`STAGES`], when it
    /// entered it). Version 0's stage at creation, then each version that moved it, at
    /// the time of that version (later versions leave these times as they were).
    pub stage_history: Vec<(usize, i64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ActivitySeed {
    pub meta: Meta,
    pub kind: ActivityType,
    pub occurred_ms: i64,
    pub owner: u64,
    pub subject: String,
    pub body: String,
    pub duration_secs: Option<u64>,
    pub inbound: bool,
    pub outcome: Option<&'static str>,
    pub deal: Option<u64>,
    pub contact: Option<u64>,
    pub company: Option<u64>,
}

/// Changes made since the world was created.
#[derive(Debug, Default)]
struct Changes {
    /// (kind, idx) → (version, updated_ms) of modified records.
    modified: HashMap<(ObjectKind, u64), (u32, i64)>,
    /// Per kind, (updated_ms, idx) of modified, live records.
    log: HashMap<ObjectKind, BTreeSet<(i64, u64)>>,
    /// (kind, idx) → deleted_ms.
    deleted: HashMap<(ObjectKind, u64), i64>,
    /// Per kind, (deleted_ms, idx).
    deletions: HashMap<ObjectKind, BTreeSet<(i64, u64)>>,
    /// Records created after the start, per kind (they follow the original indices).
    created: HashMap<ObjectKind, u64>,
    /// Creation times of those records.
    born: HashMap<(ObjectKind, u64), i64>,
    /// When each version of a modified deal was made, oldest first (its stage moves'
    /// times, which later versions leave as they were).
    deal_versions: HashMap<u64, Vec<i64>>,
    /// The last modification time handed out (strictly increasing).
    clock_ms: i64,
}

/// A deterministic, mutable CRM dataset.
#[derive(Debug)]
pub struct World {
    spec: WorldSpec,
    /// Untouched record `i` of a kind was last modified at `base_ms + i * step_ms(kind)`.
    base_ms: i64,
    /// Per kind (indexed by `ObjectKind as usize`), the time between untouched records.
    steps_ms: [i64; 6],
    /// Days since 1970 of the world's "today" (close dates are spread around it).
    today: i64,
    changes: Mutex<Changes>,
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl World {
    pub fn new(spec: WorldSpec) -> Self {
        let now = now_ms();
        let (base_ms, steps_ms) = match spec.history_days {
            // Each kind spread evenly over the history, its last record an hour ago.
            Some(days) => {
                let span = i64::from(days.max(1)) * 86_400_000 - 3_600_000;
                let counts = [
                    spec.owners.len() as u64,
                    spec.pipelines as u64,
                    spec.companies,
                    spec.contacts,
                    spec.deals,
                    spec.activities,
                ];
                (
                    now - i64::from(days.max(1)) * 86_400_000,
                    counts.map(|n| (span / n.max(1) as i64).max(1)),
                )
            }
            // Untouched records predate everything: the biggest kind spans at most
            // ~12 days at one second apart per million records; start 400 days back.
            None => (now - 400 * 86_400_000, [1000; 6]),
        };
        Self {
            spec,
            base_ms,
            steps_ms,
            today: now / 86_400_000,
            changes: Mutex::new(Changes::default()),
        }
    }

    fn step_ms(&self, kind: ObjectKind) -> i64 {
        self.steps_ms[kind as usize]
    }

    pub fn spec(&self) -> &WorldSpec {
        &self.spec
    }

    fn lock(&self) -> MutexGuard<'_, Changes> {
        match self.changes.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// How many indices a kind has used (live, deleted and created ones).
    pub fn count(&self, kind: ObjectKind) -> u64 {
        let base = match kind {
            ObjectKind::Owner => self.spec.owners.len() as u64,
            ObjectKind::Pipeline => self.spec.pipelines.min(PIPELINES.len()) as u64,
            ObjectKind::Company => self.spec.companies,
            ObjectKind::Contact => self.spec.contacts,
            ObjectKind::Deal => self.spec.deals,
            ObjectKind::Activity => self.spec.activities,
        };
        base + self.lock().created.get(&kind).copied().unwrap_or(0)
    }

    /// How many records of a kind exist now.
    pub fn live_count(&self, kind: ObjectKind) -> u64 {
        let deleted = self
            .lock()
            .deletions
            .get(&kind)
            .map_or(0, |d| d.len() as u64);
        self.count(kind) - deleted
    }

    pub fn is_live(&self, kind: ObjectKind, idx: u64) -> bool {
        idx < self.count(kind) && !self.lock().deleted.contains_key(&(kind, idx))
    }

    /// Version and modification time of record `idx` (live or not).
    pub fn meta(&self, kind: ObjectKind, idx: u64) -> Meta {
        let changes = self.lock();
        let created_ms = changes
            .born
            .get(&(kind, idx))
            .copied()
            .unwrap_or(self.base_ms + idx as i64 * self.step_ms(kind));
        match changes.modified.get(&(kind, idx)) {
            Some((version, updated_ms)) => Meta {
                idx,
                version: *version,
                created_ms: created_ms.min(*updated_ms),
                updated_ms: *updated_ms,
            },
            None => Meta {
                idx,
                version: 0,
                created_ms,
                updated_ms: created_ms,
            },
        }
    }

    /// Up to `limit` live indices after `after` (exclusive), in index order.
    pub fn page(&self, kind: ObjectKind, after: Option<u64>, limit: usize) -> Vec<u64> {
        let count = self.count(kind);
        let changes = self.lock();
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut i = after.map_or(0, |a| a + 1);
        while i < count && out.len() < limit {
            if !changes.deleted.contains_key(&(kind, i)) {
                out.push(i);
            }
            i += 1;
        }
        out
    }

    /// Live records modified at or after `since_ms`, ordered by (updated_ms, idx),
    /// strictly after `after` when given; at most `limit`.
    pub fn changed_since(
        &self,
        kind: ObjectKind,
        since_ms: i64,
        after: Option<(i64, u64)>,
        limit: usize,
    ) -> Vec<(i64, u64)> {
        let count = self.count(kind);
        let changes = self.lock();
        let mut out = Vec::new();
        let start = after
            .map_or((since_ms, 0), |(ms, idx)| (ms, idx + 1))
            .max((since_ms, 0));
        // Untouched records, in time (= index) order.
        let step = self.step_ms(kind);
        let first = ((start.0 - self.base_ms).max(0) as u64).div_ceil(step as u64);
        let mut i = first;
        while i < count && out.len() < limit {
            let ms = self.base_ms + i as i64 * step;
            if (ms, i) >= start
                && !changes.modified.contains_key(&(kind, i))
                && !changes.deleted.contains_key(&(kind, i))
            {
                out.push((ms, i));
            }
            i += 1;
        }
        if out.len() < limit
            && let Some(log) = changes.log.get(&kind)
        {
            out.extend(log.range(start..).take(limit - out.len()).copied());
        }
        out
    }

    /// Records deleted at or after `since_ms`, by time: (deleted_ms, idx).
    pub fn deleted_since(&self, kind: ObjectKind, since_ms: i64) -> Vec<(i64, u64)> {
        self.lock()
            .deletions
            .get(&kind)
            .map(|d| d.range((since_ms, 0)..).copied().collect())
            .unwrap_or_default()
    }

    /// Every deleted record of a kind: (deleted_ms, idx).
    pub fn deleted(&self, kind: ObjectKind) -> Vec<(i64, u64)> {
        self.deleted_since(kind, i64::MIN)
    }

    fn tick(changes: &mut Changes) -> i64 {
        changes.clock_ms = now_ms().max(changes.clock_ms + 1);
        changes.clock_ms
    }

    /// Modify record `idx`: a new version, modified now. No-op on deleted records.
    pub fn modify(&self, kind: ObjectKind, idx: u64) {
        self.modify_with(kind, idx, None);
    }

    /// Modify record `idx` as of `at_ms`, a past time after its last modification (a
    /// world whose records changed before a test's first sync). No-op on deleted records.
    pub fn modify_at(&self, kind: ObjectKind, idx: u64, at_ms: i64) {
        self.modify_with(kind, idx, Some(at_ms));
    }

    fn modify_with(&self, kind: ObjectKind, idx: u64, at_ms: Option<i64>) {
        if !self.is_live(kind, idx) {
            return;
        }
        let mut c = self.lock();
        let at = match at_ms {
            Some(at) => at,
            None => Self::tick(&mut c),
        };
        if kind == ObjectKind::Deal {
            c.deal_versions.entry(idx).or_default().push(at);
        }
        let previous = c.modified.get(&(kind, idx)).copied();
        if let Some((_, old)) = previous {
            c.log.entry(kind).or_default().remove(&(old, idx));
        }
        let version = previous.map_or(1, |(v, _)| v + 1);
        c.modified.insert((kind, idx), (version, at));
        c.log.entry(kind).or_default().insert((at, idx));
    }

    /// Delete record `idx` now.
    pub fn delete(&self, kind: ObjectKind, idx: u64) {
        if !self.is_live(kind, idx) {
            return;
        }
        let mut c = self.lock();
        let at = Self::tick(&mut c);
        if let Some((_, old)) = c.modified.get(&(kind, idx)).copied() {
            c.log.entry(kind).or_default().remove(&(old, idx));
        }
        c.deleted.insert((kind, idx), at);
        c.deletions.entry(kind).or_default().insert((at, idx));
    }

    /// Add `n` new records of a kind, created now; returns their indices.
    pub fn create(&self, kind: ObjectKind, n: u64) -> Vec<u64> {
        let first = self.count(kind);
        let mut c = self.lock();
        *c.created.entry(kind).or_default() += n;
        let new: Vec<u64> = (first..first + n).collect();
        for idx in &new {
            let at = Self::tick(&mut c);
            if kind == ObjectKind::Deal {
                c.deal_versions.insert(*idx, vec![at]);
            }
            c.modified.insert((kind, *idx), (1, at));
            c.born.insert((kind, *idx), at);
            c.log.entry(kind).or_default().insert((at, *idx));
        }
        new
    }

    /// Modify a `modify` fraction and delete a `delete` fraction of the live records of
    /// each syncable kind (companies, contacts, deals, activities), chosen
    /// deterministically from `salt`. Returns (modified, deleted) counts.
    pub fn churn(&self, modify: f64, delete: f64, salt: u64) -> (u64, u64) {
        let (mut modified, mut deleted) = (0, 0);
        for kind in [
            ObjectKind::Company,
            ObjectKind::Contact,
            ObjectKind::Deal,
            ObjectKind::Activity,
        ] {
            for idx in 0..self.count(kind) {
                let roll = (hash(salt, kind as u64 + 11, idx) % 1_000_000) as f64 / 1_000_000.0;
                if roll < delete {
                    if self.is_live(kind, idx) {
                        self.delete(kind, idx);
                        deleted += 1;
                    }
                } else if roll < delete + modify && self.is_live(kind, idx) {
                    self.modify(kind, idx);
                    modified += 1;
                }
            }
        }
        (modified, deleted)
    }

    fn h(&self, kind: ObjectKind, idx: u64, salt: u64) -> u64 {
        hash(
            self.spec.seed ^ salt.wrapping_mul(0x9E37_79B9),
            kind as u64,
            idx,
        )
    }

    fn owners(&self) -> u64 {
        self.spec.owners.len().max(1) as u64
    }

    /// Owner `idx`: (name, email).
    pub fn owner(&self, idx: u64) -> Option<(String, String)> {
        self.spec.owners.get(idx as usize).cloned()
    }

    pub fn company(&self, idx: u64) -> Option<CompanySeed> {
        if !self.is_live(ObjectKind::Company, idx) {
            return None;
        }
        let meta = self.meta(ObjectKind::Company, idx);
        let h = self.h(ObjectKind::Company, idx, 1);
        let name = format!(
            "{} {} {}",
            pick(ADJECTIVES, h),
            pick(NOUNS, h >> 8),
            pick(SUFFIXES, h >> 16)
        );
        let slug: String = name
            .split(' ')
            .take(2)
            .collect::<String>()
            .to_ascii_lowercase();
        Some(CompanySeed {
            name: format!("{name} {idx}"),
            domain: format!("{slug}{idx}.example"),
            industry: pick(INDUSTRIES, (h >> 24) + u64::from(meta.version)),
            owner: (h >> 32) % self.owners(),
            meta,
        })
    }

    pub fn contact(&self, idx: u64) -> Option<ContactSeed> {
        if !self.is_live(ObjectKind::Contact, idx) {
            return None;
        }
        let meta = self.meta(ObjectKind::Contact, idx);
        let h = self.h(ObjectKind::Contact, idx, 2);
        let (first, last) = person_name(h);
        let companies = self.spec.companies.max(1);
        let company =
            (!h.is_multiple_of(10) && self.spec.companies > 0).then_some((h >> 20) % companies);
        Some(ContactSeed {
            email: format!(
                "{}.{}{}@client{}.example",
                first.to_ascii_lowercase(),
                last.to_ascii_lowercase(),
                idx,
                company.unwrap_or(0)
            ),
            phone: format!("+1 555 {:03} {:04}", (h >> 8) % 1000, idx % 10_000),
            title: pick(TITLES, (h >> 40) + u64::from(meta.version)),
            company,
            owner: (h >> 32) % self.owners(),
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            meta,
        })
    }

    pub fn deal(&self, idx: u64) -> Option<DealSeed> {
        if !self.is_live(ObjectKind::Deal, idx) {
            return None;
        }
        let meta = self.meta(ObjectKind::Deal, idx);
        let h = self.h(ObjectKind::Deal, idx, 3);
        let v = u64::from(meta.version);
        let pipelines = self.count(ObjectKind::Pipeline).max(1);
        // Modifications move open deals along and change the amount.
        let stage_at = |version: u64| {
            let base_stage = (h % 6) as usize;
            if base_stage < 4 {
                (base_stage + version as usize).min(4 + (h as usize >> 3) % 2)
            } else {
                base_stage
            }
        };
        let stage = stage_at(v);
        let versions = self
            .lock()
            .deal_versions
            .get(&idx)
            .cloned()
            .unwrap_or_default();
        let mut stage_history = vec![(stage_at(0), meta.created_ms)];
        for k in 1..=v {
            let at = versions
                .get(k as usize - 1)
                .copied()
                .unwrap_or(meta.updated_ms);
            if stage_at(k) != stage_at(k - 1) {
                stage_history.push((stage_at(k), at));
            }
        }
        let company = (self.spec.companies > 0 && !h.is_multiple_of(8))
            .then(|| (h >> 12) % self.spec.companies.max(1));
        let contacts = if self.spec.contacts == 0 {
            Vec::new()
        } else {
            let n = 1 + (h >> 50) % 2;
            (0..n)
                .map(|k| hash(h, 99, k) % self.spec.contacts)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        // Close dates from a month ago to four months ahead of the world's today.
        let close_day = self.today - 30 + ((h >> 20) % 150) as i64;
        let closed = STAGES[stage].2;
        Some(DealSeed {
            name: format!(
                "{} - {}",
                company
                    .and_then(|c| self.company_name(c))
                    .unwrap_or_else(|| format!("Prospect {idx}")),
                pick(PRODUCTS, h >> 28)
            ),
            amount: (1 + (h >> 36) % 400) * 250 + v * 1000,
            currency: pick(&["USD", "USD", "USD", "EUR", "GBP"], h >> 44),
            pipeline: ((h >> 4) % pipelines) as usize,
            stage,
            close_date: civil_date(close_day),
            owner: (h >> 32) % self.owners(),
            company,
            contacts,
            next_step: (!closed).then(|| pick(NEXT_STEPS, h >> 52).to_owned()),
            closed_ms: closed.then_some(meta.updated_ms),
            stage_history,
            meta,
        })
    }

    fn company_name(&self, idx: u64) -> Option<String> {
        // The name of company idx whether or not it still lives (deal names are fixed).
        let h = self.h(ObjectKind::Company, idx, 1);
        Some(format!(
            "{} {} {} {idx}",
            pick(ADJECTIVES, h),
            pick(NOUNS, h >> 8),
            pick(SUFFIXES, h >> 16)
        ))
    }

    pub fn activity(&self, idx: u64) -> Option<ActivitySeed> {
        if !self.is_live(ObjectKind::Activity, idx) {
            return None;
        }
        let meta = self.meta(ObjectKind::Activity, idx);
        let h = self.h(ObjectKind::Activity, idx, 4);
        let kind = ActivityType::ALL[(h % 5) as usize];
        let deal = (self.spec.deals > 0 && h % 10 < 7).then(|| (h >> 8) % self.spec.deals);
        let contact =
            (self.spec.contacts > 0 && h % 10 < 8).then(|| (h >> 24) % self.spec.contacts);
        let company =
            (self.spec.companies > 0 && h % 10 < 5).then(|| (h >> 40) % self.spec.companies);
        let topic = pick(TOPICS, h >> 16);
        let mut subject = format!("{} about {topic}", kind_label(kind));
        if meta.version > 0 {
            subject.push_str(&format!(" (edited {})", meta.version));
        }
        let mut body = format!(
            "Discussed {topic}. {} Next: {}.",
            pick(BODIES, h >> 20),
            pick(NEXT_STEPS, h >> 30)
        );
        if let Some(marker) = &self.spec.body_marker {
            body.push(' ');
            body.push_str(marker);
        }
        Some(ActivitySeed {
            occurred_ms: meta.created_ms - ((h >> 44) % 7200) as i64 * 1000,
            owner: (h >> 32) % self.owners(),
            subject,
            body,
            duration_secs: matches!(kind, ActivityType::Call | ActivityType::Meeting)
                .then_some(60 * (5 + (h >> 48) % 55)),
            inbound: h.is_multiple_of(3),
            outcome: (kind == ActivityType::Call)
                .then(|| pick(&["Connected", "Left voicemail", "No answer"], h >> 56)),
            kind,
            deal,
            contact,
            company,
            meta,
        })
    }
}

/// splitmix64 over (seed, tag, idx): a fast, well-mixed, stable hash.
pub fn hash(seed: u64, tag: u64, idx: u64) -> u64 {
    let mut z = seed
        .wrapping_add(tag.wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add(idx.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<T: Copy>(items: &[T], h: u64) -> T {
    items[(h % items.len() as u64) as usize]
}

fn person_name(h: u64) -> (&'static str, &'static str) {
    (pick(FIRST_NAMES, h >> 3), pick(LAST_NAMES, h >> 13))
}

fn kind_label(kind: ActivityType) -> &'static str {
    match kind {
        ActivityType::Call => "Call",
        ActivityType::Email => "Email",
        ActivityType::Meeting => "Meeting",
        ActivityType::Note => "Note",
        ActivityType::Task => "Follow-up task",
    }
}

/// Days since 1970-01-01 as `YYYY-MM-DD` (proleptic Gregorian).
pub fn civil_date(days: i64) -> String {
    let date = time::Date::from_julian_day(2_440_588 + days as i32).unwrap_or(time::Date::MIN);
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

const FIRST_NAMES: &[&str] = &[
    "Ava", "Liam", "Maya", "Noah", "Zara", "Omar", "Ines", "Kenji", "Priya", "Lucas", "Amara",
    "Jonas", "Sofia", "Mateo", "Hana", "Elias", "Leila", "Tomas", "Nora", "Ravi",
];
const LAST_NAMES: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Haddad",
    "Silva",
    "Kowalski",
    "Nguyen",
    "Fischer",
    "Rossi",
    "Adeyemi",
    "Novak",
    "Costa",
    "Murphy",
    "Sato",
    "Larsen",
    "Patel",
    "Meyer",
    "Dubois",
    "Khan",
];
const ADJECTIVES: &[&str] = &[
    "Blue", "Northern", "Bright", "Summit", "Golden", "Iron", "Silver", "Rapid", "Harbor", "Cedar",
];
const NOUNS: &[&str] = &[
    "River", "Peak", "Forge", "Field", "Bridge", "Lantern", "Orchard", "Anchor", "Falcon", "Beacon",
];
const SUFFIXES: &[&str] = &[
    "Labs",
    "Systems",
    "Logistics",
    "Health",
    "Foods",
    "Partners",
];
const INDUSTRIES: &[&str] = &[
    "Software",
    "Manufacturing",
    "Healthcare",
    "Retail",
    "Logistics",
    "Financial Services",
];
const TITLES: &[&str] = &[
    "VP Sales",
    "Head of Operations",
    "CFO",
    "IT Director",
    "Procurement Manager",
    "CEO",
];
const PRODUCTS: &[&str] = &[
    "Platform licence",
    "Expansion",
    "Renewal",
    "Pilot",
    "Enterprise plan",
    "Services",
];
const NEXT_STEPS: &[&str] = &[
    "send proposal",
    "book technical demo",
    "security review",
    "pricing call",
    "intro to economic buyer",
    "draft contract",
];
const TOPICS: &[&str] = &[
    "pricing",
    "the pilot results",
    "integration scope",
    "renewal timing",
    "budget approval",
    "the security questionnaire",
];
const BODIES: &[&str] = &[
    "They liked the reporting module but worry about rollout time.",
    "Champion is on board; procurement wants a discount.",
    "Asked for two customer references in their industry.",
    "Decision moved to next quarter because of a reorg.",
    "Competitor pitched last week; we lead on support.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_world() {
        let a = World::new(WorldSpec::small());
        let b = World::new(WorldSpec::small());
        for i in 0..30 {
            let (x, y) = (a.deal(i).expect("live"), b.deal(i).expect("live"));
            assert_eq!((x.name, x.amount, x.stage), (y.name, y.amount, y.stage));
        }
        assert_eq!(a.activity(5).map(|x| x.body), b.activity(5).map(|x| x.body));
    }

    #[test]
    fn modifications_show_in_time_order_after_the_untouched_records() {
        let w = World::new(WorldSpec::small());
        let before = w.deal(3).expect("live");
        w.modify(ObjectKind::Deal, 3);
        w.modify(ObjectKind::Deal, 1);
        let after = w.deal(3).expect("live");
        assert_eq!(after.meta.version, 1);
        assert_ne!(before.amount, after.amount);
        let since = before.meta.updated_ms + 1;
        let changed = w.changed_since(ObjectKind::Deal, since, None, 100);
        let idx: Vec<u64> = changed.iter().map(|c| c.1).collect();
        // Untouched deals 4.. (modified after `since` by base time), then 3 and 1.
        assert_eq!(&idx[idx.len() - 2..], &[3, 1]);
        assert!(!idx[..idx.len() - 2].contains(&3));
        let resumed = w.changed_since(ObjectKind::Deal, since, Some(changed[0]), 100);
        assert_eq!(resumed.len(), changed.len() - 1);
        // Only the change log, when asking from after the base times.
        let fresh = w.changed_since(ObjectKind::Deal, changed[changed.len() - 2].0, None, 100);
        assert_eq!(fresh.iter().map(|c| c.1).collect::<Vec<_>>(), vec![3, 1]);
    }

    #[test]
    fn deletions_and_creations() {
        let w = World::new(WorldSpec::small());
        w.delete(ObjectKind::Contact, 2);
        assert!(w.contact(2).is_none());
        assert_eq!(w.live_count(ObjectKind::Contact), 39);
        assert!(!w.page(ObjectKind::Contact, None, 100).contains(&2));
        assert_eq!(w.deleted(ObjectKind::Contact).len(), 1);
        let new = w.create(ObjectKind::Contact, 3);
        assert_eq!(new, vec![40, 41, 42]);
        assert_eq!(w.live_count(ObjectKind::Contact), 42);
        assert!(w.contact(41).is_some());
    }

    #[test]
    fn churn_touches_about_the_fraction_asked() {
        let w = World::new(WorldSpec::sized(1000, 1000, 1000, 1000));
        let (modified, deleted) = w.churn(0.01, 0.002, 7);
        assert!((20..=60).contains(&modified), "{modified}");
        assert!((2..=20).contains(&deleted), "{deleted}");
    }

    #[test]
    fn a_recent_history_spreads_each_kind_up_to_now() {
        let mut spec = WorldSpec::sized(10, 20, 30, 400);
        spec.history_days = Some(60);
        let w = World::new(spec);
        let now = now_ms();
        let first = w.meta(ObjectKind::Activity, 0).updated_ms;
        let last = w.meta(ObjectKind::Activity, 399).updated_ms;
        assert!(
            (now - first - 60 * 86_400_000).abs() < 60_000,
            "{}",
            now - first
        );
        assert!(
            now - last > 3_000_000 && now - last < 3 * 86_400_000,
            "{}",
            now - last
        );
        // "Changed since" still sees untouched records in time order.
        let mid = w.meta(ObjectKind::Activity, 200).updated_ms;
        let changed = w.changed_since(ObjectKind::Activity, mid, None, 1000);
        assert_eq!(changed.first().map(|c| c.1), Some(200));
        assert_eq!(changed.len(), 200);
        // Deals close around today.
        let today = now / 86_400_000;
        for i in 0..30 {
            let d = w.deal(i).expect("deal");
            assert!(
                d.close_date >= civil_date(today - 30) && d.close_date <= civil_date(today + 120),
                "{}",
                d.close_date
            );
        }
    }

    #[test]
    fn dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_000), "2024-10-04");
    }
}
