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

/// Writes a `properties` object in [`Object::properties`] order, skipping unwanted ones.
pub(crate) struct Props<'a> {
    out: &'a mut String,
    names: &'static [&'static str],
    wanted: &'a [bool],
    i: usize,
    first: bool,
}

impl<'a> Props<'a> {
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

    pub fn end(self) {
        debug_assert_eq!(self.i, self.names.len(), "properties written out of order");
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        esc(&mut out, "a\"b\\c\nd\u{1}");
        assert_eq!(out, r#""a\"b\\c\nd\u0001""#);
        let back: String = serde_json::from_str(&out).expect("json");
        assert_eq!(back, "a\"b\\c\nd\u{1}");
    }
}
