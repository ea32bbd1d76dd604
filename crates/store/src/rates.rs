//! Request counts per access key and one-second window, for the API's rate limit. On
//! PostgreSQL a table every replica counts into, so the limit holds across replicas; on SQLite,
//! whose store one process serves, a map in that process (no write per request).

use std::collections::HashMap;
use std::sync::Mutex;

use sqlx::Row;

use crate::{Backend, Store, StoreError};

/// The windows of one process (SQLite).
#[derive(Debug, Default)]
pub(crate) struct LocalCounts(Mutex<HashMap<String, (i64, i64)>>);

impl LocalCounts {
    fn count(&self, key_id: &str, window: i64) -> i64 {
        let mut counts = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Keys idle since an earlier window are dropped once the map grows.
        if counts.len() > 100_000 {
            counts.retain(|_, (w, _)| *w >= window);
        }
        let entry = counts.entry(key_id.to_string()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 += 1;
        entry.1
    }
}

impl Store {
    /// Counts one request of `key_id` in the window starting at `window` (epoch ms) and answers
    /// how many the window holds now, this one included.
    pub async fn count_request(&self, key_id: &str, window: i64) -> Result<i64, StoreError> {
        if self.backend == Backend::Sqlite {
            return Ok(self.request_counts.count(key_id, window));
        }
        let row = sqlx::query(
            "INSERT INTO request_counts (key_id, window_start, n) VALUES ($1, $2, 1) \
             ON CONFLICT (key_id, window_start) DO UPDATE SET n = request_counts.n + 1 RETURNING n",
        )
        .bind(key_id)
        .bind(window)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Forgets windows that started before `before`.
    pub async fn purge_request_counts(&self, before: i64) -> Result<u64, StoreError> {
        if self.backend == Backend::Sqlite {
            return Ok(0);
        }
        let done = sqlx::query("DELETE FROM request_counts WHERE window_start < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_its_requests_and_the_next_starts_afresh() {
        let counts = LocalCounts::default();
        assert_eq!(counts.count("k", 1000), 1);
        assert_eq!(counts.count("k", 1000), 2);
        assert_eq!(counts.count("other", 1000), 1);
        assert_eq!(counts.count("k", 2000), 1);
    }
}
