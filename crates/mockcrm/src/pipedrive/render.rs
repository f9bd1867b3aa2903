//! Pipedrive's JSON shapes, written straight into a `String`: no intermediate
//! `serde_json::Value`, one buffer per page. v2 objects (organizations, persons, deals,
//! activities, pipelines, stages) carry RFC 3339 times and plain ids; v1 objects (users,
//! notes) carry `YYYY-MM-DD HH:MM:SS` times in UTC.

use std::fmt::Write;

use domain::crm::ActivityType;

use super::{deal_placement, pipeline_id, stage_id};
use crate::world::{ActivitySeed, CompanySeed, ContactSeed, DealSeed, PIPELINES, STAGES};

/// A JSON string literal, quoted and escaped.
pub(super) fn push_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// `,"key":` (or `"key":` right after an opening brace).
fn key(out: &mut String, name: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    out.push('"');
    out.push_str(name);
    out.push_str("\":");
}

fn field_str(out: &mut String, name: &str, value: &str) {
    key(out, name);
    push_str(out, value);
}

fn field_num(out: &mut String, name: &str, value: impl std::fmt::Display) {
    key(out, name);
    let _ = write!(out, "{value}");
}

fn field_raw(out: &mut String, name: &str, raw: &str) {
    key(out, name);
    out.push_str(raw);
}

/// A world index as a Pipedrive id (ids start at 1), or `null`.
fn field_ref(out: &mut String, name: &str, idx: Option<u64>) {
    match idx {
        Some(i) => field_num(out, name, i + 1),
        None => field_raw(out, name, "null"),
    }
}

/// Days since 1970-01-01 as (year, month, day), proleptic Gregorian.
pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn parts(ms: i64) -> (i64, u32, u32, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    (y, mo, d, sod / 3600, sod % 3600 / 60, sod % 60)
}

/// `"2025-05-01T10:12:13Z"` (Pipedrive v2 times have whole seconds).
pub(super) fn push_rfc3339(out: &mut String, ms: i64) {
    let (y, mo, d, h, mi, s) = parts(ms);
    let _ = write!(out, "\"{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z\"");
}

/// `"2025-05-01 10:12:13"` (v1 times, UTC).
pub(super) fn push_v1_time(out: &mut String, ms: i64) {
    let (y, mo, d, h, mi, s) = parts(ms);
    let _ = write!(out, "\"{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}\"");
}

fn field_time(out: &mut String, name: &str, ms: Option<i64>) {
    key(out, name);
    match ms {
        Some(ms) => push_rfc3339(out, ms),
        None => out.push_str("null"),
    }
}

fn field_v1_time(out: &mut String, name: &str, ms: i64) {
    key(out, name);
    push_v1_time(out, ms);
}

/// `"2025-05-01"` of an instant.
fn field_date(out: &mut String, name: &str, ms: Option<i64>) {
    key(out, name);
    match ms {
        Some(ms) => {
            let (y, mo, d, ..) = parts(ms);
            let _ = write!(out, "\"{y:04}-{mo:02}-{d:02}\"");
        }
        None => out.push_str("null"),
    }
}

/// Plain text as the HTML Pipedrive stores in notes (`<p>…</p>`, entities escaped).
fn field_html(out: &mut String, name: &str, text: &str) {
    let mut html = String::with_capacity(text.len() + 8);
    html.push_str("<p>");
    for c in text.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            _ => html.push(c),
        }
    }
    html.push_str("</p>");
    field_str(out, name, &html);
}

/// A v1 user (`GET /v1/users`).
pub(super) fn user(out: &mut String, idx: u64, name: &str, email: &str, at_ms: i64) {
    out.push('{');
    field_num(out, "id", idx + 1);
    field_str(out, "name", name);
    field_str(out, "default_currency", "USD");
    field_str(out, "locale", "en_US");
    field_num(out, "lang", 1);
    field_str(out, "email", email);
    field_raw(out, "phone", "null");
    field_raw(out, "activated", "true");
    field_v1_time(out, "last_login", at_ms);
    field_v1_time(out, "created", at_ms);
    field_v1_time(out, "modified", at_ms);
    field_raw(
        out,
        "has_created_company",
        if idx == 0 { "true" } else { "false" },
    );
    field_raw(
        out,
        "access",
        "[{\"app\":\"sales\",\"admin\":false,\"permission_set_id\":\"1\"}]",
    );
    field_raw(out, "active_flag", "true");
    field_str(out, "timezone_name", "Europe/London");
    field_str(out, "timezone_offset", "+00:00");
    field_num(out, "role_id", 1);
    field_raw(out, "icon_url", "null");
    field_raw(out, "is_you", if idx == 0 { "true" } else { "false" });
    field_raw(out, "is_deleted", "false");
    out.push('}');
}

/// A v2 pipeline.
pub(super) fn pipeline(out: &mut String, p: usize, at_ms: i64) {
    out.push('{');
    field_num(out, "id", pipeline_id(p));
    field_str(out, "name", PIPELINES.get(p).copied().unwrap_or("Pipeline"));
    field_num(out, "order_nr", p + 1);
    field_raw(out, "is_deleted", "false");
    field_raw(out, "is_deal_probability_enabled", "true");
    field_time(out, "add_time", Some(at_ms));
    field_time(out, "update_time", Some(at_ms));
    field_raw(out, "is_selected", if p == 0 { "true" } else { "false" });
    out.push('}');
}

/// A v2 stage: the open stages of [`STAGES`] (Pipedrive has no won/lost stages; a
/// deal's `status` says whether it was won or lost).
pub(super) fn stage(out: &mut String, p: usize, s: usize, at_ms: i64) {
    out.push('{');
    field_num(out, "id", stage_id(p, s));
    field_num(out, "order_nr", s + 1);
    field_str(out, "name", STAGES[s].0);
    field_raw(out, "is_deleted", "false");
    field_num(out, "deal_probability", STAGES[s].1);
    field_num(out, "pipeline_id", pipeline_id(p));
    field_raw(out, "is_deal_rot_enabled", "false");
    field_raw(out, "days_to_rotten", "null");
    field_time(out, "add_time", Some(at_ms));
    field_time(out, "update_time", Some(at_ms));
    out.push('}');
}

/// A v2 organization.
pub(super) fn organization(out: &mut String, c: &CompanySeed) {
    out.push('{');
    field_num(out, "id", c.meta.idx + 1);
    field_str(out, "name", &c.name);
    field_num(out, "owner_id", c.owner + 1);
    field_time(out, "add_time", Some(c.meta.created_ms));
    field_time(out, "update_time", Some(c.meta.updated_ms));
    field_num(out, "visible_to", 3);
    field_raw(out, "picture_id", "null");
    field_raw(out, "label_ids", "[]");
    field_raw(out, "is_deleted", "false");
    field_raw(out, "address", "null");
    field_raw(out, "custom_fields", "{}");
    out.push('}');
}

/// A v2 person (with contact sync on, so `job_title` is present).
pub(super) fn person(out: &mut String, c: &ContactSeed) {
    out.push('{');
    field_num(out, "id", c.meta.idx + 1);
    field_str(out, "name", &format!("{} {}", c.first_name, c.last_name));
    field_str(out, "first_name", &c.first_name);
    field_str(out, "last_name", &c.last_name);
    field_num(out, "owner_id", c.owner + 1);
    field_ref(out, "org_id", c.company);
    field_time(out, "add_time", Some(c.meta.created_ms));
    field_time(out, "update_time", Some(c.meta.updated_ms));
    field_num(out, "visible_to", 3);
    field_raw(out, "picture_id", "null");
    field_raw(out, "label_ids", "[]");
    field_raw(out, "is_deleted", "false");
    key(out, "phones");
    out.push_str("[{\"label\":\"work\",\"value\":");
    push_str(out, &c.phone);
    out.push_str(",\"primary\":true}]");
    key(out, "emails");
    out.push_str("[{\"label\":\"work\",\"value\":");
    push_str(out, &c.email);
    out.push_str(",\"primary\":true}]");
    field_str(out, "job_title", c.title);
    field_raw(out, "custom_fields", "{}");
    out.push('}');
}

/// A v2 deal.
pub(super) fn deal(out: &mut String, d: &DealSeed) {
    let (pos, status) = deal_placement(d.stage);
    let won = status == "won";
    let lost = status == "lost";
    out.push('{');
    field_num(out, "id", d.meta.idx + 1);
    field_str(out, "title", &d.name);
    field_num(out, "creator_user_id", d.owner + 1);
    field_num(out, "owner_id", d.owner + 1);
    field_ref(out, "person_id", d.contacts.first().copied());
    field_ref(out, "org_id", d.company);
    field_num(out, "stage_id", stage_id(d.pipeline, pos));
    field_num(out, "pipeline_id", pipeline_id(d.pipeline));
    field_num(out, "value", d.amount);
    field_str(out, "currency", d.currency);
    field_time(out, "add_time", Some(d.meta.created_ms));
    field_time(out, "update_time", Some(d.meta.updated_ms));
    field_time(out, "stage_change_time", super::flow::stage_change_ms(d));
    field_raw(out, "is_deleted", "false");
    field_raw(out, "is_archived", "false");
    field_str(out, "status", status);
    field_raw(out, "probability", "null");
    field_raw(out, "lost_reason", if lost { "\"Budget\"" } else { "null" });
    field_num(out, "visible_to", 3);
    field_time(out, "close_time", d.closed_ms);
    field_time(out, "won_time", d.closed_ms.filter(|_| won));
    field_time(out, "lost_time", d.closed_ms.filter(|_| lost));
    field_date(out, "local_won_date", d.closed_ms.filter(|_| won));
    field_date(out, "local_lost_date", d.closed_ms.filter(|_| lost));
    field_date(out, "local_close_date", d.closed_ms);
    field_str(out, "expected_close_date", &d.close_date);
    field_raw(out, "label_ids", "[]");
    field_str(out, "origin", "ManuallyCreated");
    field_raw(out, "origin_id", "null");
    field_raw(out, "channel", "null");
    field_raw(out, "channel_id", "null");
    field_raw(out, "custom_fields", "{}");
    out.push('}');
}

/// A deal deleted upstream, as `status=deleted` lists it (the mock keeps no fields of
/// deleted records beyond these).
pub(super) fn deleted_deal(out: &mut String, idx: u64, deleted_ms: i64) {
    out.push('{');
    field_num(out, "id", idx + 1);
    field_raw(out, "title", "null");
    field_time(out, "update_time", Some(deleted_ms));
    field_raw(out, "is_deleted", "true");
    field_str(out, "status", "deleted");
    field_raw(out, "custom_fields", "{}");
    out.push('}');
}

/// Pipedrive's activity type key for a world activity (notes are not activities).
pub(super) fn activity_type_key(kind: ActivityType) -> &'static str {
    match kind {
        ActivityType::Call => "call",
        ActivityType::Email => "email",
        ActivityType::Meeting => "meeting",
        ActivityType::Task | ActivityType::Note => "task",
    }
}

/// A v2 activity (calls, emails, meetings, tasks).
pub(super) fn activity(out: &mut String, a: &ActivitySeed) {
    let (y, mo, d, h, mi, _) = parts(a.occurred_ms);
    out.push('{');
    field_num(out, "id", a.meta.idx + 1);
    field_str(out, "subject", &a.subject);
    field_str(out, "type", activity_type_key(a.kind));
    field_num(out, "owner_id", a.owner + 1);
    field_num(out, "creator_user_id", a.owner + 1);
    field_raw(out, "is_deleted", "false");
    field_time(out, "add_time", Some(a.meta.created_ms));
    field_time(out, "update_time", Some(a.meta.updated_ms));
    field_ref(out, "deal_id", a.deal);
    field_raw(out, "lead_id", "null");
    field_ref(out, "person_id", a.contact);
    field_ref(out, "org_id", a.company);
    field_raw(out, "project_id", "null");
    key(out, "due_date");
    let _ = write!(out, "\"{y:04}-{mo:02}-{d:02}\"");
    key(out, "due_time");
    let _ = write!(out, "\"{h:02}:{mi:02}\"");
    key(out, "duration");
    match a.duration_secs {
        Some(secs) => {
            let _ = write!(out, "\"{:02}:{:02}\"", secs / 3600, secs % 3600 / 60);
        }
        None => out.push_str("null"),
    }
    field_raw(out, "busy", "false");
    field_raw(out, "done", "true");
    field_time(out, "marked_as_done_time", Some(a.meta.created_ms));
    field_raw(out, "location", "null");
    key(out, "participants");
    match a.contact {
        Some(c) => {
            let _ = write!(out, "[{{\"person_id\":{},\"primary\":true}}]", c + 1);
        }
        None => out.push_str("[]"),
    }
    field_raw(out, "conference_meeting_client", "null");
    field_raw(out, "conference_meeting_url", "null");
    field_raw(out, "conference_meeting_id", "null");
    field_raw(out, "public_description", "null");
    field_raw(out, "priority", "null");
    field_html(out, "note", &a.body);
    field_raw(out, "private", "false");
    out.push('}');
}

/// A v1 note (a world activity of kind `Note`).
pub(super) fn note(out: &mut String, a: &ActivitySeed) {
    out.push('{');
    field_num(out, "id", a.meta.idx + 1);
    field_num(out, "user_id", a.owner + 1);
    field_ref(out, "deal_id", a.deal);
    field_ref(out, "person_id", a.contact);
    field_ref(out, "org_id", a.company);
    field_raw(out, "lead_id", "null");
    field_raw(out, "project_id", "null");
    field_html(out, "content", &a.body);
    field_v1_time(out, "add_time", a.meta.created_ms);
    field_v1_time(out, "update_time", a.meta.updated_ms);
    field_raw(out, "active_flag", "true");
    field_raw(out, "pinned_to_deal_flag", "false");
    field_raw(out, "pinned_to_person_flag", "false");
    field_raw(out, "pinned_to_organization_flag", "false");
    field_raw(out, "last_update_user_id", "null");
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        push_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\"");
        let parsed: String = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(parsed, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn times_render_like_pipedrive() {
        let mut out = String::new();
        push_rfc3339(&mut out, 1_746_094_333_456);
        push_v1_time(&mut out, 1_746_094_333_456);
        assert_eq!(out, "\"2025-05-01T10:12:13Z\"\"2025-05-01 10:12:13\"");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_000), (2024, 10, 4));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
