//! Cursor pagination. Ids are UUIDv7, so ordering by id is ordering by creation, and
//! the cursor is simply the last id of the previous page.

/// A page request: how many, after which id.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<String>,
}

/// The largest page a client may ask for.
pub const MAX_LIMIT: u32 = 200;

impl PageRequest {
    pub fn new(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, &'static str> {
        let limit = limit.unwrap_or(50);
        if limit == 0 || limit > MAX_LIMIT {
            return Err("limit must be between 1 and 200");
        }
        let after = match cursor {
            None | Some("") => None,
            Some(c) => Some(Cursor::decode(c).ok_or("cursor is not valid")?.0),
        };
        Ok(Self { limit, after })
    }

    /// The lowest possible id: every real id sorts after it.
    pub(crate) fn after_or_start(&self) -> String {
        self.after.clone().unwrap_or_default()
    }

    pub(crate) fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

/// An opaque cursor (the hex of the last id seen).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor(pub String);

impl Cursor {
    pub fn encode(id: &str) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(id.len() * 2);
        for b in id.bytes() {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        out
    }

    pub fn decode(text: &str) -> Option<Self> {
        if !text.len().is_multiple_of(2) || text.len() > 128 {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
            .collect();
        let id = String::from_utf8(bytes?).ok()?;
        uuid::Uuid::parse_str(&id).ok()?;
        Some(Self(id))
    }
}

/// One page of results.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Build a page from `limit + 1` fetched rows.
    pub(crate) fn from_rows(mut items: Vec<T>, limit: u32, id: impl Fn(&T) -> String) -> Self {
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|last| Cursor::encode(&id(last)))
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_as_lowercase_hex() {
        let id = "0193a6b2-0000-7000-8000-0000000000aa";
        let encoded = Cursor::encode(id);
        let old: String = id.bytes().map(|b| format!("{b:02x}")).collect();
        assert_eq!(encoded, old);
        assert_eq!(Cursor::decode(&encoded), Some(Cursor(id.to_owned())));
    }
}
