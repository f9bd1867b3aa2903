//! JSON written straight into a `String`: escaped strings and `properties` objects.

use super::objects::Object;

/// Append `s` as a JSON string.
pub(crate) fn esc(out: &mut String, s: &str) {
    out.push('"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
    } else {
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

/// A short string on the stack (times and ids), so rendering a record allocates less.
pub(crate) struct Small {
    buf: [u8; 32],
    len: usize,
}

impl std::ops::Deref for Small {
    type Target = str;
    fn deref(&self) -> &str {
        // Only ASCII is ever written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl Small {
    fn new() -> Self {
        Self {
            buf: [0; 32],
            len: 0,
        }
    }

    fn push(&mut self, b: u8) {
        if self.len < self.buf.len() {
            self.buf[self.len] = b;
            self.len += 1;
        }
    }

    /// `n` zero-padded to `width` digits.
    fn digits(&mut self, n: u64, width: usize) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        let mut n = n;
        loop {
            i -= 1;
            tmp[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for _ in (tmp.len() - i)..width {
            self.push(b'0');
        }
        for b in &tmp[i..] {
            self.push(*b);
        }
    }

    /// A number in decimal.
    pub fn number(n: u64) -> Self {
        let mut s = Self::new();
        s.digits(n, 1);
        s
    }

    /// Epoch milliseconds as RFC 3339 UTC with milliseconds
    /// (`2025-05-01T10:12:13.456Z`), like `server::rfc3339_ms` but without allocating.
    pub fn time(ms: i64) -> Self {
        let days = ms.div_euclid(86_400_000);
        let in_day = ms.rem_euclid(86_400_000) as u64;
        // Howard Hinnant's civil-from-days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
        let year = (yoe + era * 400 + i64::from(month <= 2)).clamp(0, 9999) as u64;
        let mut s = Self::new();
        s.digits(year, 4);
        s.push(b'-');
        s.digits(month, 2);
        s.push(b'-');
        s.digits(day, 2);
        s.push(b'T');
        s.digits(in_day / 3_600_000, 2);
        s.push(b':');
        s.digits(in_day / 60_000 % 60, 2);
        s.push(b':');
        s.digits(in_day / 1000 % 60, 2);
        s.push(b'.');
        s.digits(in_day % 1000, 3);
        s.push(b'Z');
        s
    }
}

/// Writes a `properties` object in [`Object::properties`] order, skipping unwanted ones.
pub(crate) struct Props<'a> {
    out: &'a mut String,
    names: &'static [&'static str],
    wanted: &'a [bool],
    i: usize,
    first: bool,
}

impl<'a> Props<'a> {
    /// Open `"properties":{` for a record of `obj`.
    pub fn new(out: &'a mut String, obj: Object, wanted: &'a [bool]) -> Self {
        out.push_str("\"properties\":{");
        Self {
            out,
            names: obj.properties(),
            wanted,
            i: 0,
            first: true,
        }
    }

    /// The next property's value (`None` is JSON `null`), written if wanted.
    pub fn next(&mut self, value: Option<&str>) {
        if self.wanted.get(self.i).copied().unwrap_or(false)
            && let Some(name) = self.names.get(self.i)
        {
            if !self.first {
                self.out.push(',');
            }
            self.first = false;
            esc(self.out, name);
            self.out.push(':');
            match value {
                Some(v) => esc(self.out, v),
                None => self.out.push_str("null"),
            }
        }
        self.i += 1;
    }

    /// Close the object (every property must have been given).
    pub fn end(self) {
        debug_assert_eq!(self.i, self.names.len(), "properties written out of order");
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_match_the_shared_formatter() {
        for ms in [
            0,
            1_746_094_333_456,
            951_782_400_000,
            4_102_444_799_999,
            1_709_251_199_001,
            -86_400_000,
        ] {
            assert_eq!(&*Small::time(ms), crate::server::rfc3339_ms(ms), "{ms}");
        }
        let mut ms = 0i64;
        for _ in 0..10_000 {
            ms = ms
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let t = ms.rem_euclid(4_000_000_000_000);
            assert_eq!(&*Small::time(t), crate::server::rfc3339_ms(t), "{t}");
        }
        assert_eq!(&*Small::number(40_000_000_007), "40000000007");
        assert_eq!(&*Small::number(0), "0");
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        esc(&mut out, "a\"b\\c\nd\u{1}");
        assert_eq!(out, r#""a\"b\\c\nd\u0001""#);
        let back: String = serde_json::from_str(&out).expect("json");
        assert_eq!(back, "a\"b\\c\nd\u{1}");
    }
}
