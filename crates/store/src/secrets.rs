//! Master key rotation: re-encrypting every secret the store holds under the current key and
//! recording that key as the store's.
//!
//! [`SECRET_COLUMNS`] lists every encrypted column; a table that stores a secret adds its row
//! here, so rotation cannot forget it.

use sqlx::Row;

use crate::{Store, StoreError, transact};

/// `(table, key columns, encrypted column)` of every secret at rest.
pub const SECRET_COLUMNS: &[(&str, &[&str], &str)] = &[
    ("access_keys", &["id"], "secret_enc"),
    ("model_provider_templates", &["id"], "api_key_enc"),
    ("runtime_channels", &["runtime_id", "code"], "config_enc"),
    ("gateway_keys", &["id"], "secret_enc"),
    ("upload_grants", &["key_id"], "secret_enc"),
    ("skills", &["id"], "env_vars_enc"),
    ("skills", &["id"], "api_key_enc"),
];

impl Store {
    /// Re-encrypts, in one transaction, every stored secret not yet under the current key of
    /// this store's cipher (which must still hold the old key as a previous one). Returns how
    /// many values were rewritten. All or nothing: a value no key opens aborts the whole run.
    pub async fn reencrypt_secrets(&self) -> Result<u64, StoreError> {
        transact!(self, &[], |tx| {
            let mut rewritten = 0;
            for (table, keys, column) in SECRET_COLUMNS {
                let rows = sqlx::query(&format!(
                    "SELECT {}, {column} FROM {table} WHERE {column} IS NOT NULL",
                    keys.join(", ")
                ))
                .fetch_all(&mut *tx.tx)
                .await?;
                let matches: Vec<String> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| format!("{k} = ${}", i + 2))
                    .collect();
                let update = format!(
                    "UPDATE {table} SET {column} = $1 WHERE {}",
                    matches.join(" AND ")
                );
                for row in rows {
                    let stored: String = row.try_get(keys.len())?;
                    if self.cipher.is_current(&stored) {
                        continue;
                    }
                    let secret = self.cipher.decrypt(&stored)?;
                    let mut query =
                        sqlx::query(&update).bind(self.cipher.encrypt(secret.expose())?);
                    for i in 0..keys.len() {
                        query = query.bind(row.try_get::<String, _>(i)?);
                    }
                    query.execute(&mut *tx.tx).await?;
                    rewritten += 1;
                }
            }
            // The store now belongs to the new key: processes holding the old one are refused.
            sqlx::query(
                "INSERT INTO store_settings (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(crate::settings::MASTER_KEY_ID)
            .bind(self.cipher.current_key_id())
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(rewritten)
        })
    }
}
