//! bcrypt hashing (SECURITY.md AUTH-01). Hashing and verifying run on tokio's blocking
//! pool behind a semaphore, so a login storm queues there instead of stalling the async
//! workers that serve every other request.

use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

/// The production cost. `serve` refuses anything lower.
pub const PRODUCTION_COST: u32 = 12;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    permits: Arc<Semaphore>,
    dummy: Arc<OnceLock<String>>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("cost", &self.cost)
            .finish()
    }
}

/// Hashing failed (only on a bcrypt internal error or a cancelled task).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

impl PasswordHasher {
    /// `cost` is the bcrypt cost; `concurrency` bounds simultaneous hashes.
    pub fn new(cost: u32, concurrency: usize) -> Self {
        Self {
            cost,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: Arc::new(OnceLock::new()),
        }
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// Hash a password (`$2b$<cost>$…`).
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let _permit = self.permits.acquire().await.map_err(|_| HashError)?;
        let password = password.to_owned();
        let cost = self.cost;
        tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
            .await
            .map_err(|_| HashError)?
            .map_err(|_| HashError)
    }

    /// Verify a password against a stored hash. A malformed hash verifies as false.
    pub async fn verify(&self, password: &str, hash: &str) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let (password, hash) = (password.to_owned(), hash.to_owned());
        tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false)
    }

    /// Spend the same work as a real verify, for unknown accounts, so response timing
    /// does not reveal whether an email is registered (AUTH-04).
    pub async fn verify_dummy(&self, password: &str) {
        let dummy = match self.dummy.get() {
            Some(h) => h.clone(),
            None => {
                let Ok(h) = self.hash("pitchside-timing-equaliser").await else {
                    return;
                };
                self.dummy.get_or_init(|| h).clone()
            }
        };
        let _ = self.verify(password, &dummy).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_carry_the_cost() {
        let h = PasswordHasher::new(4, 2);
        let hash = h.hash("correct horse battery").await.expect("hash");
        assert!(hash.starts_with("$2b$04$"), "{hash}");
        assert!(h.verify("correct horse battery", &hash).await);
        assert!(!h.verify("correct horse batterz", &hash).await);
        assert!(!h.verify("x", "not a hash").await);
        h.verify_dummy("anything").await;
    }
}
