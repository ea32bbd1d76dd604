//! The node daemons' side of the store: enrolment tokens, per-runtime credentials (both kept as
//! hashes of their secrets), each runtime's last report with the facts it yields (agent status
//! and version, risk flags, QR-code logins completed), and the sweep that turns runtimes whose
//! daemon went silent `Unavailable`.
//!
//! Lock order of the agent paths: a runtime's `agent_reports` row before its `runtimes` row
//! (both the report and the sweep write the two); no other writer takes `agent_reports`.

use std::collections::BTreeMap;

use domain::runtime::AgentStatus;
use sqlx::Row;

use crate::delivery::EFFECTIVE_MODEL_TEMPLATE;
use crate::query::Sql;
use crate::runtimes::{Risk, Runtime};
use crate::{Store, StoreError, transact};

/// An enrolment token or secret as stored (its secret hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub id: String,
    pub tenant_id: String,
    /// The runtime a one-time token binds; `None` for a tenant's enrolment secret.
    pub runtime_id: Option<String>,
    pub secret_hash: String,
    pub expires_at: Option<i64>,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

/// A runtime's credential as stored (its secret hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCredential {
    pub id: String,
    pub tenant_id: String,
    pub runtime_id: String,
    pub secret_hash: String,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

/// Why an enrolment did not bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrolRefusal {
    /// Used, revoked or expired meanwhile.
    TokenSpent,
    /// The runtime it binds is gone.
    RuntimeGone,
}

/// What the agent endpoint needs of a runtime to build its desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRuntime {
    pub id: String,
    pub tenant_id: String,
    pub generation: i64,
    pub agent_provider: String,
    pub deleted: bool,
    /// The runtime's own setting, else its resource group's, else `false`.
    pub repair_drift: bool,
    /// The effective model group: its own, else its resource group's.
    pub model_template_id: Option<String>,
}

/// A report, with the facts the server made of it.
#[derive(Debug, Clone)]
pub struct ReportWrite {
    pub tenant_id: String,
    pub runtime_id: String,
    pub received_at: i64,
    /// The report as JSON.
    pub body: String,
    /// A hash of `body`.
    pub digest: String,
    pub agent_status: AgentStatus,
    pub agent_version: Option<String>,
    pub risk: Risk,
    /// Channel codes whose QR-code login the host completed.
    pub qr_completed: Vec<String>,
}

/// A runtime's last report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    pub received_at: i64,
    pub body: String,
}

/// Where a drift policy is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftScope {
    Runtime(String),
    ResourceGroup(String),
}

const ENROLMENT_COLUMNS: &str =
    "id, tenant_id, runtime_id, secret_hash, expires_at, used_at, revoked_at, created_at";

fn enrolment_from_row(row: &sqlx::any::AnyRow) -> Result<Enrolment, StoreError> {
    Ok(Enrolment {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        runtime_id: row.try_get("runtime_id")?,
        secret_hash: row.try_get("secret_hash")?,
        expires_at: row.try_get("expires_at")?,
        used_at: row.try_get("used_at")?,
        revoked_at: row.try_get("revoked_at")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub async fn create_enrolment(&self, enrolment: &Enrolment) -> Result<(), StoreError> {
        transact!(self, &[enrolment.tenant_id.as_str()], |tx| {
            sqlx::query(&format!(
                "INSERT INTO agent_enrolments ({ENROLMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .bind(&enrolment.id)
            .bind(&enrolment.tenant_id)
            .bind(&enrolment.runtime_id)
            .bind(&enrolment.secret_hash)
            .bind(enrolment.expires_at)
            .bind(enrolment.used_at)
            .bind(enrolment.revoked_at)
            .bind(enrolment.created_at)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(())
        })
    }

    pub async fn enrolment(&self, id: &str) -> Result<Option<Enrolment>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ENROLMENT_COLUMNS} FROM agent_enrolments WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(enrolment_from_row).transpose()
    }

    /// Revokes an enrolment token or secret; `false` when the tenant has no such live one.
    pub async fn revoke_enrolment(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let revoked = transact!(self, &[tenant_id], |tx| {
            let done = sqlx::query(
                "UPDATE agent_enrolments SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(tenant_id)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(done.rows_affected())
        })?;
        Ok(revoked > 0)
    }

    /// Binds a host: in one transaction, spends a one-time token (still unused, unexpired and
    /// unrevoked) or checks a tenant secret is still live, registers `new_runtime` when given,
    /// revokes the runtime's earlier credentials (re-enrolment replaces the host) and stores
    /// `credential`.
    pub async fn enroll(
        &self,
        enrolment: &Enrolment,
        new_runtime: Option<&Runtime>,
        credential: &AgentCredential,
        now: i64,
    ) -> Result<Result<(), EnrolRefusal>, StoreError> {
        transact!(self, &[enrolment.tenant_id.as_str()], |tx| {
            let spend = if enrolment.runtime_id.is_some() {
                "UPDATE agent_enrolments SET used_at = $1 WHERE id = $2 AND used_at IS NULL \
                 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)"
            } else {
                "UPDATE agent_enrolments SET created_at = created_at WHERE id = $2 \
                 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)"
            };
            let live = sqlx::query(spend)
                .bind(now)
                .bind(&enrolment.id)
                .execute(&mut *tx.tx)
                .await?
                .rows_affected();
            if live == 0 {
                return Ok(Err(EnrolRefusal::TokenSpent));
            }
            if let Some(runtime) = new_runtime {
                crate::runtimes::insert_rows(&mut tx.tx, std::slice::from_ref(runtime)).await?;
            }
            let present = sqlx::query(
                "SELECT COUNT(*) FROM runtimes WHERE tenant_id = $1 AND id = $2 AND desktop_status <> 'Deleted'",
            )
            .bind(&credential.tenant_id)
            .bind(&credential.runtime_id)
            .fetch_one(&mut *tx.tx)
            .await?
            .try_get::<i64, _>(0)?;
            if present == 0 {
                return Ok(Err(EnrolRefusal::RuntimeGone));
            }
            sqlx::query(
                "UPDATE agent_credentials SET revoked_at = $1 WHERE runtime_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(&credential.runtime_id)
            .execute(&mut *tx.tx)
            .await?;
            sqlx::query(
                "INSERT INTO agent_credentials (id, tenant_id, runtime_id, secret_hash, revoked_at, created_at) \
                 VALUES ($1, $2, $3, $4, NULL, $5)",
            )
            .bind(&credential.id)
            .bind(&credential.tenant_id)
            .bind(&credential.runtime_id)
            .bind(&credential.secret_hash)
            .bind(credential.created_at)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(Ok(()))
        })
    }

    pub async fn agent_credential(&self, id: &str) -> Result<Option<AgentCredential>, StoreError> {
        let row = sqlx::query(
            "SELECT id, tenant_id, runtime_id, secret_hash, revoked_at, created_at \
             FROM agent_credentials WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(AgentCredential {
                id: row.try_get("id")?,
                tenant_id: row.try_get("tenant_id")?,
                runtime_id: row.try_get("runtime_id")?,
                secret_hash: row.try_get("secret_hash")?,
                revoked_at: row.try_get("revoked_at")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// Revokes every live credential of a runtime (its daemon is refused from then on); how
    /// many were live.
    pub async fn revoke_agent_credentials(
        &self,
        tenant_id: &str,
        runtime_id: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        transact!(self, &[tenant_id], |tx| {
            let done = sqlx::query(
                "UPDATE agent_credentials SET revoked_at = $1 WHERE tenant_id = $2 AND runtime_id = $3 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(tenant_id)
            .bind(runtime_id)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(done.rows_affected())
        })
    }

    /// The runtime as the agent endpoint sees it.
    pub async fn agent_runtime(
        &self,
        tenant_id: &str,
        runtime_id: &str,
    ) -> Result<Option<AgentRuntime>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT r.id, r.tenant_id, r.generation, r.agent_provider, r.desktop_status, \
             COALESCE(r.repair_drift, g.repair_drift, 0) AS repair_drift, \
             {EFFECTIVE_MODEL_TEMPLATE} AS model_template_id \
             FROM runtimes r LEFT JOIN resource_groups g ON g.id = r.resource_group_id \
             WHERE r.tenant_id = $1 AND r.id = $2"
        ))
        .bind(tenant_id)
        .bind(runtime_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let status: String = row.try_get("desktop_status")?;
            Ok(AgentRuntime {
                id: row.try_get("id")?,
                tenant_id: row.try_get("tenant_id")?,
                generation: row.try_get("generation")?,
                agent_provider: row.try_get("agent_provider")?,
                deleted: status == "Deleted",
                repair_drift: row.try_get::<i64, _>("repair_drift")? != 0,
                model_template_id: row.try_get("model_template_id")?,
            })
        })
        .transpose()
    }

    /// The tenant owning runtime `runtime_id`, for operator commands that name only the runtime.
    pub async fn runtime_tenant(&self, runtime_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT tenant_id FROM runtimes WHERE id = $1")
            .bind(runtime_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| row.try_get(0).map_err(StoreError::from))
            .transpose()
    }

    /// Every running runtime of an agent the daemon manages, any tenant: (tenant, id, provider).
    /// For the simulated fleet, which gives each a daemon.
    pub async fn running_agent_runtimes(
        &self,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant_id, id, agent_provider FROM runtimes WHERE desktop_status = 'Running' \
             AND agent_provider IN ('OpenClaw', 'HermesAgent') ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
            .collect()
    }

    /// The tenant created first, the one a single-tenant installation has.
    pub async fn first_tenant(&self) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT id FROM tenants ORDER BY created_at, id LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| row.try_get(0).map_err(StoreError::from))
            .transpose()
    }

    /// The tenant owning resource group `id`.
    pub async fn resource_group_tenant(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT tenant_id FROM resource_groups WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| row.try_get(0).map_err(StoreError::from))
            .transpose()
    }

    /// The current generation of each of `ids` (any tenant) that exists.
    pub async fn runtime_generations(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, i64>, StoreError> {
        let mut out = BTreeMap::new();
        for chunk in ids.chunks(500) {
            let mut sql = Sql::new("SELECT id, generation FROM runtimes WHERE");
            sql.in_list("id", chunk);
            for row in sql.query()?.fetch_all(&self.pool).await? {
                out.insert(row.try_get("id")?, row.try_get("generation")?);
            }
        }
        Ok(out)
    }

    /// Records a report. A report equal to the runtime's last one (same digest) only moves its
    /// time: the runtime's facts stand, so nothing a listing shows changes. Any other report
    /// rewrites the facts in one transaction.
    pub async fn record_report(&self, report: &ReportWrite) -> Result<(), StoreError> {
        let unchanged = sqlx::query(
            "UPDATE agent_reports SET received_at = $1 WHERE runtime_id = $2 AND tenant_id = $3 AND digest = $4",
        )
        .bind(report.received_at)
        .bind(&report.runtime_id)
        .bind(&report.tenant_id)
        .bind(&report.digest)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if unchanged > 0 {
            return Ok(());
        }
        transact!(self, &[report.tenant_id.as_str()], |tx| {
            sqlx::query(
                "INSERT INTO agent_reports (runtime_id, tenant_id, received_at, digest, body) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (runtime_id) DO UPDATE SET received_at = excluded.received_at, \
                 digest = excluded.digest, body = excluded.body",
            )
            .bind(&report.runtime_id)
            .bind(&report.tenant_id)
            .bind(report.received_at)
            .bind(&report.digest)
            .bind(&report.body)
            .execute(&mut *tx.tx)
            .await?;
            sqlx::query(
                "UPDATE runtimes SET agent_status = $1, agent_version = COALESCE($2, agent_version), \
                 risk_model = $3, risk_channel = $4, risk_uninstalled = $5 WHERE tenant_id = $6 AND id = $7",
            )
            .bind(report.agent_status.as_str())
            .bind(&report.agent_version)
            .bind(i64::from(report.risk.model_modified))
            .bind(i64::from(report.risk.channel_modified))
            .bind(i64::from(report.risk.agent_uninstalled))
            .bind(&report.tenant_id)
            .bind(&report.runtime_id)
            .execute(&mut *tx.tx)
            .await?;
            if !report.qr_completed.is_empty() {
                let mut done =
                    Sql::new("UPDATE runtime_channels SET status = 'Configured', updated_at = ");
                done.bind_int(report.received_at)
                    .push(" WHERE tenant_id = ")
                    .bind_text(report.tenant_id.clone())
                    .push(" AND runtime_id = ")
                    .bind_text(report.runtime_id.clone())
                    .push(" AND status = 'Configuring' AND");
                done.in_list("code", &report.qr_completed);
                done.query()?.execute(&mut *tx.tx).await?;
            }
            Ok::<_, StoreError>(())
        })
    }

    /// The last report of a runtime.
    pub async fn agent_report(
        &self,
        tenant_id: &str,
        runtime_id: &str,
    ) -> Result<Option<StoredReport>, StoreError> {
        let row = sqlx::query(
            "SELECT received_at, body FROM agent_reports WHERE tenant_id = $1 AND runtime_id = $2",
        )
        .bind(tenant_id)
        .bind(runtime_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(StoredReport {
                received_at: row.try_get("received_at")?,
                body: row.try_get("body")?,
            })
        })
        .transpose()
    }

    /// Turns `Unavailable` the agent instance of every runtime whose daemon has not reported
    /// since `cutoff`; returns how many. The report row's digest is cleared with it, so the
    /// daemon's next report, however equal to its last, restores the facts.
    pub async fn mark_silent_unavailable(&self, cutoff: i64) -> Result<u64, StoreError> {
        let rows = sqlx::query(
            "SELECT a.tenant_id, a.runtime_id FROM agent_reports a JOIN runtimes r ON r.id = a.runtime_id \
             WHERE a.received_at < $1 AND r.agent_status <> 'Unavailable' ORDER BY a.runtime_id LIMIT 1000",
        )
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?;
        let mut by_tenant: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for row in rows {
            by_tenant
                .entry(row.try_get("tenant_id")?)
                .or_default()
                .push(row.try_get("runtime_id")?);
        }
        let mut marked = 0;
        for (tenant_id, ids) in by_tenant {
            marked += transact!(self, &[tenant_id.as_str()], |tx| {
                // Only those still silent once their report row is held: a report arriving
                // meanwhile wins.
                let mut clear =
                    Sql::new("UPDATE agent_reports SET digest = '' WHERE received_at < ");
                clear.bind_int(cutoff).push(" AND");
                clear.in_list("runtime_id", &ids);
                clear.push(" RETURNING runtime_id");
                let silent: Vec<String> = clear
                    .query()?
                    .fetch_all(&mut *tx.tx)
                    .await?
                    .iter()
                    .map(|row| row.try_get(0))
                    .collect::<Result<_, _>>()?;
                if silent.is_empty() {
                    return Ok(0);
                }
                let mut mark =
                    Sql::new("UPDATE runtimes SET agent_status = 'Unavailable' WHERE tenant_id = ");
                mark.bind_text(tenant_id.clone()).push(" AND");
                mark.in_list("id", &silent);
                Ok::<_, StoreError>(mark.query()?.execute(&mut *tx.tx).await?.rows_affected())
            })?;
        }
        Ok(marked)
    }

    /// Sets (or clears, `None`) whether drift is repaired at once, on a runtime or a resource
    /// group, and bumps the generation of the runtimes it decides for; `false` when the tenant
    /// has no such runtime or group.
    pub async fn set_repair_drift(
        &self,
        tenant_id: &str,
        scope: &DriftScope,
        repair: Option<bool>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let value = repair.map(i64::from);
        transact!(self, &[tenant_id], |tx| {
            let (set, bump) = match scope {
                DriftScope::Runtime(id) => (
                    sqlx::query("UPDATE runtimes SET repair_drift = $1, generation = generation + 1, updated_at = $2 WHERE tenant_id = $3 AND id = $4")
                        .bind(value)
                        .bind(now)
                        .bind(tenant_id)
                        .bind(id),
                    None,
                ),
                DriftScope::ResourceGroup(id) => (
                    sqlx::query("UPDATE resource_groups SET repair_drift = $1 WHERE tenant_id = $2 AND id = $3")
                        .bind(value)
                        .bind(tenant_id)
                        .bind(id),
                    Some(id),
                ),
            };
            if set.execute(&mut *tx.tx).await?.rows_affected() == 0 {
                return Ok(false);
            }
            if let Some(group) = bump {
                sqlx::query("UPDATE runtimes SET generation = generation + 1, updated_at = $1 WHERE tenant_id = $2 AND resource_group_id = $3 AND repair_drift IS NULL")
                    .bind(now)
                    .bind(tenant_id)
                    .bind(group)
                    .execute(&mut *tx.tx)
                    .await?;
            }
            Ok::<_, StoreError>(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{runtime, test_store};

    fn credential(id: &str, runtime_id: &str) -> AgentCredential {
        AgentCredential {
            id: id.into(),
            tenant_id: "t1".into(),
            runtime_id: runtime_id.into(),
            secret_hash: "h".into(),
            revoked_at: None,
            created_at: 1,
        }
    }

    fn token(id: &str, runtime_id: Option<&str>) -> Enrolment {
        Enrolment {
            id: id.into(),
            tenant_id: "t1".into(),
            runtime_id: runtime_id.map(str::to_string),
            secret_hash: "h".into(),
            expires_at: Some(1_000),
            used_at: None,
            revoked_at: None,
            created_at: 1,
        }
    }

    fn report(digest: &str, status: AgentStatus, at: i64) -> ReportWrite {
        ReportWrite {
            tenant_id: "t1".into(),
            runtime_id: "ecd-1".into(),
            received_at: at,
            body: format!("{{\"d\":\"{digest}\"}}"),
            digest: digest.into(),
            agent_status: status,
            agent_version: Some("2026.9.6".into()),
            risk: Risk {
                model_modified: true,
                ..Risk::default()
            },
            qr_completed: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_one_time_token_binds_once_and_replaces_the_earlier_credential()
    -> Result<(), StoreError> {
        let (store, tenant, _dir) = test_store("enrol").await?;
        store
            .insert_runtimes(&[runtime(&tenant, "ecd-1", None)])
            .await?;
        let first = token("en-1", Some("ecd-1"));
        store.create_enrolment(&first).await?;
        assert_eq!(
            store
                .enroll(&first, None, &credential("nc-1", "ecd-1"), 5)
                .await?,
            Ok(())
        );
        assert_eq!(
            store
                .enroll(&first, None, &credential("nc-2", "ecd-1"), 6)
                .await?,
            Err(EnrolRefusal::TokenSpent)
        );
        let second = token("en-2", Some("ecd-1"));
        store.create_enrolment(&second).await?;
        assert_eq!(
            store
                .enroll(&second, None, &credential("nc-3", "ecd-1"), 7)
                .await?,
            Ok(())
        );
        let old = store.agent_credential("nc-1").await?.map(|c| c.revoked_at);
        assert_eq!(old, Some(Some(7)));
        let new = store.agent_credential("nc-3").await?.map(|c| c.revoked_at);
        assert_eq!(new, Some(None));
        // Expired tokens do not bind.
        let late = token("en-3", Some("ecd-1"));
        store.create_enrolment(&late).await?;
        assert_eq!(
            store
                .enroll(&late, None, &credential("nc-4", "ecd-1"), 2_000)
                .await?,
            Err(EnrolRefusal::TokenSpent)
        );
        Ok(())
    }

    #[tokio::test]
    async fn equal_reports_move_only_the_time_and_silence_turns_unavailable()
    -> Result<(), StoreError> {
        let (store, tenant, _dir) = test_store("report").await?;
        store
            .insert_runtimes(&[runtime(&tenant, "ecd-1", None)])
            .await?;
        store
            .record_report(&report("a", AgentStatus::Running, 10))
            .await?;
        let version = store.tenant_version(&tenant).await?;
        store
            .record_report(&report("a", AgentStatus::Running, 20))
            .await?;
        assert_eq!(store.tenant_version(&tenant).await?, version);
        let stored = store.agent_report(&tenant, "ecd-1").await?;
        assert_eq!(stored.map(|r| r.received_at), Some(20));
        let status = |store: Store| async move {
            Ok::<_, StoreError>(
                store
                    .runtimes_by_ids("t1", &["ecd-1".into()])
                    .await?
                    .first()
                    .map(|r| r.agent_status),
            )
        };
        assert_eq!(status(store.clone()).await?, Some(AgentStatus::Running));
        assert_eq!(store.mark_silent_unavailable(15).await?, 0);
        assert_eq!(store.mark_silent_unavailable(25).await?, 1);
        assert_eq!(status(store.clone()).await?, Some(AgentStatus::Unavailable));
        assert_eq!(store.mark_silent_unavailable(25).await?, 0);
        // The same report again restores the facts.
        store
            .record_report(&report("a", AgentStatus::Running, 30))
            .await?;
        assert_eq!(status(store.clone()).await?, Some(AgentStatus::Running));
        Ok(())
    }
}
