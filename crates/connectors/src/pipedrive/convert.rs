//! Pipedrive's times, dates, durations and rich text, converted by hand: v2 RFC 3339
//! and v1 `YYYY-MM-DD HH:MM:SS` (UTC) timestamps, `YYYY-MM-DD` dates, `HH:MM` due times
//! and durations, and the HTML of notes as plain text. Nothing here panics on any
//! input; what does not parse is `None`.

use std::borrow::Cow;

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
pub(super) fn date(s: &str) -> Option<&str> {
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
pub(super) fn due_secs(date: &str, time: Option<&str>) -> Option<i64> {
    let days = date_days(date.trim())?;
    let t = time
        .filter(|t| !t.trim().is_empty())
        .and_then(clock_secs)
        .filter(|t| *t < 86_400)
        .unwrap_or(0);
    Some(days * 86_400 + t)
}

/// An activity duration (`HH:MM`) as seconds.
pub(super) fn duration_secs(s: &str) -> Option<i64> {
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
    fn due_times_and_durations() {
        assert_eq!(due_secs("2025-05-01", Some("10:12")), Some(1_746_094_320));
        assert_eq!(due_secs("2025-05-01", Some("")), Some(1_746_057_600));
        assert_eq!(duration_secs("01:20"), Some(4800));
        assert_eq!(duration_secs("00:00"), None);
    }
}
