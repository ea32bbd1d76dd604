//! Tenants (accounts) and their access keys. Key secrets are stored encrypted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::Row;

use crate::{Secret, Store, StoreError, transact};

/// A new tenant with its root access key, as the caller (who chose the ids) hands it over.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub account_id: String,
    pub name: String,
    pub access_key_id: String,
    pub access_key_secret: Secret,
    pub created_at: i64,
}

/// An access key as the authenticator needs it.
#[derive(Debug, Clone)]
pub struct AccessKey {
    pub id: String,
    pub tenant_id: String,
    pub secret: Secret,
    pub is_root: bool,
    pub active: bool,
}

/// How long a looked-up key is trusted before it is read again (a disabled key stops working
/// within this time on every replica).
const ACCESS_KEY_TTL: Duration = Duration::from_secs(10);

/// Every signed call looks its key up, and decrypting the secret each time is wasted work.
#[derive(Default)]
pub(crate) struct AccessKeyCache(Mutex<HashMap<String, (Instant, AccessKey)>>);

impl AccessKeyCache {
    fn get(&self, id: &str) -> Option<AccessKey> {
        let cache = self.0.lock().ok()?;
        cache
            .get(id)
            .filter(|(at, _)| at.elapsed() < ACCESS_KEY_TTL)
            .map(|(_, key)| key.clone())
    }

    fn put(&self, key: AccessKey) {
        if let Ok(mut cache) = self.0.lock() {
            if cache.len() >= 10_000 {
                cache.clear();
            }
            cache.insert(key.id.clone(), (Instant::now(), key));
        }
    }
}

impl Store {
    pub async fn create_tenant(&self, tenant: &NewTenant) -> Result<(), StoreError> {
        let secret_enc = self.cipher.encrypt(tenant.access_key_secret.expose())?;
        transact!(self, &[], |tx| {
            sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(&tenant.account_id)
                .bind(&tenant.name)
                .bind(tenant.created_at)
                .execute(&mut *tx.tx)
                .await?;
            sqlx::query(
                "INSERT INTO access_keys (id, tenant_id, secret_enc, is_root, status, created_at) \
                 VALUES ($1, $2, $3, 1, 'Active', $4)",
            )
            .bind(&tenant.access_key_id)
            .bind(&tenant.account_id)
            .bind(&secret_enc)
            .bind(tenant.created_at)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(())
        })
    }

    pub async fn tenant_count(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM tenants")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    pub async fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>, StoreError> {
        if let Some(key) = self.access_keys.get(access_key_id) {
            return Ok(Some(key));
        }
        let row = sqlx::query(
            "SELECT id, tenant_id, secret_enc, is_root, status FROM access_keys WHERE id = $1",
        )
        .bind(access_key_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let secret_enc: String = row.try_get("secret_enc")?;
        let status: String = row.try_get("status")?;
        let key = AccessKey {
            id: row.try_get("id")?,
            tenant_id: row.try_get("tenant_id")?,
            secret: self.cipher.decrypt(&secret_enc)?,
            is_root: row.try_get::<i64, _>("is_root")? != 0,
            active: status == "Active",
        };
        self.access_keys.put(key.clone());
        Ok(Some(key))
    }
}
