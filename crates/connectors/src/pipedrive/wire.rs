//! Pipedrive's payloads as typed, borrowing structs, and their mapping into the
//! canonical model.
//!
//! Pages are parsed once into `Vec<&RawValue>` (no copy of the body), then each record
//! into a struct whose text fields borrow from the page. Every field is lenient: a
//! field of an unexpected type reads as absent rather than failing the record (v1 ids
//! may be objects with a `value`, flags may be `0`/`1`), so only a record that is not a
//! JSON object at all, or has no id, becomes a [`Skip`].

use std::borrow::Cow;
use std::fmt;

use domain::crm::{
    Activity, ActivityType, Amount, Company, Contact, Deal, Owner, Pipeline, Record, RecordData,
    Stage, clean_text, currency_code, email_key,
};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::Skip;

/// Caps on free text (characters).
const NAME_MAX: usize = 300;
const SUBJECT_MAX: usize = 500;
const BODY_MAX: usize = 20_000;

/// Skip reasons (short and stable; no record contents).
pub(super) const MALFORMED: &str = "malformed record";
pub(super) const NO_ID: &str = "missing id";

/// A v2 list page: `{"success":…,"data":[…],"additional_data":{"next_cursor":…}}`.
#[derive(Debug, Deserialize)]
pub(super) struct V2Page<'a> {
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(borrow, default)]
    pub data: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    pub additional_data: Option<V2Extra>,
}

/// `additional_data` of a v2 page.
#[derive(Debug, Default, Deserialize)]
pub(super) struct V2Extra {
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// A v1 list page: `{"success":…,"data":[…]|null,"additional_data":{"pagination":…}}`.
#[derive(Debug, Deserialize)]
pub(super) struct V1Page<'a> {
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(borrow, default)]
    pub data: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    pub additional_data: Option<V1Extra>,
}

/// `additional_data` of a v1 page.
#[derive(Debug, Default, Deserialize)]
pub(super) struct V1Extra {
    #[serde(default)]
    pub pagination: Option<Pagination>,
}

/// v1 offset pagination.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Pagination {
    #[serde(default)]
    pub more_items_in_collection: Flag,
    #[serde(default)]
    pub next_start: Id,
}

/// Consume whatever compound value a lenient visitor does not want.
macro_rules! ignore_compound {
    () => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
}

/// A string field; anything else reads as absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Text<'a>(pub Option<Cow<'a, str>>);

impl Text<'_> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v))))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    ignore_compound!();
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

/// An id: a non-negative integer, a numeric string, or (v1) an object with `value`/`id`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Id(pub Option<u64>);

struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = Id;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an id")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
        Ok(Id(Some(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
        Ok(Id(u64::try_from(v).ok()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Id, E> {
        let whole = v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 9.0e15;
        Ok(Id(whole.then_some(v as u64)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
        Ok(Id(v.trim().parse().ok()))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Id, E> {
        Ok(Id(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Id, E> {
        Ok(Id(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Id, E> {
        Ok(Id(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Id, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Id, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Id(None))
    }
    /// v1 related objects: `{"id":7,"name":…,"value":7}`.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Id, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.get() {
                Some("value" | "id") if found.is_none() => found = map.next_value::<Id>()?.0,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Id(found))
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IdVisitor)
    }
}

/// A flag: `true`/`false`, `1`/`0` (v1), or their strings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Flag(pub Option<bool>);

impl Flag {
    pub fn is(self) -> bool {
        self.0 == Some(true)
    }
}

struct FlagVisitor;

impl<'de> Visitor<'de> for FlagVisitor {
    type Value = Flag;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a flag")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
        Ok(Flag(Some(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Flag, E> {
        Ok(Flag(Some(v != 0)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Flag, E> {
        Ok(Flag(Some(v != 0)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Flag, E> {
        Ok(Flag(Some(v != 0.0)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Flag, E> {
        Ok(Flag(match v.trim() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        }))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Flag, E> {
        Ok(Flag(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Flag, E> {
        Ok(Flag(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Flag, D::Error> {
        d.deserialize_any(self)
    }
    ignore_compound!();
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FlagVisitor)
    }
}

/// A number (or numeric string).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Num(pub Option<f64>);

struct NumVisitor;

impl<'de> Visitor<'de> for NumVisitor {
    type Value = Num;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
        Ok(Num(Some(v as f64)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
        Ok(Num(Some(v as f64)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
        Ok(Num(v.is_finite().then_some(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
        Ok(Num(v.trim().parse::<f64>().ok().filter(|x| x.is_finite())))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Num, E> {
        Ok(Num(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Num, E> {
        Ok(Num(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Num, E> {
        Ok(Num(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Num, D::Error> {
        d.deserialize_any(self)
    }
    ignore_compound!();
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumVisitor)
    }
}

/// A person's emails or phones: `[{"value":…,"primary":…,"label":…}]` (v1 may send a
/// bare string). The primary entry, else the first with a value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Channels<'a>(pub Option<Cow<'a, str>>);

#[derive(Default)]
struct ChannelEntry<'a> {
    value: Option<Cow<'a, str>>,
    primary: bool,
}

struct ChannelEntryVisitor;

impl<'de> Visitor<'de> for ChannelEntryVisitor {
    type Value = ChannelEntry<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an email or phone entry")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(ChannelEntry {
            value: Some(Cow::Borrowed(v)),
            primary: false,
        })
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(ChannelEntry {
            value: Some(Cow::Owned(v.to_owned())),
            primary: false,
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entry = ChannelEntry::default();
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.get() {
                Some("value") => entry.value = map.next_value::<Text<'de>>()?.0,
                Some("primary") => entry.primary = map.next_value::<Flag>()?.is(),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(entry)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(ChannelEntry::default())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(ChannelEntry::default())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(ChannelEntry::default())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(ChannelEntry::default())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(ChannelEntry::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(ChannelEntry::default())
    }
}

impl<'de> Deserialize<'de> for ChannelEntry<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ChannelEntryVisitor)
    }
}

struct ChannelsVisitor;

impl<'de> Visitor<'de> for ChannelsVisitor {
    type Value = Channels<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of emails or phones")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut first = None;
        let mut primary = None;
        while let Some(entry) = seq.next_element::<ChannelEntry<'de>>()? {
            let Some(value) = entry.value.filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            if entry.primary && primary.is_none() {
                primary = Some(value);
            } else if first.is_none() {
                first = Some(value);
            }
        }
        Ok(Channels(primary.or(first)))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Channels(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Channels(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Channels(None))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Channels(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Channels(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Channels(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Channels(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Channels(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Channels(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Channels<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ChannelsVisitor)
    }
}

/// `GET /v1/users` entry.
#[derive(Debug, Deserialize)]
pub(super) struct UserWire<'a> {
    #[serde(default)]
    id: Id,
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(borrow, default)]
    email: Text<'a>,
    #[serde(default)]
    active_flag: Flag,
    #[serde(default)]
    is_deleted: Flag,
    #[serde(borrow, default)]
    modified: Text<'a>,
    #[serde(borrow, default)]
    created: Text<'a>,
}

/// `GET /api/v2/pipelines` entry.
#[derive(Debug, Deserialize)]
pub(super) struct PipelineWire<'a> {
    #[serde(default)]
    pub id: Id,
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(default)]
    order_nr: Num,
    #[serde(default)]
    pub is_deleted: Flag,
    #[serde(borrow, default)]
    add_time: Text<'a>,
    #[serde(borrow, default)]
    update_time: Text<'a>,
}

/// `GET /api/v2/stages` entry.
#[derive(Debug, Deserialize)]
pub(super) struct StageWire<'a> {
    #[serde(default)]
    pub id: Id,
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(default)]
    order_nr: Num,
    #[serde(default)]
    deal_probability: Num,
    #[serde(default)]
    pub pipeline_id: Id,
    #[serde(default)]
    pub is_deleted: Flag,
    #[serde(borrow, default)]
    add_time: Text<'a>,
    #[serde(borrow, default)]
    update_time: Text<'a>,
}

/// `GET /api/v2/organizations` entry.
#[derive(Debug, Deserialize)]
struct OrgWire<'a> {
    #[serde(default)]
    id: Id,
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(default)]
    owner_id: Id,
    #[serde(default)]
    is_deleted: Flag,
    #[serde(borrow, default)]
    add_time: Text<'a>,
    #[serde(borrow, default)]
    update_time: Text<'a>,
}

/// `GET /api/v2/persons` entry.
#[derive(Debug, Deserialize)]
struct PersonWire<'a> {
    #[serde(default)]
    id: Id,
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(borrow, default)]
    first_name: Text<'a>,
    #[serde(borrow, default)]
    last_name: Text<'a>,
    #[serde(default)]
    owner_id: Id,
    #[serde(default)]
    org_id: Id,
    #[serde(borrow, default)]
    emails: Channels<'a>,
    #[serde(borrow, default)]
    phones: Channels<'a>,
    #[serde(borrow, default)]
    job_title: Text<'a>,
    #[serde(default)]
    is_deleted: Flag,
    #[serde(borrow, default)]
    add_time: Text<'a>,
    #[serde(borrow, default)]
    update_time: Text<'a>,
}

/// `GET /api/v2/deals` entry.
#[derive(Debug, Deserialize)]
struct DealWire<'a> {
    #[serde(default)]
    id: Id,
    #[serde(borrow, default)]
    title: Text<'a>,
    #[serde(default)]
    owner_id: Id,
    #[serde(default)]
    person_id: Id,
    #[serde(default)]
    org_id: Id,
    #[serde(default)]
    pipeline_id: Id,
    #[serde(default)]
    stage_id: Id,
    #[serde(default)]
    value: Option<serde_json::Value>,
    #[serde(borrow, default)]
    currency: Text<'a>,
    #[serde(borrow, default)]
    status: Text<'a>,
    #[serde(default)]
    is_deleted: Flag,
    #[serde(borrow, default)]
    expected_close_date: Text<'a>,
    #[serde(borrow, default)]
    add_time: Text<'a>,
    #[serde(borrow, default)]
    update_time: Text<'a>,
    #[serde(borrow, default)]
    close_time: Text<'a>,
    #[serde(borrow, default)]
    won_time: Text<'a>,
    #[serde(borrow, default)]
    lost_time: Text<'a>,
}

/// `GET /api/v2/activities` entry.
#[derive(Debug, Deserialize)]
struct ActivityWire<'a> {
    #[serde(default)]
    id: Id,
    #[serde(borrow, default)]
    subject: Text<'a>,
    #[serde(borrow, default, rename = "type")]
    kind: Text<'a>,
    #[serde(default)]
    owner_id: Id,
    #[serde(default)]
    user_id: Id,
    #[serde(default)]
    deal_id: Id,
    #[serde(default)]
    person_id: Id,
    #[serde(default)]
    org_id: Id,
    #[serde(borrow, default)]
    due_date: Text<'a>,
    #[serde(borrow, default)]
    due_time: Text<'a>,
    #[serde(borrow, default)]
    duration: Text<'a>,
    #[serde(borrow, default)]
    note: Text<'a>,
    #[serde(borrow, default)]
    public_description: Text<'a>,
    #[serde(default)]
    is_deleted: Flag,
    #[serde(borrow, default)]
    add_time: Text<'a>,
    #[serde(borrow, default)]
    update_time: Text<'a>,
}

/// `GET /v1/notes` entry.
#[derive(Debug, Deserialize)]
struct NoteWire<'a> {
    #[serde(default)]
    id: Id,
    #[serde(default)]
    user_id: Id,
    #[serde(default)]
    deal_id: Id,
    #[serde(default)]
    person_id: Id,
    #[serde(default)]
    org_id: Id,
    #[serde(borrow, default)]
    content: Text<'a>,
    #[serde(default)]
    active_flag: Flag,
    #[serde(borrow, default)]
    add_time: Text<'a>,
    #[serde(borrow, default)]
    update_time: Text<'a>,
}

/// What one provider record becomes.
// Upserts are the common case by far (as in `Change`): boxing them would cost an
// allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(super) enum Mapped {
    Upsert(Record),
    Delete(String),
    Skip(Skip),
}

fn skip(id: Option<String>, reason: &str) -> Mapped {
    Mapped::Skip(Skip {
        external_id: id,
        reason: reason.to_owned(),
    })
}

fn id_string(id: Id) -> Option<String> {
    id.0.map(|i| i.to_string())
}

/// A record as `T`, if it is a JSON object (serde would also take an array, by position).
fn object<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Result<T, ()> {
    if !raw.get().trim_start().starts_with('{') {
        return Err(());
    }
    serde_json::from_str(raw.get()).map_err(|_| ())
}

/// The id of a record that failed to parse, if it has a readable one.
fn salvage_id(raw: &RawValue) -> Option<u64> {
    #[derive(Deserialize)]
    struct Bare {
        #[serde(default)]
        id: Id,
    }
    object::<Bare>(raw).ok()?.id.0
}

fn record(external_id: String, updated_at_ms: i64, data: RecordData, raw: &RawValue) -> Mapped {
    Mapped::Upsert(Record {
        external_id,
        updated_at_ms,
        data,
        raw: raw.to_owned(),
    })
}

/// The modification time: `update_time`, else `add_time`, else 0.
fn modified_ms(update: &Text, add: &Text) -> i64 {
    update
        .get()
        .and_then(parse_time_ms)
        .or_else(|| add.get().and_then(parse_time_ms))
        .unwrap_or(0)
}

fn secs(t: &Text) -> Option<i64> {
    t.get()
        .and_then(parse_time_ms)
        .map(|ms| ms.div_euclid(1000))
}

/// A v1 user as an owner (deleted and deactivated users stay, inactive).
pub(super) fn owner(raw: &RawValue) -> Mapped {
    let Ok(u) = object::<UserWire>(raw) else {
        return skip(salvage_id(raw).map(|i| i.to_string()), MALFORMED);
    };
    let Some(id) = id_string(u.id) else {
        return skip(None, NO_ID);
    };
    let data = RecordData::Owner(Owner {
        email: email_key(u.email.get()),
        name: clean_text(u.name.get(), NAME_MAX).unwrap_or_default(),
        active: u.active_flag.0.unwrap_or(true) && !u.is_deleted.is(),
    });
    record(id, modified_ms(&u.modified, &u.created), data, raw)
}

/// Pipelines with their stages (stages of other or deleted pipelines are dropped).
/// Returns the mapped pipelines and the skips among pipelines and stages.
pub(super) fn pipelines(
    pipelines: &[Box<RawValue>],
    stages: &[Box<RawValue>],
) -> (Vec<Record>, Vec<Skip>) {
    let mut skipped = Vec::new();
    let mut parsed_stages: Vec<(u64, f64, u64, Stage, i64)> = Vec::new();
    for raw in stages {
        let Ok(s) = object::<StageWire>(raw) else {
            skipped.push(Skip {
                external_id: salvage_id(raw).map(|i| format!("stage:{i}")),
                reason: MALFORMED.into(),
            });
            continue;
        };
        let (Some(id), Some(pipeline)) = (s.id.0, s.pipeline_id.0) else {
            skipped.push(Skip {
                external_id: s.id.0.map(|i| format!("stage:{i}")),
                reason: NO_ID.into(),
            });
            continue;
        };
        if s.is_deleted.is() {
            continue;
        }
        let order = s.order_nr.0.unwrap_or(0.0);
        let stage = Stage {
            external_id: id.to_string(),
            label: clean_text(s.name.get(), NAME_MAX).unwrap_or_default(),
            display_order: order as i64,
            probability: s.deal_probability.0.filter(|p| (0.0..=100.0).contains(p)),
            // Pipedrive stages are all open: a deal's own status says won or lost.
            is_closed: false,
            is_won: false,
        };
        parsed_stages.push((
            pipeline,
            order,
            id,
            stage,
            modified_ms(&s.update_time, &s.add_time),
        ));
    }
    parsed_stages.sort_by(|a, b| {
        (a.0, a.1, a.2)
            .partial_cmp(&(b.0, b.1, b.2))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut out = Vec::new();
    for raw in pipelines {
        let Ok(p) = object::<PipelineWire>(raw) else {
            skipped.push(Skip {
                external_id: salvage_id(raw).map(|i| i.to_string()),
                reason: MALFORMED.into(),
            });
            continue;
        };
        let Some(id) = p.id.0 else {
            skipped.push(Skip {
                external_id: None,
                reason: NO_ID.into(),
            });
            continue;
        };
        if p.is_deleted.is() {
            continue;
        }
        let mut updated = modified_ms(&p.update_time, &p.add_time);
        let mut stages = Vec::new();
        for (pipeline, _, _, stage, ms) in &parsed_stages {
            if *pipeline == id {
                updated = updated.max(*ms);
                stages.push(stage.clone());
            }
        }
        let data = RecordData::Pipeline(Pipeline {
            label: clean_text(p.name.get(), NAME_MAX).unwrap_or_default(),
            display_order: p.order_nr.0.unwrap_or(0.0) as i64,
            stages,
        });
        out.push(Record {
            external_id: id.to_string(),
            updated_at_ms: updated,
            data,
            raw: raw.clone(),
        });
    }
    (out, skipped)
}

/// The v2 listings mapped record by record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum V2Kind {
    Organizations,
    Persons,
    Deals,
    Activities,
}

/// Map one v2 record; `saw` gets its modification time (deletions included).
pub(super) fn v2_record(kind: V2Kind, raw: &RawValue, saw: &mut impl FnMut(i64)) -> Mapped {
    match kind {
        V2Kind::Organizations => organization(raw, saw),
        V2Kind::Persons => person(raw, saw),
        V2Kind::Deals => deal(raw, saw),
        V2Kind::Activities => activity(raw, saw),
    }
}

fn organization(raw: &RawValue, saw: &mut impl FnMut(i64)) -> Mapped {
    let Ok(o) = object::<OrgWire>(raw) else {
        return skip(salvage_id(raw).map(|i| i.to_string()), MALFORMED);
    };
    let Some(id) = id_string(o.id) else {
        return skip(None, NO_ID);
    };
    let updated = modified_ms(&o.update_time, &o.add_time);
    saw(updated);
    if o.is_deleted.is() {
        return Mapped::Delete(id);
    }
    let data = RecordData::Company(Company {
        name: clean_text(o.name.get(), NAME_MAX).unwrap_or_default(),
        // Website, domain and industry are custom fields in Pipedrive.
        domain: None,
        industry: None,
        owner: id_string(o.owner_id),
    });
    record(id, updated, data, raw)
}

fn person(raw: &RawValue, saw: &mut impl FnMut(i64)) -> Mapped {
    let Ok(p) = object::<PersonWire>(raw) else {
        return skip(salvage_id(raw).map(|i| i.to_string()), MALFORMED);
    };
    let Some(id) = id_string(p.id) else {
        return skip(None, NO_ID);
    };
    let updated = modified_ms(&p.update_time, &p.add_time);
    saw(updated);
    if p.is_deleted.is() {
        return Mapped::Delete(id);
    }
    let name = clean_text(p.name.get(), NAME_MAX).or_else(|| {
        let joined = [p.first_name.get(), p.last_name.get()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        clean_text(Some(&joined), NAME_MAX)
    });
    let data = RecordData::Contact(Contact {
        name: name.unwrap_or_default(),
        email: clean_text(p.emails.0.as_deref(), 320),
        phone: clean_text(p.phones.0.as_deref(), 100),
        title: clean_text(p.job_title.get(), NAME_MAX),
        owner: id_string(p.owner_id),
        company: id_string(p.org_id),
    });
    record(id, updated, data, raw)
}

fn deal(raw: &RawValue, saw: &mut impl FnMut(i64)) -> Mapped {
    let Ok(d) = object::<DealWire>(raw) else {
        return skip(salvage_id(raw).map(|i| i.to_string()), MALFORMED);
    };
    let Some(id) = id_string(d.id) else {
        return skip(None, NO_ID);
    };
    let updated = modified_ms(&d.update_time, &d.add_time);
    saw(updated);
    let status = d.status.get().map(str::trim);
    if d.is_deleted.is() || status == Some("deleted") {
        return Mapped::Delete(id);
    }
    // An absurd or unreadable amount keeps the deal, without an amount.
    let amount = d
        .value
        .as_ref()
        .and_then(|v| Amount::from_json(v).ok())
        .flatten();
    let (is_closed, is_won) = match status {
        Some("open") => (Some(false), Some(false)),
        Some("won") => (Some(true), Some(true)),
        Some("lost") => (Some(true), Some(false)),
        _ => (None, None),
    };
    let closed_at = secs(&d.close_time)
        .or_else(|| secs(&d.won_time))
        .or_else(|| secs(&d.lost_time))
        .filter(|_| is_closed == Some(true));
    let data = RecordData::Deal(Deal {
        name: clean_text(d.title.get(), NAME_MAX).unwrap_or_default(),
        amount,
        currency: currency_code(d.currency.get()),
        pipeline: id_string(d.pipeline_id),
        stage: id_string(d.stage_id),
        close_date: d
            .expected_close_date
            .get()
            .and_then(date)
            .map(str::to_owned),
        owner: id_string(d.owner_id),
        created_at: secs(&d.add_time),
        closed_at,
        is_closed,
        is_won,
        next_step: None,
        forecast_category: None,
        contacts: id_string(d.person_id).into_iter().collect(),
        company: id_string(d.org_id),
        stage_history: Vec::new(),
    });
    record(id, updated, data, raw)
}

/// Pipedrive's activity type keys (`call`, `meeting`, `task`, `deadline`, `email`,
/// `lunch`, and company-defined ones) in the canonical five.
pub(super) fn activity_type(key: Option<&str>) -> ActivityType {
    let key = key.unwrap_or_default().trim();
    let is = |k: &str| key.eq_ignore_ascii_case(k);
    if is("call") {
        ActivityType::Call
    } else if is("meeting") || is("lunch") {
        ActivityType::Meeting
    } else if is("email") {
        ActivityType::Email
    } else {
        ActivityType::Task
    }
}

fn activity(raw: &RawValue, saw: &mut impl FnMut(i64)) -> Mapped {
    let Ok(a) = object::<ActivityWire>(raw) else {
        return skip(salvage_id(raw).map(|i| format!("activity:{i}")), MALFORMED);
    };
    let Some(id) = a.id.0.map(|i| format!("activity:{i}")) else {
        return skip(None, NO_ID);
    };
    let updated = modified_ms(&a.update_time, &a.add_time);
    saw(updated);
    if a.is_deleted.is() {
        return Mapped::Delete(id);
    }
    let occurred_at = a
        .due_date
        .get()
        .and_then(|d| due_secs(d, a.due_time.get()))
        .or_else(|| secs(&a.add_time));
    let body = a.note.get().map(html_to_text);
    let body = clean_text(body.as_deref(), BODY_MAX)
        .or_else(|| clean_text(a.public_description.get(), BODY_MAX));
    let data = RecordData::Activity(Activity {
        activity_type: activity_type(a.kind.get()),
        direction: None,
        occurred_at,
        owner: id_string(if a.owner_id.0.is_some() {
            a.owner_id
        } else {
            a.user_id
        }),
        duration_secs: a.duration.get().and_then(duration_secs),
        outcome: None,
        subject: clean_text(a.subject.get(), SUBJECT_MAX),
        body,
        deal: id_string(a.deal_id),
        contact: id_string(a.person_id),
        company: id_string(a.org_id),
    });
    record(id, updated, data, raw)
}

/// The sort key of a note in a listing sorted by id (`(0, id)`) or by update time
/// (`(update second, id)`), and its mapping.
pub(super) fn note(
    raw: &RawValue,
    by_time: bool,
    saw: &mut impl FnMut(i64),
) -> (Option<(i64, u64)>, Mapped) {
    let Ok(n) = object::<NoteWire>(raw) else {
        let id = salvage_id(raw);
        return (
            id.filter(|_| !by_time).map(|i| (0, i)),
            skip(id.map(|i| format!("note:{i}")), MALFORMED),
        );
    };
    let Some(raw_id) = n.id.0 else {
        return (None, skip(None, NO_ID));
    };
    let updated = modified_ms(&n.update_time, &n.add_time);
    let key = if by_time {
        (updated.div_euclid(1000), raw_id)
    } else {
        (0, raw_id)
    };
    let id = format!("note:{raw_id}");
    saw(updated);
    if n.active_flag.0 == Some(false) {
        return (Some(key), Mapped::Delete(id));
    }
    let body = n.content.get().map(html_to_text);
    let data = RecordData::Activity(Activity {
        activity_type: ActivityType::Note,
        direction: None,
        occurred_at: secs(&n.add_time),
        owner: id_string(n.user_id),
        duration_secs: None,
        outcome: None,
        subject: None,
        body: clean_text(body.as_deref(), BODY_MAX),
        deal: id_string(n.deal_id),
        contact: id_string(n.person_id),
        company: id_string(n.org_id),
    });
    (Some(key), record(id, updated, data, raw))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(super) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of days since 1970-01-01.
pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// `YYYY-MM-DD` as days since the epoch, if it is a real date.
fn date_days(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (m, d) = (u32::try_from(m).ok()?, u32::try_from(d).ok()?);
    ((1..=12).contains(&m) && (1..=days_in_month(y, m)).contains(&d))
        .then(|| days_from_civil(y, m, d))
}

/// A `YYYY-MM-DD` date, validated.
fn date(s: &str) -> Option<&str> {
    let s = s.trim();
    date_days(s).map(|_| s)
}

/// Pipedrive times as epoch ms: v2 RFC 3339 (`2025-05-01T10:12:13Z`, fractions and
/// offsets allowed) and v1 `2025-05-01 10:12:13` (UTC).
pub(super) fn parse_time_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let days = date_days(s.get(0..10)?)?;
    let (h, mi, sec) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..3 {
            millis *= 10;
        }
    }
    let offset_secs = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let (oh, om) = (digits(&b[i + 1..i + 3])?, digits(&b[i + 4..i + 6])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    secs.checked_mul(1000)?.checked_add(millis)
}

/// `HH:MM` or `HH:MM:SS` as seconds.
fn clock_secs(s: &str) -> Option<i64> {
    let mut parts = s.trim().split(':');
    let h = digits(parts.next()?.as_bytes())?;
    let m = digits(parts.next()?.as_bytes())?;
    let sec = match parts.next() {
        Some(p) => digits(p.as_bytes())?,
        None => 0,
    };
    if parts.next().is_some() || m > 59 || sec > 59 {
        return None;
    }
    Some(h * 3600 + m * 60 + sec)
}

/// An activity's due date and (UTC) due time as epoch seconds.
fn due_secs(date: &str, time: Option<&str>) -> Option<i64> {
    let days = date_days(date.trim())?;
    let t = time
        .filter(|t| !t.trim().is_empty())
        .and_then(clock_secs)
        .filter(|t| *t < 86_400)
        .unwrap_or(0);
    Some(days * 86_400 + t)
}

/// An activity duration (`HH:MM`) as seconds.
fn duration_secs(s: &str) -> Option<i64> {
    clock_secs(s).filter(|d| *d > 0)
}

/// Rich text (Pipedrive notes are HTML) as plain text: tags dropped, block ends and
/// `<br>` as line breaks, common entities decoded. Plain text passes through untouched.
pub(super) fn html_to_text(s: &str) -> Cow<'_, str> {
    if !s.contains(['<', '&']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |e| e + 1);
            let tag = rest[1..end.saturating_sub(1).max(1)]
                .trim_start_matches('/')
                .split(|c: char| c.is_whitespace() || c == '/' || c == '>')
                .next()
                .unwrap_or_default();
            let closing = rest.as_bytes().get(1) == Some(&b'/');
            let is = |t: &str| tag.eq_ignore_ascii_case(t);
            if is("br")
                || (closing
                    && (is("p")
                        || is("div")
                        || is("li")
                        || is("tr")
                        || is("h1")
                        || is("h2")
                        || is("h3")))
            {
                out.push('\n');
            }
            rest = &rest[end..];
        } else {
            let end = rest[1..]
                .find(|c: char| c == ';' || c == '&' || c == '<' || c.is_whitespace())
                .map(|e| e + 1);
            let (decoded, used) = match end {
                Some(e) if rest.as_bytes().get(e) == Some(&b';') => (entity(&rest[1..e]), e + 1),
                _ => (None, 1),
            };
            match decoded {
                Some(c) => out.push(c),
                None => out.push_str(&rest[..used]),
            }
            rest = &rest[used..];
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => {
            let code = name.strip_prefix('#')?;
            let n = match code.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => code.parse().ok()?,
            };
            char::from_u32(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).expect("json")
    }

    #[test]
    fn times_parse_in_both_formats() {
        assert_eq!(
            parse_time_ms("2025-05-01T10:12:13Z"),
            Some(1_746_094_333_000)
        );
        assert_eq!(
            parse_time_ms("2025-05-01T10:12:13.456Z"),
            Some(1_746_094_333_456)
        );
        assert_eq!(
            parse_time_ms("2025-05-01T11:12:13.4+01:00"),
            Some(1_746_094_333_400)
        );
        assert_eq!(
            parse_time_ms("2025-05-01 10:12:13"),
            Some(1_746_094_333_000)
        );
        for bad in [
            "",
            "2025-05-01",
            "2025-02-30 10:00:00",
            "2025-05-01T25:00:00Z",
            "2025-05-01T10:12:13X",
            "0000-00-00 00:00:00",
            "2025-05-01T10:12:13.Z",
        ] {
            assert_eq!(parse_time_ms(bad), None, "{bad}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        for d in [-800_000, -1, 0, 20_000, 2_000_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn html_becomes_text() {
        assert_eq!(html_to_text("plain"), "plain");
        assert_eq!(
            html_to_text("<p>Hi &amp; bye</p><p>next<br/>line</p>"),
            "Hi & bye\nnext\nline\n"
        );
        assert_eq!(
            html_to_text("a &lt; b &#233; &#x41; &bogus; & <"),
            "a < b é A &bogus; & "
        );
        assert_eq!(html_to_text("<b"), "");
    }

    #[test]
    fn lenient_fields() {
        let d: DealWire = serde_json::from_str(
            r#"{"id":"12","title":7,"owner_id":{"id":3,"name":"x","value":3},"person_id":null,"org_id":[1],"value":"12.5","is_deleted":0,"status":"won"}"#,
        )
        .expect("lenient");
        assert_eq!(d.id, Id(Some(12)));
        assert_eq!(d.title, Text(None));
        assert_eq!(d.owner_id, Id(Some(3)));
        assert_eq!(d.org_id, Id(None));
        assert_eq!(d.is_deleted, Flag(Some(false)));
        let p: PersonWire = serde_json::from_str(
            r#"{"id":1,"emails":[{"value":"","primary":true},{"value":"b@x.io","primary":false},{"value":"c@x.io","primary":true}],"phones":"555"}"#,
        )
        .expect("lenient");
        assert_eq!(p.emails.0.as_deref(), Some("c@x.io"));
        assert_eq!(p.phones.0.as_deref(), Some("555"));
    }

    #[test]
    fn bad_records_are_skipped_not_fatal() {
        let mut saw = |_| {};
        for (json, reason) in [
            ("[1,2]", MALFORMED),
            ("\"x\"", MALFORMED),
            ("{}", NO_ID),
            ("{\"id\":-3}", NO_ID),
        ] {
            match deal(&raw(json), &mut saw) {
                Mapped::Skip(s) => assert_eq!(s.reason, reason, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
    }

    #[test]
    fn deals_map_status_amount_and_links() {
        let mut seen = Vec::new();
        let r = raw(
            r#"{"id":42,"title":" ACME renewal ","owner_id":7,"person_id":901,"org_id":55,"pipeline_id":1,"stage_id":3,"value":1e300,"currency":"usd","status":"lost","add_time":"2025-04-01T09:00:00Z","update_time":"2025-05-01T10:12:13Z","close_time":"2025-05-01T10:00:00Z","expected_close_date":"2025-06-30"}"#,
        );
        let Mapped::Upsert(rec) = deal(&r, &mut |ms| seen.push(ms)) else {
            panic!("not an upsert")
        };
        assert_eq!(seen, vec![1_746_094_333_000]);
        assert_eq!(rec.external_id, "42");
        let RecordData::Deal(d) = rec.data else {
            panic!("not a deal")
        };
        assert_eq!(d.name, "ACME renewal");
        assert_eq!(d.amount, None, "absurd amounts are dropped, the deal kept");
        assert_eq!(d.currency.as_deref(), Some("USD"));
        assert_eq!((d.is_closed, d.is_won), (Some(true), Some(false)));
        assert_eq!(d.closed_at, Some(1_746_093_600));
        assert_eq!(d.contacts, vec!["901".to_owned()]);
        assert_eq!(d.close_date.as_deref(), Some("2025-06-30"));
        let gone = raw(r#"{"id":43,"status":"deleted","update_time":"2025-05-01T10:12:13Z"}"#);
        assert!(matches!(deal(&gone, &mut |_| {}), Mapped::Delete(id) if id == "43"));
    }

    #[test]
    fn activity_types_and_times() {
        assert_eq!(activity_type(Some("CALL")), ActivityType::Call);
        assert_eq!(activity_type(Some("lunch")), ActivityType::Meeting);
        assert_eq!(activity_type(Some("deadline")), ActivityType::Task);
        assert_eq!(activity_type(Some("custom_demo")), ActivityType::Task);
        assert_eq!(activity_type(None), ActivityType::Task);
        assert_eq!(due_secs("2025-05-01", Some("10:12")), Some(1_746_094_320));
        assert_eq!(due_secs("2025-05-01", Some("")), Some(1_746_057_600));
        assert_eq!(duration_secs("01:20"), Some(4800));
        assert_eq!(duration_secs("00:00"), None);
    }

    #[test]
    fn nothing_panics_on_garbage() {
        // A deterministic stream of JSON-ish fragments spliced into records.
        let pieces = [
            "{",
            "}",
            "[",
            "]",
            "\"id\":",
            "1",
            "-1",
            "1e999",
            "\"x\"",
            "null",
            "true",
            ",",
            ":",
            "\"value\":",
            "\"emails\":",
            "\"due_date\":\"2025-13-40\"",
            "\"\\u0000\"",
            "{\"value\":[]}",
            "\"update_time\":\"9999-12-31T23:59:60+23:59\"",
            "\"note\":\"<p>&#xFFFFFFFF;&\"",
        ];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..5000 {
            let mut s = String::from("{");
            for _ in 0..(state % 12) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            if let Ok(r) = RawValue::from_string(s) {
                for kind in [
                    V2Kind::Organizations,
                    V2Kind::Persons,
                    V2Kind::Deals,
                    V2Kind::Activities,
                ] {
                    let _ = v2_record(kind, &r, &mut |_| {});
                }
                let _ = note(&r, true, &mut |_| {});
                let _ = owner(&r);
                let _ = pipelines(std::slice::from_ref(&r), std::slice::from_ref(&r));
            }
        }
    }
}
