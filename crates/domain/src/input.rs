//! Validated input. Parsing happens once at the edge; the rest of the code holds types
//! that cannot be invalid.

use std::fmt;

/// A validation failure tied to the input field that caused it (a 422 in the API).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// An email address, trimmed and lowercased. The check is deliberately structural
/// (one `@`, a dotted domain, no spaces or control characters, at most 254 bytes):
/// deliverability is proven by the invitation email, not by a regex.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("email is required");
        }
        if email.len() > 254 {
            return Err("email must be at most 254 characters");
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("email must not contain spaces");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("email must contain @");
        };
        if local.is_empty() || domain.contains('@') {
            return Err("email is not a valid address");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
            return Err("email domain is not valid");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name for a person, team or organization: trimmed, 1 to 200 characters,
/// no control characters. HTML is fine here: every page escapes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be empty");
        }
        if name.chars().count() > 200 {
            return Err("must be at most 200 characters");
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").map(Email::into_string),
            Ok("ada@example.com".to_owned())
        );
        for bad in [
            "",
            "ada",
            "@x.com",
            "ada@",
            "ada@com",
            "a da@x.com",
            "a@b@c.com",
            "a@x..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            PersonName::parse("  Ada  ").map(PersonName::into_string),
            Ok("Ada".into())
        );
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse(&"x".repeat(201)).is_err());
        assert!(PersonName::parse("a\u{0}b").is_err());
        assert!(PersonName::parse("<b>Ada</b>").is_ok());
    }

    proptest! {
        #[test]
        fn email_parse_never_panics_and_output_is_stable(s in ".{0,300}") {
            if let Ok(e) = Email::parse(&s) {
                let again = Email::parse(e.as_str()).expect("a parsed email parses again");
                prop_assert_eq!(again, e);
            }
        }
    }
}
