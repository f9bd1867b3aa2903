//! Secrets of Pitchside: password hashing on the blocking pool, signed tokens with a
//! purpose claim, random tokens and keyed MACs, and field encryption with one Fernet
//! key ring per data domain ([`sealed`]).

pub mod password;
pub mod random;
pub mod sealed;
pub mod tokens;

pub use password::PasswordHasher;
pub use random::{random_token, sha256_hex};
pub use tokens::{Claims, Purpose, SigningKey, TokenError};
