//! Facts about the store itself. The id of the master key that encrypts its secrets lets every
//! process that opens the store refuse a key that cannot read them, instead of failing later.

use sqlx::Row;

use crate::{Store, StoreError, transact};

pub(crate) const MASTER_KEY_ID: &str = "master_key_id";

impl Store {
    async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM store_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    /// The id of the master key this store's secrets are encrypted under, if it has any.
    pub async fn master_key_id(&self) -> Result<Option<String>, StoreError> {
        self.setting(MASTER_KEY_ID).await
    }

    /// Records the cipher's current key as the store's master key when the store has none yet,
    /// and refuses a cipher that holds neither the recorded key nor a key it was rotated from.
    pub async fn claim_master_key(&self) -> Result<(), StoreError> {
        let current = self.cipher.current_key_id();
        match self.master_key_id().await? {
            Some(recorded) if recorded == current => Ok(()),
            Some(recorded) => Err(StoreError::WrongMasterKey {
                recorded,
                given: current,
            }),
            None => {
                transact!(self, &[], |tx| {
                    sqlx::query("INSERT INTO store_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                        .bind(MASTER_KEY_ID)
                        .bind(&current)
                        .execute(&mut *tx.tx)
                        .await?;
                    Ok::<_, StoreError>(())
                })?;
                // Another process may have claimed the store first.
                match self.master_key_id().await? {
                    Some(recorded) if recorded != current => Err(StoreError::WrongMasterKey {
                        recorded,
                        given: current,
                    }),
                    _ => Ok(()),
                }
            }
        }
    }
}
