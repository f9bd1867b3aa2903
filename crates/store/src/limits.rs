//! Request counters shared by every instance: a fixed window per bucket (for example
//! `auth:<client ip>`), counted atomically in the database.

use crate::{Store, StoreError};

impl Store {
    /// Count one hit on `bucket` in the current `window_secs` window. Returns the
    /// seconds until the window ends when this hit is over `limit`.
    pub async fn hit_rate_limit(
        &self,
        bucket: &str,
        limit: u32,
        window_secs: i64,
    ) -> Result<Option<u64>, StoreError> {
        let now = self.clock.now();
        let window_start = now - now.rem_euclid(window_secs.max(1));
        let hits: i64 = sqlx::query_scalar(
            "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (bucket) DO UPDATE SET \
               hits = CASE WHEN rate_limits.window_start = $2 THEN rate_limits.hits + 1 ELSE 1 END, \
               window_start = $2 \
             RETURNING CAST(hits AS BIGINT)",
        )
        .bind(bucket.to_owned())
        .bind(window_start)
        .fetch_one(&self.pool)
        .await?;
        // Forget old windows now and then (about once per thousand hits).
        if rand_skip(now, hits) {
            sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
                .bind(window_start - 3600)
                .execute(&self.pool)
                .await?;
        }
        if hits > i64::from(limit) {
            return Ok(Some((window_start + window_secs - now).max(1) as u64));
        }
        Ok(None)
    }
}

fn rand_skip(now: i64, hits: i64) -> bool {
    (now.wrapping_mul(31).wrapping_add(hits)) % 1000 == 0
}
