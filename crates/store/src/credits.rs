//! The credit ledger: credit packs, per-agent quotas and usage, the leases through which gateway
//! replicas hold parts of a budget, the deduction of every metered call, and gateway keys.
//!
//! Never overspend, across replicas: a replica takes a lease (a part of what is left) in one
//! transaction that sees every other lease, spends it from memory, and settles what it spent in
//! batches, which move it from the lease to the packs and the agent's period usage. Every such
//! transaction of a tenant first locks the tenant's `credit_accounts` row (on PostgreSQL; on
//! SQLite writers take turns), then, in one settlement, tenants in id order.

use std::collections::{BTreeMap, HashMap};

use sqlx::Row;

use crate::query::Sql;
use crate::{Store, StoreError, WriteTx, transact};

/// A credit pack (`cp-inst-…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditPack {
    pub id: String,
    pub tenant_id: String,
    /// Units granted and used (see `domain::credits`).
    pub amount: i64,
    pub used: i64,
    pub starts_at: i64,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

impl CreditPack {
    /// `Active` between its start and expiry while credits are left; `Exhausted`, `Expired`
    /// or `NotStarted` otherwise.
    pub fn status(&self, now: i64) -> &'static str {
        if self.expires_at.is_some_and(|e| e <= now) {
            "Expired"
        } else if self.starts_at > now {
            "NotStarted"
        } else if self.used >= self.amount {
            "Exhausted"
        } else {
            "Active"
        }
    }

    fn usable(&self, now: i64) -> bool {
        self.status(now) == "Active"
    }
}

/// An agent's credit settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditAgent {
    pub tenant_id: String,
    pub agent_id: String,
    pub agent_type: String,
    /// Units per calendar month; `None`: bounded by the packs only.
    pub quota: Option<i64>,
    pub warn_percent: i64,
    /// Requests and tokens per minute the gateway allows; `None`: unlimited.
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One metered call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deduction {
    pub id: String,
    pub tenant_id: String,
    pub agent_id: String,
    pub agent_type: String,
    pub run_id: String,
    pub model: String,
    /// The pack it drew from first; empty when it cost nothing and no pack exists.
    pub package_id: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub tokens_cached: i64,
    pub units: i64,
    pub estimated: bool,
    pub started_at: i64,
    pub ended_at: i64,
}

/// Why a claim was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortfall {
    /// The tenant's usable packs do not leave enough.
    Packs,
    /// The agent's quota for the period does not.
    Quota,
}

/// A request for more of an agent's budget.
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    pub tenant_id: &'a str,
    pub agent_id: &'a str,
    /// The lease to grow, or to create under this id.
    pub lease_id: &'a str,
    /// Units the waiting call needs beyond what the lease has free.
    pub need: i64,
    /// The quota period (`YYYY-MM`) of `now`.
    pub period: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

/// What a replica spent of one lease since it last settled.
#[derive(Debug, Clone)]
pub struct LeaseSpend {
    pub id: String,
    pub tenant_id: String,
    pub spent: i64,
    /// Give back what the lease still holds, and end it.
    pub release: bool,
}

/// One batch of settlements.
#[derive(Debug, Clone, Default)]
pub struct Settlement {
    pub now: i64,
    /// The new expiry of every lease named that stays.
    pub expires_at: i64,
    /// The quota period of each deduction is that of its `ended_at`.
    pub deductions: Vec<Deduction>,
    pub leases: Vec<LeaseSpend>,
}

/// Which deductions a query sees.
#[derive(Debug, Clone, Default)]
pub struct DeductionFilter {
    pub tenant_id: String,
    pub agent_ids: Vec<String>,
    pub package_ids: Vec<String>,
    pub agent_types: Vec<String>,
    /// `ended_at` in `[since, until)`.
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// A gateway key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayKey {
    pub id: String,
    pub tenant_id: String,
    pub runtime_id: String,
    pub secret_hash: String,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

const PACK_COLUMNS: &str = "id, tenant_id, amount, used, starts_at, expires_at, created_at";
const AGENT_COLUMNS: &str =
    "tenant_id, agent_id, agent_type, quota, warn_percent, rpm, tpm, created_at, updated_at";
const DEDUCTION_COLUMNS: &str = "id, tenant_id, agent_id, agent_type, run_id, model, package_id, \
     tokens_in, tokens_out, tokens_cached, units, estimated, started_at, ended_at";
/// Deduction rows per INSERT statement (14 parameters each). SQLite's driver looks every
/// parameter's name up among all of the statement's, so its cost grows with the square of the
/// rows: it takes few at a time, PostgreSQL many (each statement is a round trip).
const INSERT_CHUNK_SQLITE: usize = 8;
const INSERT_CHUNK_POSTGRES: usize = 200;

fn pack_from_row(row: &sqlx::any::AnyRow) -> Result<CreditPack, StoreError> {
    Ok(CreditPack {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        amount: row.try_get("amount")?,
        used: row.try_get("used")?,
        starts_at: row.try_get("starts_at")?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
    })
}

fn agent_from_row(row: &sqlx::any::AnyRow) -> Result<CreditAgent, StoreError> {
    Ok(CreditAgent {
        tenant_id: row.try_get("tenant_id")?,
        agent_id: row.try_get("agent_id")?,
        agent_type: row.try_get("agent_type")?,
        quota: row.try_get("quota")?,
        warn_percent: row.try_get("warn_percent")?,
        rpm: row.try_get("rpm")?,
        tpm: row.try_get("tpm")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn deduction_from_row(row: &sqlx::any::AnyRow) -> Result<Deduction, StoreError> {
    Ok(Deduction {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        agent_id: row.try_get("agent_id")?,
        agent_type: row.try_get("agent_type")?,
        run_id: row.try_get("run_id")?,
        model: row.try_get("model")?,
        package_id: row.try_get("package_id")?,
        tokens_in: row.try_get("tokens_in")?,
        tokens_out: row.try_get("tokens_out")?,
        tokens_cached: row.try_get("tokens_cached")?,
        units: row.try_get("units")?,
        estimated: row.try_get::<i64, _>("estimated")? != 0,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

/// Locks the tenant's credit account row (creating it the first time).
async fn lock_account(tx: &mut WriteTx<'_>, tenant_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO credit_accounts (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING",
    )
    .bind(tenant_id)
    .execute(&mut *tx.tx)
    .await?;
    sqlx::query(&format!(
        "SELECT tenant_id FROM credit_accounts WHERE tenant_id = $1{}",
        tx.locking("UPDATE")
    ))
    .bind(tenant_id)
    .fetch_optional(&mut *tx.tx)
    .await?;
    Ok(())
}

async fn scalar(tx: &mut WriteTx<'_>, sql: &str, binds: &[&str]) -> Result<i64, StoreError> {
    let mut query = sqlx::query(sql);
    for b in binds {
        query = query.bind(*b);
    }
    Ok(query.fetch_one(&mut *tx.tx).await?.try_get(0)?)
}

impl DeductionFilter {
    fn condition(&self) -> Sql {
        let mut sql = Sql::new(" WHERE tenant_id = ");
        sql.bind_text(&self.tenant_id);
        for (column, values) in [
            ("agent_id", &self.agent_ids),
            ("package_id", &self.package_ids),
            ("agent_type", &self.agent_types),
        ] {
            if !values.is_empty() {
                sql.push(" AND");
                sql.in_list(column, values);
            }
        }
        if let Some(since) = self.since {
            sql.push(" AND ended_at >= ").bind_int(since);
        }
        if let Some(until) = self.until {
            sql.push(" AND ended_at < ").bind_int(until);
        }
        sql
    }
}

impl Store {
    pub async fn add_credit_pack(&self, pack: &CreditPack) -> Result<(), StoreError> {
        transact!(self, &[], |tx| {
            sqlx::query(&format!(
                "INSERT INTO credit_packs ({PACK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ))
            .bind(&pack.id)
            .bind(&pack.tenant_id)
            .bind(pack.amount)
            .bind(pack.used)
            .bind(pack.starts_at)
            .bind(pack.expires_at)
            .bind(pack.created_at)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(())
        })
    }

    /// The tenant's packs, in the order they are drawn from: soonest expiry first, packs that
    /// never expire last.
    pub async fn credit_packs(&self, tenant_id: &str) -> Result<Vec<CreditPack>, StoreError> {
        sqlx::query(&format!(
            "SELECT {PACK_COLUMNS} FROM credit_packs WHERE tenant_id = $1 \
             ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, starts_at, id"
        ))
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(pack_from_row)
        .collect()
    }

    /// Units held by live leases of the tenant (`agent_id`: of that agent only).
    pub async fn credits_held(
        &self,
        tenant_id: &str,
        agent_id: Option<&str>,
        now: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(held), 0) AS BIGINT) FROM credit_leases \
             WHERE tenant_id = $1 AND expires_at > $2 AND ($3 = '' OR agent_id = $3)",
        )
        .bind(tenant_id)
        .bind(now)
        .bind(agent_id.unwrap_or(""))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Sets (or with `None` clears) the monthly quota of `agents` (id, agent type), creating
    /// their credit records as needed, and ends every lease on them so that each replica
    /// claims again under the new quota.
    pub async fn set_agent_quotas(
        &self,
        tenant_id: &str,
        agents: &[(String, String)],
        quota: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        transact!(self, &[], |tx| {
            lock_account(tx, tenant_id).await?;
            for (agent_id, agent_type) in agents {
                sqlx::query(&format!(
                    "INSERT INTO credit_agents ({AGENT_COLUMNS}) VALUES ($1, $2, $3, $4, 80, NULL, NULL, $5, $5) \
                     ON CONFLICT (tenant_id, agent_id) DO UPDATE SET quota = excluded.quota, \
                     agent_type = excluded.agent_type, updated_at = excluded.updated_at"
                ))
                .bind(tenant_id)
                .bind(agent_id)
                .bind(agent_type)
                .bind(quota)
                .bind(now)
                .execute(&mut *tx.tx)
                .await?;
                sqlx::query("DELETE FROM credit_leases WHERE tenant_id = $1 AND agent_id = $2")
                    .bind(tenant_id)
                    .bind(agent_id)
                    .execute(&mut *tx.tx)
                    .await?;
            }
            Ok::<_, StoreError>(())
        })
    }

    /// Sets the gateway's per-minute limits of an agent (`None`: unlimited).
    pub async fn set_agent_rate_limits(
        &self,
        tenant_id: &str,
        agent: (&str, &str),
        rpm: Option<i64>,
        tpm: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        transact!(self, &[], |tx| {
            sqlx::query(&format!(
                "INSERT INTO credit_agents ({AGENT_COLUMNS}) VALUES ($1, $2, $3, NULL, 80, $4, $5, $6, $6) \
                 ON CONFLICT (tenant_id, agent_id) DO UPDATE SET rpm = excluded.rpm, tpm = excluded.tpm, \
                 updated_at = excluded.updated_at"
            ))
            .bind(tenant_id)
            .bind(agent.0)
            .bind(agent.1)
            .bind(rpm)
            .bind(tpm)
            .bind(now)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(())
        })
    }

    pub async fn credit_agent(
        &self,
        tenant_id: &str,
        agent_id: &str,
    ) -> Result<Option<CreditAgent>, StoreError> {
        sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM credit_agents WHERE tenant_id = $1 AND agent_id = $2"
        ))
        .bind(tenant_id)
        .bind(agent_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(agent_from_row)
        .transpose()
    }

    /// The tenant's agents with a credit record or a deduction, ordered by id, after `after`,
    /// at most `limit` (with their record when they have one).
    pub async fn credit_agents(
        &self,
        tenant_id: &str,
        agent_ids: &[String],
        after: &str,
        limit: usize,
    ) -> Result<Vec<(String, Option<CreditAgent>)>, StoreError> {
        let mut ids = Sql::new("SELECT agent_id FROM credit_agents WHERE tenant_id = ");
        ids.bind_text(tenant_id);
        if !agent_ids.is_empty() {
            ids.push(" AND");
            ids.in_list("agent_id", agent_ids);
        }
        ids.push(" AND agent_id > ").bind_text(after);
        ids.push(" UNION SELECT DISTINCT agent_id FROM credit_deductions WHERE tenant_id = ");
        ids.bind_text(tenant_id);
        if !agent_ids.is_empty() {
            ids.push(" AND");
            ids.in_list("agent_id", agent_ids);
        }
        ids.push(" AND agent_id > ").bind_text(after);
        let mut sql = Sql::new("SELECT agent_id FROM (");
        sql.append(&ids)
            .push(") agents ORDER BY agent_id LIMIT ")
            .bind_int(i64::try_from(limit).unwrap_or(i64::MAX));
        let found: Vec<String> = sql
            .query()?
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let mut records = Sql::new(&format!(
            "SELECT {AGENT_COLUMNS} FROM credit_agents WHERE tenant_id = "
        ));
        records.bind_text(tenant_id).push(" AND");
        records.in_list("agent_id", &found);
        let mut by_id: HashMap<String, CreditAgent> = records
            .query()?
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| agent_from_row(r).map(|a| (a.agent_id.clone(), a)))
            .collect::<Result<_, _>>()?;
        Ok(found
            .into_iter()
            .map(|id| {
                let record = by_id.remove(&id);
                (id, record)
            })
            .collect())
    }

    /// What each of `agent_ids` used in quota period `period`.
    pub async fn agent_period_usage(
        &self,
        tenant_id: &str,
        agent_ids: &[String],
        period: &str,
    ) -> Result<HashMap<String, i64>, StoreError> {
        if agent_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut sql = Sql::new("SELECT agent_id, used FROM credit_agent_usage WHERE tenant_id = ");
        sql.bind_text(tenant_id)
            .push(" AND period = ")
            .bind_text(period)
            .push(" AND");
        sql.in_list("agent_id", agent_ids);
        sql.query()?
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Grows (or creates) lease `claim.lease_id` by a share of what the tenant's packs and the
    /// agent's quota leave after every live lease — at least `claim.need` — and returns the
    /// units added; refused when not even `need` is left.
    pub async fn claim_credits(
        &self,
        claim: &Claim<'_>,
    ) -> Result<Result<i64, Shortfall>, StoreError> {
        transact!(self, &[], |tx| {
            lock_account(tx, claim.tenant_id).await?;
            sqlx::query("DELETE FROM credit_leases WHERE tenant_id = $1 AND expires_at <= $2")
                .bind(claim.tenant_id)
                .bind(claim.now)
                .execute(&mut *tx.tx)
                .await?;
            let packs_left: i64 = sqlx::query(
                "SELECT CAST(COALESCE(SUM(CASE WHEN amount > used THEN amount - used ELSE 0 END), 0) AS BIGINT) \
                 FROM credit_packs WHERE tenant_id = $1 AND starts_at <= $2 \
                 AND (expires_at IS NULL OR expires_at > $2)",
            )
            .bind(claim.tenant_id)
            .bind(claim.now)
            .fetch_one(&mut *tx.tx)
            .await?
            .try_get(0)?;
            let held = scalar(
                tx,
                "SELECT CAST(COALESCE(SUM(held), 0) AS BIGINT) FROM credit_leases WHERE tenant_id = $1",
                &[claim.tenant_id],
            )
            .await?;
            let packs_available = packs_left - held;
            if claim.need > packs_available {
                return Ok(Err(Shortfall::Packs));
            }
            let mut available = packs_available;
            let quota: Option<i64> = sqlx::query(
                "SELECT quota FROM credit_agents WHERE tenant_id = $1 AND agent_id = $2",
            )
            .bind(claim.tenant_id)
            .bind(claim.agent_id)
            .fetch_optional(&mut *tx.tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .flatten();
            if let Some(quota) = quota {
                let used = scalar(
                    tx,
                    "SELECT CAST(COALESCE(SUM(used), 0) AS BIGINT) FROM credit_agent_usage \
                     WHERE tenant_id = $1 AND agent_id = $2 AND period = $3",
                    &[claim.tenant_id, claim.agent_id, claim.period],
                )
                .await?;
                let agent_held = scalar(
                    tx,
                    "SELECT CAST(COALESCE(SUM(held), 0) AS BIGINT) FROM credit_leases \
                     WHERE tenant_id = $1 AND agent_id = $2",
                    &[claim.tenant_id, claim.agent_id],
                )
                .await?;
                available = available.min(quota - used - agent_held);
            }
            let Some(granted) = domain::credits::lease_size(claim.need, available) else {
                return Ok(Err(Shortfall::Quota));
            };
            sqlx::query(
                "INSERT INTO credit_leases (id, tenant_id, agent_id, held, expires_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET held = credit_leases.held + excluded.held, expires_at = excluded.expires_at",
            )
            .bind(claim.lease_id)
            .bind(claim.tenant_id)
            .bind(claim.agent_id)
            .bind(granted)
            .bind(claim.expires_at)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(Ok(granted))
        })
    }

    /// Settles a batch in one transaction: inserts the deductions, draws their units from the
    /// packs (soonest expiry first; what no usable pack covers lands on the last one drawn),
    /// adds them to the agents' period usage, takes what was spent off each lease, renews the
    /// leases that stay and ends the released ones. Returns the ids of named leases that no
    /// longer exist (ended by a quota change or expired): their replica claims again.
    pub async fn settle_credits(&self, batch: &Settlement) -> Result<Vec<String>, StoreError> {
        let mut tenants: BTreeMap<&str, (Vec<&Deduction>, Vec<&LeaseSpend>)> = BTreeMap::new();
        for d in &batch.deductions {
            tenants.entry(d.tenant_id.as_str()).or_default().0.push(d);
        }
        for l in &batch.leases {
            tenants.entry(l.tenant_id.as_str()).or_default().1.push(l);
        }
        transact!(self, &[], |tx| {
            let mut gone = Vec::new();
            for (tenant_id, (deductions, leases)) in &tenants {
                lock_account(tx, tenant_id).await?;
                let mut rows: Vec<Deduction> = Vec::with_capacity(deductions.len());
                if !deductions.is_empty() {
                    let mut packs: Vec<CreditPack> = sqlx::query(&format!(
                        "SELECT {PACK_COLUMNS} FROM credit_packs WHERE tenant_id = $1 \
                         ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, starts_at, id"
                    ))
                    .bind(*tenant_id)
                    .fetch_all(&mut *tx.tx)
                    .await?
                    .iter()
                    .map(pack_from_row)
                    .collect::<Result<_, _>>()?;
                    let before: Vec<i64> = packs.iter().map(|p| p.used).collect();
                    let mut usage: BTreeMap<(String, String), i64> = BTreeMap::new();
                    for d in deductions {
                        let mut row = (*d).clone();
                        row.package_id = draw(&mut packs, d.units, batch.now);
                        let period = domain::credits::month_of(d.ended_at).0;
                        *usage.entry((d.agent_id.clone(), period)).or_default() += d.units;
                        rows.push(row);
                    }
                    for (pack, used_before) in packs.iter().zip(before) {
                        if pack.used != used_before {
                            sqlx::query("UPDATE credit_packs SET used = used + $1 WHERE id = $2")
                                .bind(pack.used - used_before)
                                .bind(&pack.id)
                                .execute(&mut *tx.tx)
                                .await?;
                        }
                    }
                    for ((agent_id, period), used) in usage {
                        sqlx::query(
                            "INSERT INTO credit_agent_usage (tenant_id, agent_id, period, used) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (tenant_id, agent_id, period) DO UPDATE SET used = credit_agent_usage.used + excluded.used",
                        )
                        .bind(*tenant_id)
                        .bind(agent_id)
                        .bind(period)
                        .bind(used)
                        .execute(&mut *tx.tx)
                        .await?;
                    }
                    let chunk = match tx.backend {
                        crate::Backend::Sqlite => INSERT_CHUNK_SQLITE,
                        crate::Backend::Postgres => INSERT_CHUNK_POSTGRES,
                    };
                    for chunk in rows.chunks(chunk) {
                        insert_deductions(tx, chunk).await?;
                    }
                }
                for lease in leases {
                    let done = if lease.release {
                        sqlx::query("DELETE FROM credit_leases WHERE id = $1")
                            .bind(&lease.id)
                            .execute(&mut *tx.tx)
                            .await?
                    } else {
                        sqlx::query(
                            "UPDATE credit_leases SET held = CASE WHEN held > $1 THEN held - $1 ELSE 0 END, \
                             expires_at = $2 WHERE id = $3",
                        )
                        .bind(lease.spent)
                        .bind(batch.expires_at)
                        .bind(&lease.id)
                        .execute(&mut *tx.tx)
                        .await?
                    };
                    if done.rows_affected() == 0 && !lease.release {
                        gone.push(lease.id.clone());
                    }
                }
            }
            Ok::<_, StoreError>(gone)
        })
    }

    /// Deductions matching `filter`, newest first, `offset` and `limit` applied.
    pub async fn deductions(
        &self,
        filter: &DeductionFilter,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Deduction>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {DEDUCTION_COLUMNS} FROM credit_deductions"
        ));
        sql.append(&filter.condition())
            .push(" ORDER BY ended_at DESC, id DESC LIMIT ")
            .bind_int(i64::try_from(limit).unwrap_or(i64::MAX))
            .push(" OFFSET ")
            .bind_int(i64::try_from(offset).unwrap_or(i64::MAX));
        sql.query()?
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(deduction_from_row)
            .collect()
    }

    /// How many deductions match `filter`, and their units.
    pub async fn deduction_totals(
        &self,
        filter: &DeductionFilter,
    ) -> Result<(i64, i64), StoreError> {
        let mut sql = Sql::new(
            "SELECT COUNT(*), CAST(COALESCE(SUM(units), 0) AS BIGINT) FROM credit_deductions",
        );
        sql.append(&filter.condition());
        let row = sql.query()?.fetch_one(&self.pool).await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Units of the deductions matching `filter` per bucket of `bucket_ms` milliseconds (from
    /// the epoch), grouped further by `by` (`agent_id`, `package_id`, `package_agent` — the
    /// two joined by a space — or none); buckets without deductions are absent.
    pub async fn deduction_buckets(
        &self,
        filter: &DeductionFilter,
        bucket_ms: i64,
        by: Option<&str>,
    ) -> Result<Vec<(i64, String, i64)>, StoreError> {
        let key = match by {
            Some("agent_id") => "agent_id",
            Some("package_id") => "package_id",
            Some("package_agent") => "package_id || ' ' || agent_id",
            _ => "''",
        };
        let mut sql = Sql::new(&format!(
            "SELECT CAST(ended_at / {bucket_ms} AS BIGINT) AS bucket, {key} AS grouped, \
             CAST(SUM(units) AS BIGINT) FROM credit_deductions"
        ));
        sql.append(&filter.condition())
            .push(" GROUP BY 1, 2 ORDER BY 1, 2");
        sql.query()?
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64, _>(0)? * bucket_ms,
                    r.try_get(1)?,
                    r.try_get(2)?,
                ))
            })
            .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Gateway keys

    /// Stores a new gateway key for its runtime; with `replace`, revokes the runtime's other
    /// keys and bumps its generation so that its host receives the new one.
    pub async fn create_gateway_key(
        &self,
        key: &GatewayKey,
        secret: &str,
        replace: bool,
    ) -> Result<(), StoreError> {
        let secret_enc = self.cipher.encrypt(secret)?;
        // Only a replacement changes what the runtime's host is given.
        let touched: &[&str] = if replace {
            &[key.tenant_id.as_str()]
        } else {
            &[]
        };
        transact!(self, touched, |tx| {
            if replace {
                sqlx::query("UPDATE gateway_keys SET revoked_at = $1 WHERE runtime_id = $2 AND revoked_at IS NULL")
                    .bind(key.created_at)
                    .bind(&key.runtime_id)
                    .execute(&mut *tx.tx)
                    .await?;
                sqlx::query("UPDATE runtimes SET generation = generation + 1, updated_at = $1 WHERE tenant_id = $2 AND id = $3")
                    .bind(key.created_at)
                    .bind(&key.tenant_id)
                    .bind(&key.runtime_id)
                    .execute(&mut *tx.tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO gateway_keys (id, tenant_id, runtime_id, secret_hash, secret_enc, revoked_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, NULL, $6)",
            )
            .bind(&key.id)
            .bind(&key.tenant_id)
            .bind(&key.runtime_id)
            .bind(&key.secret_hash)
            .bind(&secret_enc)
            .bind(key.created_at)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(())
        })
    }

    /// Makes a gateway key for a runtime and returns its text (`gk-….<secret>`), shown once;
    /// with `replace`, as [`Store::create_gateway_key`] says.
    pub async fn issue_gateway_key(
        &self,
        tenant_id: &str,
        runtime_id: &str,
        replace: bool,
        now: i64,
    ) -> Result<String, StoreError> {
        let issued =
            domain::secrets::issue(domain::secrets::GATEWAY_KEY_PREFIX, &mut rand::rngs::OsRng);
        let key = GatewayKey {
            id: issued.id,
            tenant_id: tenant_id.to_string(),
            runtime_id: runtime_id.to_string(),
            secret_hash: issued.secret_hash,
            revoked_at: None,
            created_at: now,
        };
        self.create_gateway_key(&key, &issued.text, replace).await?;
        Ok(issued.text)
    }

    /// Revokes every key of the runtime and bumps its generation; returns how many were live.
    pub async fn revoke_gateway_keys(
        &self,
        tenant_id: &str,
        runtime_id: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        transact!(self, &[tenant_id], |tx| {
            let revoked = sqlx::query("UPDATE gateway_keys SET revoked_at = $1 WHERE tenant_id = $2 AND runtime_id = $3 AND revoked_at IS NULL")
                .bind(now)
                .bind(tenant_id)
                .bind(runtime_id)
                .execute(&mut *tx.tx)
                .await?
                .rows_affected();
            sqlx::query("UPDATE runtimes SET generation = generation + 1, updated_at = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(now)
                .bind(tenant_id)
                .bind(runtime_id)
                .execute(&mut *tx.tx)
                .await?;
            Ok::<_, StoreError>(revoked)
        })
    }

    pub async fn gateway_key(&self, id: &str) -> Result<Option<GatewayKey>, StoreError> {
        let row = sqlx::query(
            "SELECT id, tenant_id, runtime_id, secret_hash, revoked_at, created_at FROM gateway_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(GatewayKey {
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

    /// The key the runtime's host is given: `Ok(Some((id, secret)))` for its newest live key,
    /// `Ok(None)` when it has none live. `ever` tells whether it ever had one.
    pub async fn delivered_gateway_key(
        &self,
        tenant_id: &str,
        runtime_id: &str,
    ) -> Result<(Option<(String, String)>, bool), StoreError> {
        let rows = sqlx::query(
            "SELECT id, secret_enc, revoked_at FROM gateway_keys WHERE tenant_id = $1 AND runtime_id = $2 \
             ORDER BY created_at DESC, id DESC",
        )
        .bind(tenant_id)
        .bind(runtime_id)
        .fetch_all(&self.pool)
        .await?;
        let ever = !rows.is_empty();
        for row in &rows {
            if row.try_get::<Option<i64>, _>("revoked_at")?.is_none() {
                let id: String = row.try_get("id")?;
                let secret = self
                    .cipher
                    .decrypt(&row.try_get::<String, _>("secret_enc")?)?;
                return Ok((Some((id, secret.expose().to_string())), ever));
            }
        }
        Ok((None, ever))
    }
}

/// Draws `units` from `packs` (in drawing order) as of `now`; returns the id of the first pack
/// drawn from. What usable packs do not cover lands on the last usable one drawn, else on the
/// newest pack (an overrun never vanishes).
fn draw(packs: &mut [CreditPack], units: i64, now: i64) -> String {
    let mut left = units;
    let mut first: Option<usize> = None;
    let mut last: Option<usize> = None;
    for (i, pack) in packs.iter_mut().enumerate() {
        if !pack.usable(now) {
            continue;
        }
        first.get_or_insert(i);
        last = Some(i);
        if left == 0 {
            break;
        }
        let take = left.min(pack.amount - pack.used);
        pack.used += take;
        left -= take;
    }
    let fallback = last.or_else(|| {
        packs
            .iter()
            .enumerate()
            .max_by_key(|(_, p)| p.created_at)
            .map(|(i, _)| i)
    });
    if left > 0
        && let Some(i) = fallback
    {
        packs[i].used += left;
    }
    first
        .or(fallback)
        .map(|i| packs[i].id.clone())
        .unwrap_or_default()
}

async fn insert_deductions(tx: &mut WriteTx<'_>, rows: &[Deduction]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(&format!(
        "INSERT INTO credit_deductions ({DEDUCTION_COLUMNS}) VALUES "
    ));
    for (i, d) in rows.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind_text(&d.id).push(", ");
        sql.bind_text(&d.tenant_id).push(", ");
        sql.bind_text(&d.agent_id).push(", ");
        sql.bind_text(&d.agent_type).push(", ");
        sql.bind_text(&d.run_id).push(", ");
        sql.bind_text(&d.model).push(", ");
        sql.bind_text(&d.package_id).push(", ");
        sql.bind_int(d.tokens_in).push(", ");
        sql.bind_int(d.tokens_out).push(", ");
        sql.bind_int(d.tokens_cached).push(", ");
        sql.bind_int(d.units).push(", ");
        sql.bind_int(i64::from(d.estimated)).push(", ");
        sql.bind_int(d.started_at).push(", ");
        sql.bind_int(d.ended_at).push(")");
    }
    sql.query()?.execute(&mut *tx.tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::test_store;

    fn pack(id: &str, amount: i64, expires_at: Option<i64>) -> CreditPack {
        CreditPack {
            id: id.into(),
            tenant_id: "t".into(),
            amount,
            used: 0,
            starts_at: 0,
            expires_at,
            created_at: 0,
        }
    }

    #[test]
    fn packs_are_drawn_in_order_and_overruns_land_on_the_last() {
        let mut packs = vec![pack("a", 10, Some(100)), pack("b", 10, None)];
        assert_eq!(draw(&mut packs, 15, 50), "a");
        assert_eq!((packs[0].used, packs[1].used), (10, 5));
        assert_eq!(draw(&mut packs, 10, 50), "b");
        assert_eq!(packs[1].used, 15);
        // Pack a expired: everything goes to b.
        assert_eq!(draw(&mut packs, 1, 200), "b");
        assert_eq!(packs[1].used, 16);
    }

    fn claim<'a>(tenant: &'a str, lease: &'a str, need: i64, now: i64) -> Claim<'a> {
        Claim {
            tenant_id: tenant,
            agent_id: "agent",
            lease_id: lease,
            need,
            period: "1970-01",
            now,
            expires_at: now + 1_000,
        }
    }

    #[tokio::test]
    async fn leases_never_hold_more_than_is_left() -> Result<(), StoreError> {
        let (store, tenant, _dir) = test_store("credit-leases").await?;
        assert_eq!(
            store.claim_credits(&claim(&tenant, "l1", 1, 10)).await?,
            Err(Shortfall::Packs)
        );
        let mut p = pack("cp-inst-a", 800, None);
        p.tenant_id = tenant.clone();
        store.add_credit_pack(&p).await?;
        // An eighth of what is left, at least the need.
        assert_eq!(
            store.claim_credits(&claim(&tenant, "l1", 1, 10)).await?,
            Ok(100)
        );
        assert_eq!(
            store.claim_credits(&claim(&tenant, "l2", 700, 10)).await?,
            Ok(700)
        );
        assert_eq!(
            store.claim_credits(&claim(&tenant, "l3", 1, 10)).await?,
            Err(Shortfall::Packs)
        );
        // Settling moves spent units from the lease to the pack; releasing frees the rest.
        let deduction = Deduction {
            id: "d1".into(),
            tenant_id: tenant.clone(),
            agent_id: "agent".into(),
            agent_type: "OPEN_CLAW".into(),
            run_id: "r".into(),
            model: "m".into(),
            package_id: String::new(),
            tokens_in: 1,
            tokens_out: 1,
            tokens_cached: 0,
            units: 60,
            estimated: false,
            started_at: 10,
            ended_at: 10,
        };
        let gone = store
            .settle_credits(&Settlement {
                now: 20,
                expires_at: 1_020,
                deductions: vec![deduction],
                leases: vec![LeaseSpend {
                    id: "l1".into(),
                    tenant_id: tenant.clone(),
                    spent: 60,
                    release: true,
                }],
            })
            .await?;
        assert!(gone.is_empty());
        assert_eq!(store.credit_packs(&tenant).await?[0].used, 60);
        assert_eq!(store.credits_held(&tenant, None, 20).await?, 700);
        assert_eq!(
            store.claim_credits(&claim(&tenant, "l3", 40, 20)).await?,
            Ok(40)
        );
        // A quota below what is used refuses; an expired lease frees what it held.
        store
            .set_agent_quotas(
                &tenant,
                &[("agent".into(), "OPEN_CLAW".into())],
                Some(50),
                20,
            )
            .await?;
        assert_eq!(
            store.claim_credits(&claim(&tenant, "l4", 1, 20)).await?,
            Err(Shortfall::Quota)
        );
        store
            .set_agent_quotas(&tenant, &[("agent".into(), "OPEN_CLAW".into())], None, 20)
            .await?;
        assert_eq!(store.credits_held(&tenant, None, 20).await?, 0);
        let filter = DeductionFilter {
            tenant_id: tenant.clone(),
            ..DeductionFilter::default()
        };
        assert_eq!(store.deduction_totals(&filter).await?, (1, 60));
        assert_eq!(
            store.deductions(&filter, 0, 10).await?[0].package_id,
            "cp-inst-a"
        );
        Ok(())
    }
}
