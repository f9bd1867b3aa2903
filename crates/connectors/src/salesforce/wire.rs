//! Salesforce's wire details: its error bodies and what they mean for a retry
//! ([`SalesforceDialect`]), the `Sforce-Limit-Info` daily-allocation header, its
//! datetime format (`2025-05-01T10:12:13.000+0000`), SOQL datetime literals and the
//! query-string encoding of a SOQL statement.

use std::borrow::Cow;

use reqwest::header::HeaderMap;
use serde::Deserialize;

use crate::http::{Dialect, Meter, QuotaReading, Verdict, excerpt, retry_after};
use crate::limiter::Limiter;

/// One element of Salesforce's error array, or an OAuth error object.
#[derive(Deserialize)]
struct ApiError<'a> {
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "errorCode")]
    error_code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
}

/// The `errorCode` and `message` of an error body (`[{"message","errorCode"}]`), or
/// an OAuth `{"error"}`; an empty code when the body is neither.
pub fn error_of(body: &[u8]) -> (String, String) {
    let first = serde_json::from_slice::<Vec<ApiError>>(body)
        .ok()
        .and_then(|v| v.into_iter().next())
        .or_else(|| serde_json::from_slice::<ApiError>(body).ok());
    match first {
        Some(e) => {
            let message = e.message.unwrap_or_default();
            // INVALID_FIELD messages echo the query first; keep the sentence naming the
            // column, which would otherwise fall past the excerpt.
            let message = message
                .find("No such column")
                .map_or(&*message, |i| &message[i..]);
            (
                e.error_code.or(e.error).unwrap_or_default().into_owned(),
                excerpt(message.as_bytes()),
            )
        }
        None => (String::new(), excerpt(body)),
    }
}

/// How Salesforce answers when something is wrong.
pub struct SalesforceDialect;

impl Dialect for SalesforceDialect {
    /// - 401 `INVALID_SESSION_ID`: the access token expired (Salesforce sends no
    ///   `expires_in`, so this is how a refresh is triggered).
    /// - 403 `REQUEST_LIMIT_EXCEEDED`: the org's rolling 24-hour allocation is gone
    ///   ("TotalRequests Limit exceeded", no `Retry-After`) — unless the message names
    ///   the concurrent long-running request limit, which clears in seconds.
    /// - 429 (a gateway's answer; Salesforce documents none for REST): `Retry-After`.
    /// - 5xx (`SERVER_UNAVAILABLE`, `UNKNOWN_EXCEPTION`): retried with backoff.
    /// - anything else fails with `errorCode: message` (e.g. `INVALID_QUERY_LOCATOR`,
    ///   `INVALID_FIELD`), which the connector inspects.
    fn verdict(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Verdict {
        let (code, message) = error_of(body);
        match status {
            401 => Verdict::Unauthorized,
            403 if code == "REQUEST_LIMIT_EXCEEDED" => {
                if message.contains("Concurrent") {
                    Verdict::Retry {
                        after: None,
                        throttled: true,
                    }
                } else {
                    Verdict::QuotaExhausted
                }
            }
            429 => Verdict::Retry {
                after: retry_after(headers),
                throttled: true,
            },
            500..=599 => Verdict::Retry {
                after: None,
                throttled: false,
            },
            _ if code.is_empty() => Verdict::Fail(message),
            _ => Verdict::Fail(format!("{code}: {message}")),
        }
    }

    /// `Sforce-Limit-Info: api-usage=used/allocation` (other parts, such as the newer
    /// `api-bursts=…`, are ignored) goes to the meter's daily reading. Salesforce sends
    /// no per-second rate headers, so the limiters are left alone.
    fn observe(&self, headers: &HeaderMap, meter: &Meter, _limiters: &[Limiter]) {
        let Some((used, limit)) = headers
            .get("sforce-limit-info")
            .and_then(|v| v.to_str().ok())
            .and_then(api_usage)
        else {
            return;
        };
        meter.observe_quota(QuotaReading {
            daily_limit: Some(limit),
            daily_used: Some(used),
            daily_remaining: Some(limit.saturating_sub(used)),
        });
    }
}

/// `api-usage=18/5000; per-app-api-usage=…` → (18, 5000).
pub fn api_usage(value: &str) -> Option<(u64, u64)> {
    let part = value
        .split([';', ','])
        .find_map(|p| p.trim().strip_prefix("api-usage="))?;
    let (used, limit) = part.split_once('/')?;
    Some((used.trim().parse().ok()?, limit.trim().parse().ok()?))
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0')))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` as days since the epoch.
fn date_days(s: &[u8]) -> Option<i64> {
    if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&s[..4])?, digits(&s[5..7])?, digits(&s[8..10])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// A Salesforce date (`2025-06-30`) as epoch seconds at midnight UTC.
pub fn parse_date(s: &str) -> Option<i64> {
    date_days(s.as_bytes()).map(|d| d * 86_400)
}

/// Is this a `YYYY-MM-DD` date?
pub fn is_date(s: &str) -> bool {
    date_days(s.as_bytes()).is_some()
}

/// A Salesforce datetime as epoch milliseconds: `2025-05-01T10:12:13.000+0000` (offset
/// without a colon, as the REST API sends it) or RFC 3339 (`…Z`, `…+01:00`).
pub fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 19 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let days = date_days(&b[..10])?;
    let (h, mi, sec) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let mut f = frac[..n.min(3)].to_vec();
        f.resize(3, b'0');
        millis = digits(&f)?;
        rest = &frac[n..];
    }
    let offset_min = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), hh1, hh2, tail @ ..] => {
            let mm = match tail {
                [b':', m1, m2] | [m1, m2] => digits(&[*m1, *m2])?,
                _ => return None,
            };
            let total = digits(&[*hh1, *hh2])? * 60 + mm;
            if *sign == b'-' { -total } else { total }
        }
        _ => return None,
    };
    Some((days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60) * 1000 + millis)
}

/// A SOQL datetime literal (unquoted), whole seconds, rounded down: `2025-05-01T10:12:13Z`.
pub fn soql_datetime(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    // civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

/// A SOQL statement as a query-string value (`+` for spaces, `%XX` for the rest).
pub fn encode_q(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 32);
    for b in q.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') => {
                out.push(char::from(b));
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A plausible Salesforce id (15 or 18 alphanumerics).
pub fn is_id(s: &str) -> bool {
    (s.len() == 15 || s.len() == 18) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse_rfc3339_ms;

    #[test]
    fn datetimes_in_both_forms() {
        let want = parse_rfc3339_ms("2025-05-01T10:12:13.456Z");
        assert_eq!(parse_datetime("2025-05-01T10:12:13.456+0000"), want);
        assert_eq!(parse_datetime("2025-05-01T10:12:13.456Z"), want);
        assert_eq!(parse_datetime("2025-05-01T12:12:13.456+02:00"), want);
        assert_eq!(parse_datetime("2025-05-01T03:12:13.456-0700"), want);
        assert_eq!(
            parse_datetime("2025-05-01T10:12:13Z"),
            parse_rfc3339_ms("2025-05-01T10:12:13Z")
        );
        for bad in [
            "",
            "2025-05-01",
            "2025-13-01T00:00:00Z",
            "2025-05-01T10:12:13",
            "2025-05-01T10:12:13.+0000",
            "2025-05-01T10:12:13.000+00",
            "２０２５-05-01T10:12:13Z",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
        assert_eq!(parse_date("2024-10-04"), Some(20_000 * 86_400));
        assert_eq!(parse_date("2024-10-4"), None);
        assert_eq!(soql_datetime(1_746_094_333_456), "2025-05-01T10:12:13Z");
        assert_eq!(soql_datetime(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn limit_info_and_errors() {
        assert_eq!(api_usage("api-usage=18/5000"), Some((18, 5000)));
        assert_eq!(
            api_usage("api-usage=10018/100000; api-bursts=1/750"),
            Some((10_018, 100_000))
        );
        assert_eq!(api_usage("per-app-api-usage=17/250"), None);
        let body = br#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        assert_eq!(error_of(body).0, "REQUEST_LIMIT_EXCEEDED");
        let h = HeaderMap::new();
        let d = SalesforceDialect;
        assert!(matches!(d.verdict(403, &h, body), Verdict::QuotaExhausted));
        let concurrent = br#"[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        assert!(matches!(
            d.verdict(403, &h, concurrent),
            Verdict::Retry {
                throttled: true,
                ..
            }
        ));
        let session =
            br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;
        assert!(matches!(d.verdict(401, &h, session), Verdict::Unauthorized));
        let locator =
            br#"[{"message":"invalid query locator","errorCode":"INVALID_QUERY_LOCATOR"}]"#;
        assert!(
            matches!(d.verdict(400, &h, locator), Verdict::Fail(m) if m.starts_with("INVALID_QUERY_LOCATOR"))
        );
        let long_query = "x".repeat(400);
        let invalid = format!(
            r#"[{{"message":"\nSELECT {long_query}\n^\nERROR at Row:1:Column:40\nNo such column 'CurrencyIsoCode' on entity 'Opportunity'.","errorCode":"INVALID_FIELD"}}]"#
        );
        assert!(
            matches!(d.verdict(400, &h, invalid.as_bytes()), Verdict::Fail(m) if m.starts_with("INVALID_FIELD: No such column 'CurrencyIsoCode'"))
        );
        let forbidden = br#"[{"message":"no","errorCode":"INSUFFICIENT_ACCESS"}]"#;
        assert!(matches!(d.verdict(403, &h, forbidden), Verdict::Fail(_)));
        assert!(matches!(
            d.verdict(503, &h, b"<html>"),
            Verdict::Retry {
                throttled: false,
                ..
            }
        ));
    }

    #[test]
    fn soql_is_query_string_safe() {
        assert_eq!(
            encode_q("SELECT Id FROM Account WHERE Id > '001' ORDER BY Id"),
            "SELECT+Id+FROM+Account+WHERE+Id+%3E+%27001%27+ORDER+BY+Id"
        );
        assert!(is_id("001000000000001AAA"));
        assert!(!is_id("001' OR Name != '"));
    }
}
