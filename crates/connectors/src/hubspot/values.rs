//! Scalar values as HubSpot sends them: trimmed ids, times in three shapes, dates,
//! display orders.

use domain::crm::clean_text;

use crate::http::parse_rfc3339_ms;

/// Trimmed, non-empty text.
pub(crate) fn nonempty(v: Option<String>) -> Option<String> {
    let v = v?;
    let t = v.trim();
    if t.is_empty() {
        None
    } else if t.len() == v.len() {
        Some(v)
    } else {
        Some(t.to_owned())
    }
}

/// A HubSpot time as epoch milliseconds: RFC 3339 (`2025-05-01T10:12:13.456Z`), epoch
/// milliseconds as digits, or a bare date (midnight UTC).
pub(crate) fn millis(value: &str) -> Option<i64> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if v.len() <= 16 && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse().ok();
    }
    if v.len() == 10 {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let date = time::Date::parse(v, format).ok()?;
        return Some(date.midnight().assume_utc().unix_timestamp() * 1000);
    }
    fast_utc(v.as_bytes()).or_else(|| parse_rfc3339_ms(v))
}

/// `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.sssZ` (what HubSpot sends) without a
/// general RFC 3339 parser; `None` for anything else.
fn fast_utc(v: &[u8]) -> Option<i64> {
    if !(v.len() == 20 || v.len() == 24)
        || v[v.len() - 1] != b'Z'
        || v[4] != b'-'
        || v[7] != b'-'
        || v[10] != b'T'
        || v[13] != b':'
        || v[16] != b':'
        || (v.len() == 24 && v[19] != b'.')
    {
        return None;
    }
    let num = |a: usize, b: usize| -> Option<i64> {
        v[a..b].iter().try_fold(0i64, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, s) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let ms = if v.len() == 24 { num(20, 23)? } else { 0 };
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > month_days[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || s > 59
    {
        return None;
    }
    // Howard Hinnant's days-from-civil.
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
}

/// [`clean_text`] of an owned value, which it returns as is when already clean
/// (trimmed, no control characters but newlines and tabs, at most `max` bytes).
pub(crate) fn clean(value: Option<String>, max: usize) -> Option<String> {
    let v = value?;
    let clean = !v.is_empty()
        && v.len() <= max
        && v.trim().len() == v.len()
        && !v.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
    if clean {
        Some(v)
    } else {
        clean_text(Some(&v), max)
    }
}

/// Epoch milliseconds to epoch seconds (rounding down).
pub(crate) fn seconds(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// The UTC date of an instant, `YYYY-MM-DD`.
pub(crate) fn civil_date(ms: i64) -> Option<String> {
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    let d = dt.date();
    Some(format!(
        "{:04}-{:02}-{:02}",
        d.year(),
        u8::from(d.month()),
        d.day()
    ))
}

/// A display order (a JSON number, possibly fractional) as an integer; 0 if absent.
pub(crate) fn order(v: Option<&str>) -> i64 {
    v.and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && v.abs() < 1e15)
        .map_or(0, |v| v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_time_parser_agrees_with_rfc3339() {
        let mut x = 7i64;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let ms = x.rem_euclid(4_102_444_800_000);
            let text = crate::http::format_rfc3339_ms(ms);
            assert_eq!(millis(&text), Some(ms), "{text}");
            assert_eq!(
                fast_utc(text.as_bytes()).or(parse_rfc3339_ms(&text)),
                Some(ms)
            );
        }
        for good in [
            "2024-02-29T23:59:59Z",
            "2000-01-01T00:00:00.000Z",
            "1970-01-01T00:00:00Z",
        ] {
            assert_eq!(fast_utc(good.as_bytes()), parse_rfc3339_ms(good), "{good}");
        }
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00+01:00",
        ] {
            assert_eq!(fast_utc(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(millis("2024-01-01T01:00:00+01:00"), Some(1_704_067_200_000));
    }

    #[test]
    fn clean_matches_clean_text() {
        for s in [
            "plain",
            "  padded ",
            "a\u{0}b",
            "line\nnext",
            "",
            "   ",
            "\u{85}x",
            "é".repeat(200).as_str(),
            "x".repeat(400).as_str(),
        ] {
            assert_eq!(
                clean(Some(s.to_owned()), 300),
                clean_text(Some(s), 300),
                "{s:?}"
            );
        }
        assert_eq!(clean(None, 10), None);
    }
}
