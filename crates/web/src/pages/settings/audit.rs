//! The organization's audit log, for executives and admins: filter by kind of event,
//! person and dates, page back through it, and export what the filter shows as CSV
//! (the export is itself an audit event). For anyone else the page does not exist.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use domain::UserId;
use store::{AuditEntry, AuditFilter, StoreError};
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use crate::AppState;
use crate::extract::{PageViewer, form_pairs};
use crate::pages::common::{Chrome, PageResult, all_users, when};

/// Entries per page.
const PAGE: u32 = 50;
/// The most entries one CSV export holds.
pub(crate) const EXPORT_MAX: usize = 100_000;

/// The kinds of event the filter offers: (action prefix, label).
const KINDS: &[(&str, &str)] = &[
    ("", "All events"),
    ("auth.", "Sign-ins, sessions and passwords"),
    ("auth.login.failed", "Failed sign-ins"),
    ("member.", "Member changes"),
    ("team.", "Team changes"),
    ("invitation.", "Invitations"),
    ("note.", "Coaching notes"),
    ("sealed.", "Encrypted data that failed to open"),
    ("admin.", "Operator commands"),
    ("audit.", "Audit log exports and retention"),
    ("org.", "Organization"),
];

/// The filter as typed in the query string.
#[derive(Default)]
struct Query {
    kind: String,
    actor: String,
    from: String,
    to: String,
    before: Option<i64>,
}

impl Query {
    fn parse(raw: Option<&str>) -> Self {
        let mut q = Query::default();
        for (k, v) in form_pairs(raw.unwrap_or_default()) {
            match k.as_str() {
                "kind" => q.kind = v,
                "actor" => q.actor = v,
                "from" => q.from = v,
                "to" => q.to = v,
                "before" => q.before = v.parse().ok().filter(|n: &i64| *n > 0),
                _ => {}
            }
        }
        q
    }

    /// The store filter, and a readable problem for each value that was ignored.
    fn filter(&self) -> (AuditFilter, Vec<String>) {
        let mut problems = Vec::new();
        let mut filter = AuditFilter {
            before_seq: self.before,
            ..AuditFilter::default()
        };
        if let Some((prefix, _)) = KINDS.iter().find(|(p, _)| *p == self.kind)
            && !prefix.is_empty()
        {
            filter.action_prefix = Some((*prefix).to_owned());
        }
        if !self.actor.is_empty() {
            match self.actor.parse::<UserId>() {
                Ok(id) => filter.actor_id = Some(id),
                Err(_) => {
                    problems.push("The person filter was not recognised and is ignored.".into())
                }
            }
        }
        let day = |text: &str, label: &str, problems: &mut Vec<String>| -> Option<i64> {
            if text.is_empty() {
                return None;
            }
            match Date::parse(text, format_description!("[year]-[month]-[day]")) {
                Ok(d) => Some(d.midnight().assume_utc().unix_timestamp()),
                Err(_) => {
                    problems.push(format!(
                        "The {label} date must look like 2026-01-31; it is ignored."
                    ));
                    None
                }
            }
        };
        filter.since = day(&self.from, "from", &mut problems);
        // "To" is inclusive: up to the end of that day.
        filter.until = day(&self.to, "to", &mut problems).map(|t| t + 86_400);
        (filter, problems)
    }

    /// The query string for the same filter (for paging and the export link).
    fn encode(&self, before: Option<i64>) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("kind", &self.kind),
            ("actor", &self.actor),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", encode_component(v)));
            }
        }
        if let Some(b) = before {
            parts.push(format!("before={b}"));
        }
        parts.join("&")
    }
}

fn encode_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An option of a filter's `<select>`.
struct Opt {
    value: String,
    label: String,
    selected: bool,
}

impl Opt {
    fn new(value: &str, label: &str, selected: bool) -> Self {
        Self {
            value: value.to_owned(),
            label: label.to_owned(),
            selected,
        }
    }
}

struct Row {
    when: String,
    who: String,
    action: String,
    target: String,
    ip: String,
    request_id: String,
    detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
struct AuditLogPage {
    chrome: Chrome,
    kinds: Vec<Opt>,
    actors: Vec<Opt>,
    from: String,
    to: String,
    problems: Vec<String>,
    rows: Vec<Row>,
    older: Option<String>,
    export: String,
}

fn who(entry: &AuditEntry, names: &HashMap<String, String>) -> String {
    match (&entry.actor_id, entry.actor_kind.as_str()) {
        (Some(id), _) => names
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("Former member {}", short(id))),
        (None, "operator") => "Operator (command line)".into(),
        (None, "system") => "Pitchside".into(),
        _ => "Unknown".into(),
    }
}

fn short(id: &str) -> &str {
    id.get(id.len().saturating_sub(8)..).unwrap_or(id)
}

async fn names(
    state: &AppState,
    scope: &store::Scope,
) -> Result<HashMap<String, String>, StoreError> {
    Ok(all_users(state, scope)
        .await?
        .into_iter()
        .map(|u| (u.id.to_string(), u.name))
        .collect())
}

pub(in crate::pages) async fn index(
    State(state): State<AppState>,
    viewer: PageViewer,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let scope = &viewer.scope;
    let query = Query::parse(raw.as_deref());
    let (filter, problems) = query.filter();
    // The store answers NotFound for seats that may not read the log: check first,
    // before spending a directory walk.
    let page = state.store.audit_events(scope, &filter, PAGE).await?;
    let names = names(&state, scope).await?;
    let mut actors = vec![Opt::new("", "Anyone", query.actor.is_empty())];
    let mut people: Vec<_> = names.iter().collect();
    people.sort_by(|a, b| a.1.cmp(b.1));
    actors.extend(
        people
            .into_iter()
            .map(|(id, name)| Opt::new(id, name, *id == query.actor)),
    );
    let rows = page
        .items
        .iter()
        .map(|e| Row {
            when: when(e.occurred_at),
            who: who(e, &names),
            action: e.action.clone(),
            target: match (&e.target_type, &e.target_id) {
                (Some(kind), Some(id)) => {
                    let name = names.get(id).map(|n| format!(" ({n})")).unwrap_or_default();
                    format!("{kind} {}{name}", short(id))
                }
                _ => String::new(),
            },
            ip: e.ip.clone().unwrap_or_default(),
            request_id: e.request_id.clone().unwrap_or_default(),
            detail: if e.detail == "{}" {
                String::new()
            } else {
                e.detail.clone()
            },
        })
        .collect();
    let view = AuditLogPage {
        chrome: Chrome::new(&state, scope, "audit"),
        kinds: KINDS
            .iter()
            .map(|(p, label)| Opt::new(p, label, *p == query.kind))
            .collect(),
        actors,
        from: query.from.clone(),
        to: query.to.clone(),
        problems,
        rows,
        older: page
            .next_before_seq
            .map(|b| format!("/settings/audit?{}", query.encode(Some(b)))),
        export: format!("/settings/audit.csv?{}", query.encode(None)),
    };
    Ok(view.into_response())
}

/// The filtered log as CSV, newest first, at most [`EXPORT_MAX`] entries.
pub(in crate::pages) async fn csv(
    State(state): State<AppState>,
    viewer: PageViewer,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let scope = &viewer.scope;
    let query = Query::parse(raw.as_deref());
    let (mut filter, _) = query.filter();
    filter.before_seq = None;
    let mut entries = Vec::new();
    loop {
        let page = state.store.audit_events(scope, &filter, 1000).await?;
        entries.extend(page.items);
        match page.next_before_seq {
            Some(b) if entries.len() < EXPORT_MAX => filter.before_seq = Some(b),
            _ => break,
        }
    }
    entries.truncate(EXPORT_MAX);
    let names = names(&state, scope).await?;
    let body = to_csv(&entries, &names);
    state
        .store
        .audit_export_recorded(scope, entries.len())
        .await?;
    let today = OffsetDateTime::from_unix_timestamp(state.store.clock().now())
        .map(|t| t.date().to_string())
        .unwrap_or_default();
    let mut response = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"pitchside-audit-{today}.csv\""
    )) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

const CSV_HEADER: &[&str] = &[
    "seq",
    "occurred_at_utc",
    "actor_kind",
    "actor_id",
    "actor_name",
    "ip",
    "user_agent",
    "request_id",
    "action",
    "target_type",
    "target_id",
    "detail",
    "prev_hash",
    "hash",
];

pub(crate) fn to_csv(entries: &[AuditEntry], names: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(entries.len() * 300 + 200);
    push_record(&mut out, CSV_HEADER.iter().map(|s| (*s).to_owned()));
    for e in entries {
        let at = OffsetDateTime::from_unix_timestamp(e.occurred_at)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        let name = e
            .actor_id
            .as_ref()
            .and_then(|id| names.get(id))
            .cloned()
            .unwrap_or_default();
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        push_record(
            &mut out,
            [
                e.seq.to_string(),
                at,
                e.actor_kind.clone(),
                opt(&e.actor_id),
                name,
                opt(&e.ip),
                opt(&e.user_agent),
                opt(&e.request_id),
                e.action.clone(),
                opt(&e.target_type),
                opt(&e.target_id),
                e.detail.clone(),
                e.prev_hash.clone(),
                e.hash.clone(),
            ]
            .into_iter(),
        );
    }
    out
}

/// One RFC 4180 record. A cell that a spreadsheet would run as a formula (starting
/// with `=`, `+`, `-`, `@`, tab or carriage return) gets a leading `'`.
fn push_record(out: &mut String, cells: impl Iterator<Item = String>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let cell = if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{cell}")
        } else {
            cell
        };
        if cell.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let mut out = String::new();
        push_record(
            &mut out,
            [
                "plain".to_owned(),
                "a,b".to_owned(),
                "say \"hi\"".to_owned(),
                "=HYPERLINK(\"x\")".to_owned(),
                "-1".to_owned(),
            ]
            .into_iter(),
        );
        assert_eq!(
            out,
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"'=HYPERLINK(\"\"x\"\")\",'-1\r\n"
        );
    }

    #[test]
    fn the_filter_reads_dates_and_reports_bad_ones() {
        let q = Query::parse(Some("kind=auth.&from=2026-01-02&to=2026-01-02&actor=nope"));
        let (f, problems) = q.filter();
        assert_eq!(f.action_prefix.as_deref(), Some("auth."));
        assert_eq!(f.since, Some(1_767_312_000));
        assert_eq!(f.until, Some(1_767_312_000 + 86_400));
        assert_eq!(f.actor_id, None);
        assert_eq!(problems.len(), 1);
        let (f, problems) = Query::parse(Some("kind=%3Cscript%3E&from=31.01.2026")).filter();
        assert_eq!(f.action_prefix, None, "unknown kinds mean all");
        assert_eq!(f.since, None);
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn paging_keeps_the_filter() {
        let q = Query::parse(Some("kind=member.&from=2026-01-02"));
        assert_eq!(q.encode(Some(41)), "kind=member.&from=2026-01-02&before=41");
    }
}
