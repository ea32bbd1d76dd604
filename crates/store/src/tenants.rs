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
    pub principal: KeyPrincipal,
    pub active: bool,
}

/// Whom a key signs for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPrincipal {
    /// The account itself: not subject to policies.
    Root,
    /// A RAM user of the account.
    User { name: String },
    /// A session of a role (a temporary `STS.` key).
    Session(Session),
}

/// A temporary key's role session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub role_name: String,
    pub session_name: String,
    /// The session policy given to `AssumeRole`, narrowing the role's.
    pub policy: Option<String>,
    /// SHA-256 (hex) of the security token that must come with the key.
    pub token_hash: String,
    /// Epoch ms.
    pub expires_at: i64,
}

impl AccessKey {
    pub fn is_root(&self) -> bool {
        self.principal == KeyPrincipal::Root
    }
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

    pub(crate) fn forget(&self, id: &str) {
        if let Ok(mut cache) = self.0.lock() {
            cache.remove(id);
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut cache) = self.0.lock() {
            cache.clear();
        }
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
            "SELECT id, tenant_id, secret_enc, is_root, status, user_name, role_name, session_name, \
             session_policy, token_hash, expires_at FROM access_keys WHERE id = $1",
        )
        .bind(access_key_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let secret_enc: String = row.try_get("secret_enc")?;
        let status: String = row.try_get("status")?;
        let user_name: Option<String> = row.try_get("user_name")?;
        let role_name: Option<String> = row.try_get("role_name")?;
        let principal = if row.try_get::<i64, _>("is_root")? != 0 {
            KeyPrincipal::Root
        } else if let Some(role_name) = role_name {
            KeyPrincipal::Session(Session {
                role_name,
                session_name: row
                    .try_get::<Option<String>, _>("session_name")?
                    .unwrap_or_default(),
                policy: row.try_get("session_policy")?,
                token_hash: row
                    .try_get::<Option<String>, _>("token_hash")?
                    .unwrap_or_default(),
                expires_at: row
                    .try_get::<Option<i64>, _>("expires_at")?
                    .unwrap_or_default(),
            })
        } else if let Some(name) = user_name {
            KeyPrincipal::User { name }
        } else {
            return Err(StoreError::Corrupt(format!(
                "access key {access_key_id} belongs to nobody"
            )));
        };
        let key = AccessKey {
            id: row.try_get("id")?,
            tenant_id: row.try_get("tenant_id")?,
            secret: self.cipher.decrypt(&secret_enc)?,
            principal,
            active: status == "Active",
        };
        self.access_keys.put(key.clone());
        Ok(Some(key))
    }
}
