//! Secrets of Pitchside: password hashing on the blocking pool, signed tokens with a
//! purpose claim, random tokens and keyed MACs. Field encryption (Fernet key rings)
//! joins this crate with the data-protection work.

pub mod password;
pub mod random;
pub mod tokens;

pub use password::PasswordHasher;
pub use random::{random_token, sha256_hex};
pub use tokens::{Claims, Purpose, SigningKey, TokenError};
