//! Metering: a call reserves its worst case before it goes upstream and settles to what it
//! used after. Reservations are taken from a lease — a share of the agent's budget that this
//! replica claimed in the store, in a transaction that sees every other replica's leases — so
//! that a call costs no store round trip while its lease lasts, and no replica ever spends what
//! another holds. Settled calls are written in batches (every [`FLUSH`]), which also renew the
//! leases and give back those of idle agents.
//!
//! A call can overrun only by what it used beyond its own reservation (an upstream that ignored
//! `max_tokens`). A replica killed outright loses the calls it had not yet written (at most one
//! batch); its leases expire after [`LEASE_TTL`] and free what they held.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store::Store;
use store::credits::{Claim, Deduction, LeaseSpend, Settlement, Shortfall};

use crate::error::GatewayError;
use crate::now_ms;
use crate::routes::Caller;
use crate::usage::Counted;

/// How often settled calls are written.
pub const FLUSH: Duration = Duration::from_millis(200);
/// How long a lease lives without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(30);
/// How long an agent may make no call before its lease is given back.
const IDLE: Duration = Duration::from_secs(10);
/// How long a call that does not fit waits for the agent's calls in flight to settle (and give
/// back what they reserved beyond what they used) before it is refused.
const WAIT_FOR_IN_FLIGHT: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct AccountState {
    lease_id: String,
    /// Units the lease holds in the store for this replica.
    held: i64,
    /// Units reserved by calls in flight.
    reserved: i64,
    /// Units spent by settled calls not yet written.
    spent: i64,
    /// A claim is under way: the lease must not be given back meanwhile.
    claiming: bool,
    last_active: Instant,
    renewed: Instant,
    /// Calls and tokens of the current minute (for rate limits), and which minute.
    minute: u64,
    requests: u64,
    tokens: u64,
}

impl AccountState {
    fn free(&self) -> i64 {
        self.held - self.reserved - self.spent
    }

    /// Reserves `units` when the lease has them free.
    fn take(&mut self, units: i64) -> bool {
        let fits = self.free() >= units;
        if fits {
            self.reserved += units;
            self.last_active = Instant::now();
        }
        fits
    }
}

struct Account {
    tenant_id: String,
    agent_id: String,
    state: Mutex<AccountState>,
    /// One claim at a time per agent: the others wait for it and usually find enough.
    claim: tokio::sync::Mutex<()>,
    /// Woken when a call in flight settles or gives its reservation back.
    freed: tokio::sync::Notify,
}

fn lease_id() -> String {
    format!("lease-{}", uuid::Uuid::new_v4().simple())
}

/// The per-minute limits of an agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct RateLimits {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
}

/// Whose call a deduction records, and of what (known before the call goes upstream).
#[derive(Debug, Clone)]
pub struct Charge {
    pub agent_type: &'static str,
    pub run_id: String,
    pub model: String,
    pub started_at: i64,
}

pub struct Meter {
    store: Store,
    /// This process's part of deduction ids, and a counter: ids that grow with time.
    replica: u32,
    sequence: std::sync::atomic::AtomicU32,
    accounts: Mutex<HashMap<(String, String), Arc<Account>>>,
    pending: Mutex<Vec<Deduction>>,
    /// A batch the store refused, written again before the next.
    retry: tokio::sync::Mutex<Option<Settlement>>,
}

/// Units a call has reserved; give it back with [`Hold::settle`] or by dropping it (nothing
/// charged).
pub struct Hold {
    meter: Arc<Meter>,
    account: Arc<Account>,
    units: i64,
    done: bool,
}

impl Meter {
    pub fn new(store: Store) -> Arc<Meter> {
        Arc::new(Meter {
            store,
            replica: rand::random(),
            sequence: std::sync::atomic::AtomicU32::new(rand::random()),
            accounts: Mutex::default(),
            pending: Mutex::default(),
            retry: tokio::sync::Mutex::new(None),
        })
    }

    /// Writes settled calls every [`FLUSH`], until the process ends.
    pub async fn run(self: Arc<Meter>) {
        let mut tick = tokio::time::interval(FLUSH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.flush(false).await;
        }
    }

    fn account(&self, caller: &Caller) -> Arc<Account> {
        let key = (caller.tenant_id.clone(), caller.runtime_id.clone());
        let mut accounts = match self.accounts.lock() {
            Ok(accounts) => accounts,
            Err(poisoned) => poisoned.into_inner(),
        };
        accounts
            .entry(key)
            .or_insert_with(|| {
                let now = Instant::now();
                Arc::new(Account {
                    tenant_id: caller.tenant_id.clone(),
                    agent_id: caller.runtime_id.clone(),
                    state: Mutex::new(AccountState {
                        lease_id: lease_id(),
                        held: 0,
                        reserved: 0,
                        spent: 0,
                        claiming: false,
                        last_active: now,
                        renewed: now,
                        minute: 0,
                        requests: 0,
                        tokens: 0,
                    }),
                    claim: tokio::sync::Mutex::new(()),
                    freed: tokio::sync::Notify::new(),
                })
            })
            .clone()
    }

    /// `ded-<ms><replica><sequence>` in hex: unique across replicas, and in time order, so that
    /// the store appends deductions to its indexes rather than inserting them anywhere.
    fn deduction_id(&self, at_ms: i64) -> String {
        let sequence = self
            .sequence
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("ded-{at_ms:012x}{:08x}{sequence:08x}", self.replica)
    }

    /// Counts a call against the agent's per-minute limits; refuses it with the seconds until
    /// the next minute when one is reached.
    pub fn admit(&self, caller: &Caller, limits: RateLimits) -> Result<(), GatewayError> {
        if limits.rpm.is_none() && limits.tpm.is_none() {
            return Ok(());
        }
        let account = self.account(caller);
        let mut state = lock(&account.state);
        let epoch_secs = u64::try_from(now_ms() / 1000).unwrap_or(0);
        let minute = epoch_secs / 60;
        if state.minute != minute {
            state.minute = minute;
            state.requests = 0;
            state.tokens = 0;
        }
        let retry_after = 60 - epoch_secs % 60;
        if limits.rpm.is_some_and(|rpm| state.requests >= rpm) {
            return Err(GatewayError::RateLimited(
                "requests per minute",
                retry_after,
            ));
        }
        if limits.tpm.is_some_and(|tpm| state.tokens >= tpm) {
            return Err(GatewayError::RateLimited("tokens per minute", retry_after));
        }
        state.requests += 1;
        Ok(())
    }

    /// Reserves `units` for a call of `caller`, claiming more of its budget when the lease
    /// has not enough free.
    pub async fn reserve(
        self: &Arc<Meter>,
        caller: &Caller,
        units: i64,
    ) -> Result<Hold, GatewayError> {
        let account = self.account(caller);
        let hold = |meter: &Arc<Meter>| Hold {
            meter: meter.clone(),
            account: account.clone(),
            units,
            done: false,
        };
        if units <= 0 {
            return Ok(hold(self));
        }
        if lock(&account.state).take(units) {
            return Ok(hold(self));
        }
        let deadline = tokio::time::Instant::now() + WAIT_FOR_IN_FLIGHT;
        let mut claiming = account.claim.lock().await;
        loop {
            let freed = account.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let (lease, need) = {
                let mut state = lock(&account.state);
                if state.take(units) {
                    return Ok(hold(self));
                }
                state.claiming = true;
                (state.lease_id.clone(), units - state.free().max(0))
            };
            let now = now_ms();
            let period = domain::credits::month_of(now).0;
            let claimed = self
                .store
                .claim_credits(&Claim {
                    tenant_id: &account.tenant_id,
                    agent_id: &account.agent_id,
                    lease_id: &lease,
                    need,
                    period: &period,
                    now,
                    expires_at: now + LEASE_TTL.as_millis() as i64,
                })
                .await;
            // The guard's scope ends before any await.
            let refused = {
                let mut state = lock(&account.state);
                state.claiming = false;
                match claimed {
                    Ok(Ok(granted)) => {
                        if state.lease_id == lease {
                            state.held += granted;
                        }
                        None
                    }
                    // Calls in flight hold reservations they will mostly give back: wait for
                    // them rather than refuse a call the budget can still pay for.
                    Ok(Err(shortfall)) => Some((shortfall, state.reserved > 0)),
                    Err(error) => return Err(error.into()),
                }
            };
            if let Some((shortfall, in_flight)) = refused {
                if in_flight && tokio::time::Instant::now() < deadline {
                    drop(claiming);
                    let _ = tokio::time::timeout_at(deadline, freed).await;
                    claiming = account.claim.lock().await;
                    continue;
                }
                return Err(match shortfall {
                    Shortfall::Packs => GatewayError::CreditsExhausted,
                    Shortfall::Quota => GatewayError::QuotaExhausted,
                });
            }
        }
    }

    /// Writes what was settled since the last batch (and the batch refused last time), renews
    /// leases due for it and gives back those of idle agents — all of them when `closing`.
    pub async fn flush(&self, closing: bool) {
        let mut retry = self.retry.lock().await;
        let now = now_ms();
        let mut batch = retry.take().unwrap_or_default();
        batch.now = now;
        batch.expires_at = now + LEASE_TTL.as_millis() as i64;
        batch.deductions.append(&mut lock(&self.pending));
        let accounts: Vec<Arc<Account>> = lock(&self.accounts).values().cloned().collect();
        for account in accounts {
            let mut state = lock(&account.state);
            let spent = state.spent;
            let idle = state.reserved == 0
                && !state.claiming
                && (closing || state.last_active.elapsed() >= IDLE);
            let release = idle && state.held > 0;
            if spent == 0
                && !release
                && (state.held == 0 || state.renewed.elapsed() < LEASE_TTL / 3)
            {
                continue;
            }
            batch.leases.push(LeaseSpend {
                id: state.lease_id.clone(),
                tenant_id: account.tenant_id.clone(),
                spent,
                release,
            });
            state.spent = 0;
            state.held -= spent;
            state.renewed = Instant::now();
            if release {
                state.lease_id = lease_id();
                state.held = 0;
            }
        }
        if batch.deductions.is_empty() && batch.leases.is_empty() {
            return;
        }
        match self.store.settle_credits(&batch).await {
            Ok(gone) if !gone.is_empty() => {
                // Ended by a quota change (or expired): claim afresh under the new figures.
                for account in lock(&self.accounts).values() {
                    let mut state = lock(&account.state);
                    if gone.contains(&state.lease_id) {
                        state.lease_id = lease_id();
                        state.held = 0;
                    }
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::error!(%error, deductions = batch.deductions.len(), "gateway: settling credits failed; retrying");
                *retry = Some(batch);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Hold {
    /// Settles the call: its reservation is given back, and what it `used` and the `units`
    /// that cost are recorded.
    pub fn settle(mut self, charge: Charge, used: Counted, units: i64) {
        self.done = true;
        let usage = used.usage;
        {
            let mut state = lock(&self.account.state);
            state.reserved -= self.units;
            state.spent += units;
            state.tokens += usage.input + usage.output;
            state.last_active = Instant::now();
        }
        self.account.freed.notify_waiters();
        let ended_at = now_ms();
        let deduction = Deduction {
            id: self.meter.deduction_id(ended_at),
            tenant_id: self.account.tenant_id.clone(),
            agent_id: self.account.agent_id.clone(),
            agent_type: charge.agent_type.to_string(),
            run_id: charge.run_id,
            model: charge.model,
            package_id: String::new(),
            tokens_in: i64::try_from(usage.input).unwrap_or(i64::MAX),
            tokens_out: i64::try_from(usage.output).unwrap_or(i64::MAX),
            tokens_cached: i64::try_from(usage.cached).unwrap_or(i64::MAX),
            units,
            estimated: used.estimated,
            started_at: charge.started_at,
            ended_at,
        };
        lock(&self.meter.pending).push(deduction);
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if !self.done {
            lock(&self.account.state).reserved -= self.units;
            self.account.freed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::credits::{CreditPack, DeductionFilter};
    use store::{Cipher, MasterKey, Secret};

    async fn store() -> Result<(Store, std::path::PathBuf), store::StoreError> {
        let dir = std::env::temp_dir().join(format!(
            "amc-meter-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| store::StoreError::Corrupt(e.to_string()))?;
        let store = Store::connect(
            &format!("sqlite://{}/amc.db?mode=rwc", dir.display()),
            Cipher::new(MasterKey::generate(&mut rand::thread_rng())),
        )
        .await?;
        store
            .create_tenant(&store::tenants::NewTenant {
                account_id: "t1".into(),
                name: "t1".into(),
                access_key_id: "LTAImeter".into(),
                access_key_secret: Secret::new("x"),
                created_at: 0,
            })
            .await?;
        Ok((store, dir))
    }

    fn charge() -> Charge {
        Charge {
            agent_type: "OPEN_CLAW",
            run_id: "run".into(),
            model: "p/m".into(),
            started_at: 0,
        }
    }

    /// 200 concurrent calls on one agent with a quota of 1,000 units: each reserves 37 and uses
    /// up to what it reserved. What was charged never passes the quota; calls are refused only
    /// when what is left cannot pay for a reservation.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_calls_never_spend_past_the_quota() -> Result<(), store::StoreError> {
        let (store, dir) = store().await?;
        store
            .add_credit_pack(&CreditPack {
                id: "cp-inst-a".into(),
                tenant_id: "t1".into(),
                amount: 1_000_000,
                used: 0,
                starts_at: 0,
                expires_at: None,
                created_at: 0,
            })
            .await?;
        store
            .set_agent_quotas("t1", &[("rt".into(), "OPEN_CLAW".into())], Some(1_000), 0)
            .await?;
        let meter = Meter::new(store.clone());
        tokio::spawn(meter.clone().run());
        let caller = Caller {
            tenant_id: "t1".into(),
            runtime_id: "rt".into(),
        };
        let calls = (0..200u32).map(|i| {
            let meter = meter.clone();
            let caller = caller.clone();
            tokio::spawn(async move {
                match meter.reserve(&caller, 37).await {
                    Ok(hold) => {
                        tokio::time::sleep(Duration::from_millis(u64::from(i % 7))).await;
                        let used = i64::from(i % 38);
                        hold.settle(charge(), Counted::default(), used);
                        Some(used)
                    }
                    Err(GatewayError::QuotaExhausted) => None,
                    Err(other) => panic!("unexpected refusal: {other}"),
                }
            })
        });
        let mut charged = 0;
        let mut served = 0;
        for call in calls {
            if let Ok(Some(used)) = call.await {
                charged += used;
                served += 1;
            }
        }
        meter.flush(true).await;
        let filter = DeductionFilter {
            tenant_id: "t1".into(),
            ..DeductionFilter::default()
        };
        let (rows, units) = store.deduction_totals(&filter).await?;
        assert_eq!((rows, units), (served, charged));
        assert!(charged <= 1_000, "charged {charged}");
        // Refused only near the end: what is left could not pay one more reservation.
        assert!(
            1_000 - charged < 37 || served == 200,
            "charged {charged}, served {served}"
        );
        assert_eq!(store.credits_held("t1", None, now_ms()).await?, 0);
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }
}
