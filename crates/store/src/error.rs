//! Store errors, grouped by what a caller does with them.

use domain::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Missing, or not visible to this viewer: callers answer the same 404 for both.
    #[error("not found")]
    NotFound,
    /// Visible, but this viewer may not do that.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// A uniqueness or state conflict, with a stable code.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// Invalid input, tied to a field.
    #[error("invalid input: {0}")]
    Invalid(FieldError),
    /// Not authenticated (session missing, expired or revoked).
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("configuration: {0}")]
    Config(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A sealed value did not open (wrong keys, tampering, or moved to another place).
    #[error("a sealed value could not be opened")]
    Sealed,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn invalid(field: &str, message: &str) -> Self {
        StoreError::Invalid(FieldError::new(field, message))
    }

    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}
