//! Lenient field types for Pipedrive payloads. Each reads what Pipedrive sends (v2's
//! plain values, v1's `0`/`1` flags and `{"value":…}` related objects) and reads
//! anything else as absent instead of failing the record. Strings borrow from the page
//! when they have no escapes.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Sample<'a> {
        #[serde(borrow, default)]
        text: Text<'a>,
        #[serde(default)]
        id: Id,
        #[serde(default)]
        flag: Flag,
        #[serde(default)]
        num: Num,
        #[serde(borrow, default)]
        emails: Channels<'a>,
    }

    fn sample(json: &str) -> Sample<'_> {
        serde_json::from_str(json).expect("lenient")
    }

    #[test]
    fn expected_shapes() {
        let s = sample(
            r#"{"text":"plain","id":7,"flag":true,"num":12.5,"emails":[{"value":"a@x.io","primary":true}]}"#,
        );
        assert!(matches!(s.text.0, Some(Cow::Borrowed("plain"))));
        assert_eq!(
            (s.id, s.flag, s.num),
            (Id(Some(7)), Flag(Some(true)), Num(Some(12.5)))
        );
        assert_eq!(s.emails.0.as_deref(), Some("a@x.io"));
        let escaped = sample(r#"{"text":"a\nb"}"#);
        assert_eq!(escaped.text.get(), Some("a\nb"));
    }

    #[test]
    fn v1_shapes() {
        let s =
            sample(r#"{"id":{"name":"Ada","value":12},"flag":0,"num":"40","emails":"ada@x.io"}"#);
        assert_eq!(
            (s.id, s.flag, s.num),
            (Id(Some(12)), Flag(Some(false)), Num(Some(40.0)))
        );
        assert_eq!(s.emails.0.as_deref(), Some("ada@x.io"));
        assert_eq!(sample(r#"{"id":"15","flag":"1"}"#).id, Id(Some(15)));
    }

    #[test]
    fn odd_shapes_read_as_absent() {
        let s = sample(
            r#"{"text":{"a":[1,{"b":2}]},"id":-4,"flag":[true],"num":"NaN","emails":[7,null,{"value":""},{"value":"x@y.io"}]}"#,
        );
        assert_eq!(s.text, Text(None));
        assert_eq!(s.id, Id(None));
        assert_eq!(s.flag, Flag(None));
        assert_eq!(s.num, Num(None));
        assert_eq!(
            s.emails.0.as_deref(),
            Some("x@y.io"),
            "first non-empty value"
        );
        for id in ["1.5", "1e20", "true", "[1]", "\"x\""] {
            assert_eq!(sample(&format!("{{\"id\":{id}}}")).id, Id(None), "{id}");
        }
    }
}
