//! IM channels configured on runtimes. Their settings are encrypted here on the way in and
//! handed back only as [`Secret`]s; the per-runtime summaries used by listings carry no settings.

use std::collections::HashMap;

use sqlx::Row;

use crate::locks::lock_runtimes;
use crate::query::Sql;
use crate::{Secret, Store, StoreError, transact};

/// Where a channel stands on its runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelStatus {
    /// Waiting for the runtime to report that the QR-code login finished.
    Configuring,
    Configured,
}

impl ChannelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelStatus::Configuring => "Configuring",
            ChannelStatus::Configured => "Configured",
        }
    }

    fn parse(text: &str) -> Result<ChannelStatus, StoreError> {
        match text {
            "Configuring" => Ok(ChannelStatus::Configuring),
            "Configured" => Ok(ChannelStatus::Configured),
            other => Err(StoreError::Corrupt(format!("channel status {other:?}"))),
        }
    }
}

/// A channel as `ConfigRuntimeChannel` writes it to each runtime of a batch.
#[derive(Debug, Clone)]
pub struct ChannelWrite {
    pub code: String,
    pub name: String,
    pub config_mode: String,
    pub status: ChannelStatus,
}

/// The settings one runtime of a batch gets: the same request may keep each runtime's own
/// stored secrets, so they can differ.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    pub runtime_id: String,
    /// The settings JSON, in clear; encrypted before it is stored.
    pub config: Secret,
}

/// A channel as stored on one runtime, settings decrypted.
#[derive(Debug, Clone)]
pub struct RuntimeChannel {
    pub runtime_id: String,
    pub code: String,
    pub name: String,
    pub config_mode: String,
    pub config: Secret,
    pub status: ChannelStatus,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Store {
    /// Sets channel `channel.code` on every runtime of `settings`, each with its own settings
    /// (replacing what was there), and bumps their desired-state generation, in one transaction.
    pub async fn configure_channel(
        &self,
        tenant_id: &str,
        channel: &ChannelWrite,
        settings: &[RuntimeSettings],
        now: i64,
    ) -> Result<(), StoreError> {
        if settings.is_empty() {
            return Ok(());
        }
        let runtime_ids: Vec<String> = settings.iter().map(|s| s.runtime_id.clone()).collect();
        let runtimes = crate::locks::runtime_ids(tenant_id, &runtime_ids);
        let mut bump = Sql::new("UPDATE runtimes SET generation = generation + 1, updated_at = ");
        bump.bind_int(now).push(" WHERE ").append(&runtimes);
        transact!(self, &[tenant_id], |tx| {
            // The runtimes first: whoever changes a runtime's channels holds its row.
            lock_runtimes(tx, &runtimes).await?;
            for RuntimeSettings { runtime_id, config } in settings {
                let config_enc = self.cipher.encrypt(config.expose())?;
                sqlx::query(
                    "INSERT INTO runtime_channels \
                     (runtime_id, tenant_id, code, name, config_mode, config_enc, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                     ON CONFLICT (runtime_id, code) DO UPDATE SET name = excluded.name, \
                     config_mode = excluded.config_mode, config_enc = excluded.config_enc, \
                     status = excluded.status, updated_at = excluded.updated_at",
                )
                .bind(runtime_id)
                .bind(tenant_id)
                .bind(&channel.code)
                .bind(&channel.name)
                .bind(&channel.config_mode)
                .bind(config_enc)
                .bind(channel.status.as_str())
                .bind(now)
                .execute(&mut *tx.tx)
                .await?;
            }
            bump.query()?.execute(&mut *tx.tx).await?;
            Ok::<_, StoreError>(())
        })?;
        Ok(())
    }

    /// The stored settings of channel `code` on those of `runtime_ids` that have it, decrypted,
    /// by runtime id.
    pub async fn channel_settings(
        &self,
        tenant_id: &str,
        runtime_ids: &[String],
        code: &str,
    ) -> Result<HashMap<String, Secret>, StoreError> {
        let mut sql = Sql::new(
            "SELECT runtime_id, config_enc FROM runtime_channels WHERE tenant_id = $1 AND code = $2 AND",
        );
        sql.preset(&[
            crate::query::Value::Text(tenant_id.to_string()),
            crate::query::Value::Text(code.to_string()),
        ]);
        sql.in_list("runtime_id", runtime_ids);
        let rows = sql.query()?.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let config_enc: String = row.try_get("config_enc")?;
                Ok((
                    row.try_get("runtime_id")?,
                    self.cipher.decrypt(&config_enc)?,
                ))
            })
            .collect()
    }

    /// Removes channel `code` from the runtimes that have it, bumping their generation, in one
    /// transaction. Returns how many runtimes lost it.
    pub async fn remove_channel(
        &self,
        tenant_id: &str,
        runtime_ids: &[String],
        code: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        if runtime_ids.is_empty() {
            return Ok(0);
        }
        let runtimes = crate::locks::runtime_ids(tenant_id, runtime_ids);
        let mut bump = Sql::new("UPDATE runtimes SET generation = generation + 1, updated_at = ");
        bump.bind_int(now)
            .push(" WHERE EXISTS (SELECT 1 FROM runtime_channels c WHERE c.runtime_id = runtimes.id AND c.code = ")
            .bind_text(code)
            .push(") AND ")
            .append(&runtimes);
        let mut delete = Sql::new("DELETE FROM runtime_channels WHERE tenant_id = ");
        delete
            .bind_text(tenant_id)
            .push(" AND code = ")
            .bind_text(code)
            .push(" AND");
        delete.in_list("runtime_id", runtime_ids);
        let removed = transact!(self, &[tenant_id], |tx| {
            lock_runtimes(tx, &runtimes).await?;
            bump.query()?.execute(&mut *tx.tx).await?;
            Ok::<_, StoreError>(delete.query()?.execute(&mut *tx.tx).await?.rows_affected())
        })?;
        Ok(removed)
    }

    /// The channels of one runtime, by code, settings decrypted.
    pub async fn runtime_channels(
        &self,
        tenant_id: &str,
        runtime_id: &str,
    ) -> Result<Vec<RuntimeChannel>, StoreError> {
        let rows = sqlx::query(
            "SELECT runtime_id, code, name, config_mode, config_enc, status, created_at, updated_at \
             FROM runtime_channels WHERE tenant_id = $1 AND runtime_id = $2 ORDER BY code",
        )
        .bind(tenant_id)
        .bind(runtime_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let config_enc: String = row.try_get("config_enc")?;
                let status: String = row.try_get("status")?;
                Ok(RuntimeChannel {
                    runtime_id: row.try_get("runtime_id")?,
                    code: row.try_get("code")?,
                    name: row.try_get("name")?,
                    config_mode: row.try_get("config_mode")?,
                    config: self.cipher.decrypt(&config_enc)?,
                    status: ChannelStatus::parse(&status)?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Marks a QR-code channel as configured once the runtime reports that the login finished.
    /// This records actual state, not a new desired one, so the generation stays. `false` when
    /// the runtime has no such channel waiting.
    pub async fn complete_qr_channel(
        &self,
        tenant_id: &str,
        runtime_id: &str,
        code: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let updated = transact!(self, &[tenant_id], |tx| {
            let done = sqlx::query(
                    "UPDATE runtime_channels SET status = 'Configured', updated_at = $1 \
                     WHERE tenant_id = $2 AND runtime_id = $3 AND code = $4 AND status = 'Configuring'",
                )
                .bind(now)
                .bind(tenant_id)
                .bind(runtime_id)
                .bind(code)
                .execute(&mut *tx.tx)
                .await?;
            Ok::<_, StoreError>(done.rows_affected())
        })?;
        Ok(updated > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtimes::RuntimeFilter;
    use crate::test_support::{add_tenant, runtime, test_store};

    fn write(code: &str, status: ChannelStatus) -> ChannelWrite {
        ChannelWrite {
            code: code.into(),
            name: code.into(),
            config_mode: "Simple".into(),
            status,
        }
    }

    fn each(runtime_ids: &[&str], config: &str) -> Vec<RuntimeSettings> {
        runtime_ids
            .iter()
            .map(|id| RuntimeSettings {
                runtime_id: (*id).into(),
                config: Secret::new(config),
            })
            .collect()
    }

    /// The channel codes a runtime's listing shows: (configured, QR login in progress).
    async fn channel_states(
        store: &Store,
        tenant: &str,
        id: &str,
    ) -> Result<(Vec<String>, Vec<String>), StoreError> {
        let filter = RuntimeFilter {
            tenant_id: tenant.into(),
            ids: Some(vec![id.into()]),
            ..Default::default()
        };
        let page = store.list_runtime_listings(&filter, 0, 1).await?;
        Ok(page
            .first()
            .map(|r| {
                (
                    r.channels_configured.clone(),
                    r.channels_configuring.clone(),
                )
            })
            .unwrap_or_default())
    }

    async fn generation(store: &Store, tenant: &str, id: &str) -> Result<Option<i64>, StoreError> {
        Ok(store
            .runtimes_by_ids(tenant, &[id.to_string()])
            .await?
            .first()
            .map(|r| r.generation))
    }

    #[tokio::test]
    async fn qr_channel_is_configuring_until_completed() -> Result<(), StoreError> {
        let (store, tenant, _dir) = test_store("ch-qr").await?;
        let other = add_tenant(&store, "t-other").await?;
        store
            .insert_runtimes(&[runtime(&tenant, "ecd-1", None)])
            .await?;
        store
            .configure_channel(
                &tenant,
                &write("wechat", ChannelStatus::Configuring),
                &each(&["ecd-1"], "{}"),
                10,
            )
            .await?;
        let configured = RuntimeFilter {
            tenant_id: tenant.clone(),
            channel_configured: Some(true),
            ..Default::default()
        };
        assert_eq!(store.count_runtimes(&configured).await?, 0);
        assert_eq!(
            channel_states(&store, &tenant, "ecd-1").await?,
            (vec![], vec!["wechat".to_string()])
        );
        // another tenant cannot complete it, and completing a channel that is not there is a no-op
        assert!(
            !store
                .complete_qr_channel(&other, "ecd-1", "wechat", 11)
                .await?
        );
        assert!(
            !store
                .complete_qr_channel(&tenant, "ecd-1", "feishu", 11)
                .await?
        );
        let before = generation(&store, &tenant, "ecd-1").await?;
        assert!(
            store
                .complete_qr_channel(&tenant, "ecd-1", "wechat", 12)
                .await?
        );
        assert!(
            !store
                .complete_qr_channel(&tenant, "ecd-1", "wechat", 13)
                .await?
        );
        assert_eq!(generation(&store, &tenant, "ecd-1").await?, before);
        assert_eq!(
            channel_states(&store, &tenant, "ecd-1").await?,
            (vec!["wechat".to_string()], vec![])
        );
        assert_eq!(store.count_runtimes(&configured).await?, 1);
        Ok(())
    }

    #[tokio::test]
    async fn settings_are_encrypted_and_changes_bump_generation() -> Result<(), StoreError> {
        let (store, tenant, _dir) = test_store("ch-enc").await?;
        store
            .insert_runtimes(&[
                runtime(&tenant, "ecd-1", None),
                runtime(&tenant, "ecd-2", None),
            ])
            .await?;
        let secret = r#"{"appKey":"k","appSecret":"planted-secret-4711"}"#;
        store
            .configure_channel(
                &tenant,
                &write("dingtalk-connector", ChannelStatus::Configured),
                &each(&["ecd-1", "ecd-2"], secret),
                10,
            )
            .await?;
        assert_eq!(generation(&store, &tenant, "ecd-1").await?, Some(2));
        let raw: Vec<String> = sqlx::query_scalar("SELECT config_enc FROM runtime_channels")
            .fetch_all(&store.pool)
            .await?;
        assert_eq!(raw.len(), 2);
        assert!(raw.iter().all(|r| !r.contains("planted-secret")));
        let channels = store.runtime_channels(&tenant, "ecd-1").await?;
        assert_eq!(
            channels
                .iter()
                .map(|c| c.config.expose())
                .collect::<Vec<_>>(),
            [secret]
        );
        assert!(!format!("{channels:?}").contains("planted-secret"));
        let stored = store
            .channel_settings(
                &tenant,
                &["ecd-2".into(), "ecd-3".into()],
                "dingtalk-connector",
            )
            .await?;
        assert_eq!(
            stored
                .iter()
                .map(|(id, c)| (id.as_str(), c.expose()))
                .collect::<Vec<_>>(),
            [("ecd-2", secret)]
        );
        assert!(
            store
                .channel_settings(&tenant, &["ecd-2".into()], "feishu")
                .await?
                .is_empty()
        );
        // removing bumps only the runtimes that had it
        assert_eq!(
            store
                .remove_channel(&tenant, &["ecd-1".into()], "dingtalk-connector", 11)
                .await?,
            1
        );
        assert_eq!(
            store
                .remove_channel(&tenant, &["ecd-1".into()], "dingtalk-connector", 12)
                .await?,
            0
        );
        assert_eq!(generation(&store, &tenant, "ecd-1").await?, Some(3));
        assert_eq!(generation(&store, &tenant, "ecd-2").await?, Some(2));
        assert!(store.runtime_channels(&tenant, "ecd-1").await?.is_empty());
        // one batch, each runtime with its own settings
        let own = |id: &str, config: &str| RuntimeSettings {
            runtime_id: id.into(),
            config: Secret::new(config),
        };
        store
            .configure_channel(
                &tenant,
                &write("feishu", ChannelStatus::Configured),
                &[
                    own("ecd-1", r#"{"appSecret":"one"}"#),
                    own("ecd-2", r#"{"appSecret":"two"}"#),
                ],
                11,
            )
            .await?;
        let mut stored: Vec<(String, String)> = store
            .channel_settings(&tenant, &["ecd-1".into(), "ecd-2".into()], "feishu")
            .await?
            .into_iter()
            .map(|(id, c)| (id, c.expose().to_string()))
            .collect();
        stored.sort();
        assert_eq!(
            stored,
            [
                ("ecd-1".to_string(), r#"{"appSecret":"one"}"#.to_string()),
                ("ecd-2".to_string(), r#"{"appSecret":"two"}"#.to_string())
            ]
        );
        store
            .remove_channel(&tenant, &["ecd-1".into(), "ecd-2".into()], "feishu", 11)
            .await?;
        Ok(())
    }
}
