//! The restricted SOQL the Salesforce mock understands: what the Pitchside connector
//! sends, and nothing more. Anything else is refused the way Salesforce refuses a bad
//! query (`MALFORMED_QUERY`, `INVALID_FIELD`, `INVALID_TYPE`).
//!
//! ```text
//! SELECT field, … [, (SELECT ContactId FROM OpportunityContactRoles)]
//!   [, (SELECT StageName, CreatedDate FROM OpportunityHistories ORDER BY CreatedDate)] FROM Object
//!   [WHERE cond [AND cond]…] ORDER BY Id | ORDER BY SystemModstamp, Id
//! cond := SystemModstamp >= 2025-05-01T00:00:00Z | SystemModstamp > … | Id > '001…'
//!       | IsDeleted = false
//! ```

pub use super::schema::{Field, Object};

/// The order of the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// `ORDER BY Id`.
    Id,
    /// `ORDER BY SystemModstamp, Id`.
    Modstamp,
}

/// A parsed query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soql {
    pub object: Object,
    pub fields: Vec<Field>,
    pub order: Order,
    /// `SystemModstamp >= ms` (or `> ms`, stored as `ms + 1`).
    pub since_ms: Option<i64>,
    /// `Id > '…'`.
    pub after_id: Option<String>,
    /// `IsDeleted = false`.
    pub live_only: bool,
}

/// Why a query was refused: (errorCode, message).
pub type Refusal = (&'static str, String);

fn malformed(what: &str) -> Refusal {
    ("MALFORMED_QUERY", format!("unexpected token: {what}"))
}

/// Split `s` at top-level commas (not inside parentheses).
fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out
}

/// Find a keyword (surrounded by spaces, case-insensitive) outside parentheses.
fn find_kw(s: &str, kw: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    let needle = format!(" {} ", kw.to_ascii_lowercase());
    let mut depth = 0i32;
    let bytes = lower.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b' ' if depth == 0 && lower[i..].starts_with(&needle) => return Some(i),
            _ => {}
        }
    }
    None
}

fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parse the connector's SOQL. `multi_currency`: whether the org has `CurrencyIsoCode`
/// fields (single-currency orgs refuse them as unknown columns).
pub fn parse(q: &str, multi_currency: bool) -> Result<Soql, Refusal> {
    let q = words(q);
    let rest = q
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("select "))
        .map(|_| &q[7..])
        .ok_or_else(|| malformed(q.split(' ').next().unwrap_or_default()))?;
    let from = find_kw(rest, "from").ok_or_else(|| malformed("missing FROM"))?;
    let list = &rest[..from];
    let tail = &rest[from + 6..];
    let (object_name, tail) = tail.split_once(' ').unwrap_or((tail, ""));
    let object = Object::parse(object_name).ok_or_else(|| {
        (
            "INVALID_TYPE",
            format!("sObject type '{object_name}' is not supported."),
        )
    })?;
    let mut fields = Vec::new();
    for item in split_top(list) {
        if item.starts_with('(') {
            let inner = words(item.trim_start_matches('(').trim_end_matches(')'));
            if object == Object::Opportunity
                && inner.eq_ignore_ascii_case("select contactid from opportunitycontactroles")
            {
                fields.push(Field::ContactRoles);
                continue;
            }
            if object == Object::Opportunity
                && inner.eq_ignore_ascii_case(
                    "select stagename, createddate from opportunityhistories order by createddate",
                )
            {
                fields.push(Field::StageHistory);
                continue;
            }
            return Err(malformed(item));
        }
        let field = object
            .fields()
            .iter()
            .find(|f| f.name().eq_ignore_ascii_case(item))
            .filter(|f| multi_currency || **f != Field::CurrencyIsoCode)
            .ok_or_else(|| {
                (
                    "INVALID_FIELD",
                    // Salesforce echoes the query and points at the column first.
                    format!(
                        "\n{q}\n{caret:>col$}\nERROR at Row:1:Column:{col}\nNo such column '{item}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.",
                        object.name(),
                        caret = "^",
                        col = q.find(item).map_or(1, |i| i + 1),
                    ),
                )
            })?;
        fields.push(*field);
    }
    if fields.is_empty() {
        return Err(malformed("empty field list"));
    }
    let (where_part, order_part) = match find_kw(&format!(" {tail}"), "order by") {
        Some(i) => {
            let padded = format!(" {tail}");
            (
                padded[..i].trim().to_owned(),
                padded[i + 10..].trim().to_owned(),
            )
        }
        None => return Err(malformed("missing ORDER BY")),
    };
    let order = match words(&order_part.to_ascii_lowercase()).as_str() {
        "id" | "id asc" => Order::Id,
        "systemmodstamp, id" | "systemmodstamp asc, id asc" | "systemmodstamp,id" => {
            Order::Modstamp
        }
        other => return Err(malformed(other)),
    };
    let mut soql = Soql {
        object,
        fields,
        order,
        since_ms: None,
        after_id: None,
        live_only: false,
    };
    if !where_part.is_empty() {
        let conds = where_part
            .get(..6)
            .filter(|p| p.eq_ignore_ascii_case("where "))
            .map(|_| &where_part[6..])
            .ok_or_else(|| malformed(&where_part))?;
        let lower = conds.to_ascii_lowercase();
        let mut start = 0;
        let mut parts = Vec::new();
        while let Some(i) = lower[start..].find(" and ") {
            parts.push(&conds[start..start + i]);
            start += i + 5;
        }
        parts.push(&conds[start..]);
        for cond in parts {
            condition(&mut soql, cond.trim())?;
        }
    }
    if soql.order == Order::Id && soql.since_ms.is_some()
        || soql.order == Order::Modstamp && soql.after_id.is_some()
        || matches!(soql.object, Object::User | Object::OpportunityStage)
            && soql.order == Order::Modstamp
    {
        return Err((
            "MALFORMED_QUERY",
            "this mock serves ORDER BY Id with Id filters, or ORDER BY SystemModstamp, Id with SystemModstamp filters".into(),
        ));
    }
    Ok(soql)
}

fn condition(soql: &mut Soql, cond: &str) -> Result<(), Refusal> {
    let mut it = cond.split(' ');
    let (Some(field), Some(op), Some(value), None) = (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(malformed(cond));
    };
    match (field.to_ascii_lowercase().as_str(), op) {
        ("systemmodstamp", ">=" | ">") => {
            // Datetime literals are not quoted in SOQL.
            let dt =
                time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| malformed(value))?;
            let ms = (dt.unix_timestamp_nanos() / 1_000_000) as i64;
            soql.since_ms = Some(if op == ">" { ms + 1 } else { ms });
        }
        ("id", ">") => {
            let id = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .filter(|v| v.bytes().all(|b| b.is_ascii_alphanumeric()))
                .ok_or_else(|| malformed(value))?;
            soql.after_id = Some(id.to_owned());
        }
        ("isdeleted", "=") if value.eq_ignore_ascii_case("false") => soql.live_only = true,
        _ => return Err(malformed(cond)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_connector_sends() {
        let q = parse(
            "SELECT Id, Name, StageName, (SELECT ContactId FROM OpportunityContactRoles), IsDeleted \
             FROM Opportunity WHERE SystemModstamp >= 2025-05-01T00:00:00Z ORDER BY SystemModstamp, Id",
            true,
        )
        .expect("parses");
        assert_eq!(q.object, Object::Opportunity);
        assert_eq!(q.fields[3], Field::ContactRoles);
        assert_eq!(q.order, Order::Modstamp);
        assert_eq!(q.since_ms, Some(1_746_057_600_000));
        let q = parse(
            "select Id from Task where IsDeleted = false and Id > '00T000000000001AAA' order by Id",
            true,
        )
        .expect("parses");
        assert!(q.live_only);
        assert_eq!(q.after_id.as_deref(), Some("00T000000000001AAA"));
    }

    #[test]
    fn refuses_the_rest() {
        for (q, code) in [
            ("DELETE FROM Account", "MALFORMED_QUERY"),
            ("SELECT Id FROM Account", "MALFORMED_QUERY"),
            ("SELECT Id FROM Lead ORDER BY Id", "INVALID_TYPE"),
            (
                "SELECT Id, Secret__c FROM Account ORDER BY Id",
                "INVALID_FIELD",
            ),
            (
                "SELECT Id FROM Account WHERE Name = 'x' ORDER BY Id",
                "MALFORMED_QUERY",
            ),
            ("SELECT Id FROM Account ORDER BY Name", "MALFORMED_QUERY"),
            (
                "SELECT Id FROM Account WHERE SystemModstamp >= '2025-01-01' ORDER BY SystemModstamp, Id",
                "MALFORMED_QUERY",
            ),
            (
                "SELECT Id, (SELECT Id FROM Contacts) FROM Account ORDER BY Id",
                "MALFORMED_QUERY",
            ),
        ] {
            assert_eq!(parse(q, true).map_err(|e| e.0), Err(code), "{q}");
        }
        let q = "SELECT Id, CurrencyIsoCode FROM Opportunity ORDER BY Id";
        assert!(parse(q, true).is_ok());
        assert_eq!(parse(q, false).map_err(|e| e.0), Err("INVALID_FIELD"));
    }
}
