//! Scalar values as HubSpot sends them: trimmed ids, times in three shapes, dates,
//! display orders.

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
    parse_rfc3339_ms(v)
}

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
