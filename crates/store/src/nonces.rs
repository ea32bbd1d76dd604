//! Signature nonces seen within the timestamp window, shared by every replica through the database.

use crate::{Store, StoreError};

impl Store {
    /// Records `nonce` for `access_key_id` until `expires_at` (ms); `false` when it was already used.
    pub async fn record_nonce(
        &self,
        access_key_id: &str,
        nonce: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO signature_nonces (access_key_id, nonce, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (access_key_id, nonce) DO NOTHING",
        )
        .bind(access_key_id)
        .bind(nonce)
        .bind(expires_at)
        .execute(&self.nonce_pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Forgets nonces whose window has passed (a replay then fails the timestamp check anyway).
    pub async fn purge_nonces(&self, now: i64) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM signature_nonces WHERE expires_at < $1")
            .bind(now)
            .execute(&self.nonce_pool)
            .await?;
        Ok(result.rows_affected())
    }
}
