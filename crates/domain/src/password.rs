//! The password policy (SECURITY.md AUTH-02): at least 12 characters, at most 72 bytes
//! (bcrypt ignores anything longer, so we refuse rather than truncate silently), not one
//! of the 10,000 most common passwords, not the user's own email.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Minimum length in characters.
pub const MIN_CHARS: usize = 12;
/// Maximum length in bytes: bcrypt's input limit.
pub const MAX_BYTES: usize = 72;

static COMMON: &str = include_str!("../data/common-passwords.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON.lines().filter(|l| !l.is_empty()).collect())
}

/// Why a password was refused; the message is shown to the user as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least 12 characters")]
    TooShort,
    #[error("password must be at most 72 bytes (bcrypt ignores anything longer)")]
    TooLong,
    #[error("password is one of the most common passwords; choose another")]
    Common,
    #[error("password must not be your email address")]
    IsEmail,
}

/// Check a new password against the policy.
pub fn check_password(password: &str, email: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < MIN_CHARS {
        return Err(PasswordError::TooShort);
    }
    let lower = password.to_lowercase();
    if common().contains(lower.as_str()) {
        return Err(PasswordError::Common);
    }
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if !email.is_empty() && (lower == email || lower == local) {
        return Err(PasswordError::IsEmail);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_has_ten_thousand_entries() {
        assert_eq!(common().len(), 10_000);
    }

    #[test]
    fn policy_rules() {
        assert_eq!(
            check_password("short", "a@b.co"),
            Err(PasswordError::TooShort)
        );
        assert_eq!(
            check_password(&"x".repeat(73), "a@b.co"),
            Err(PasswordError::TooLong)
        );
        // 72 bytes of multi-byte characters is fine; 73 bytes is not.
        assert!(check_password(&"é".repeat(36), "a@b.co").is_ok());
        assert_eq!(
            check_password(&"é".repeat(37), "a@b.co"),
            Err(PasswordError::TooLong)
        );
        assert_eq!(
            check_password("qwerty123456", "a@b.co"),
            Err(PasswordError::Common)
        );
        assert_eq!(
            check_password("1QAZ2WSX3EDC", "a@b.co"),
            Err(PasswordError::Common)
        );
        assert_eq!(
            check_password("Ada.Lovelace@example.com", "ada.lovelace@example.com"),
            Err(PasswordError::IsEmail)
        );
        assert!(check_password("correct horse battery", "a@b.co").is_ok());
        assert!(check_password(&"y".repeat(64), "a@b.co").is_ok());
    }
}
