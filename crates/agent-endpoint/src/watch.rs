//! Long-polls for a new generation. Every waiting daemon registers the generation it holds;
//! one task per replica checks, a few times a second, whether any of them moved — but reads
//! generations only for the tenants whose version (bumped by every committed write, whichever
//! replica wrote: see `Store::tenant_version`) changed since its last look, and for waiters new
//! since then. So an idle fleet costs one version read per tenant per tick, a change reaches
//! every waiter within a tick, and it works the same on SQLite and across PostgreSQL replicas.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use store::Store;
use tokio::sync::oneshot;

#[derive(Default)]
pub struct Watch {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    waiting: HashMap<String, Waiter>,
    /// Registered since the last tick: checked once whatever their tenant's version says (the
    /// change they wait for may have committed before they registered).
    fresh: Vec<String>,
}

struct Waiter {
    tenant_id: String,
    generation: i64,
    senders: Vec<oneshot::Sender<()>>,
}

impl Watch {
    /// A receiver that fires once runtime `runtime_id` is no longer at `generation` (or is gone).
    pub fn subscribe(
        &self,
        tenant_id: &str,
        runtime_id: &str,
        generation: i64,
    ) -> oneshot::Receiver<()> {
        let (sender, receiver) = oneshot::channel();
        let mut inner = self.lock();
        let waiter = inner
            .waiting
            .entry(runtime_id.to_string())
            .or_insert_with(|| Waiter {
                tenant_id: tenant_id.to_string(),
                generation,
                senders: Vec::new(),
            });
        // Two polls of one runtime at different generations: wake on the older one's change.
        waiter.generation = waiter.generation.min(generation);
        waiter.senders.push(sender);
        inner.fresh.push(runtime_id.to_string());
        receiver
    }

    /// How many runtimes have a waiting poll.
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned registry only ever holds senders: keep using it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Checks every `tick` until the process ends.
    pub async fn run(self: Arc<Self>, store: Store, tick: Duration) {
        let mut versions: HashMap<String, u64> = HashMap::new();
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(error) = self.check(&store, &mut versions).await {
                tracing::warn!(%error, "checking waiting daemons' generations");
            }
        }
    }

    async fn check(
        &self,
        store: &Store,
        versions: &mut HashMap<String, u64>,
    ) -> Result<(), store::StoreError> {
        let (tenants, fresh) = {
            let mut inner = self.lock();
            inner.waiting.retain(|_, w| {
                w.senders.retain(|s| !s.is_closed());
                !w.senders.is_empty()
            });
            let mut tenants: Vec<String> = inner
                .waiting
                .values()
                .map(|w| w.tenant_id.clone())
                .collect();
            tenants.sort_unstable();
            tenants.dedup();
            (tenants, std::mem::take(&mut inner.fresh))
        };
        versions.retain(|tenant, _| tenants.binary_search(tenant).is_ok());
        let mut moved_tenants = HashSet::new();
        for tenant in tenants {
            let version = store.tenant_version(&tenant).await?;
            if versions.insert(tenant.clone(), version) != Some(version) {
                moved_tenants.insert(tenant);
            }
        }
        let candidates: Vec<String> = {
            let inner = self.lock();
            let mut ids: Vec<String> = inner
                .waiting
                .iter()
                .filter(|(_, w)| moved_tenants.contains(&w.tenant_id))
                .map(|(id, _)| id.clone())
                .chain(
                    fresh
                        .into_iter()
                        .filter(|id| inner.waiting.contains_key(id)),
                )
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        if candidates.is_empty() {
            return Ok(());
        }
        let current: BTreeMap<String, i64> = store.runtime_generations(&candidates).await?;
        let mut inner = self.lock();
        for id in candidates {
            let moved = match (inner.waiting.get(&id), current.get(&id)) {
                (Some(w), Some(g)) => *g != w.generation,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if moved && let Some(waiter) = inner.waiting.remove(&id) {
                for sender in waiter.senders {
                    let _ = sender.send(());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::agents::DriftScope;
    use store::{Cipher, MasterKey, Secret};

    async fn store_with_runtime() -> Result<(Store, std::path::PathBuf, String), store::StoreError>
    {
        let dir = std::env::temp_dir().join(format!(
            "amc-watch-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| store::StoreError::Corrupt(e.to_string()))?;
        let url = format!("sqlite://{}/amc.db?mode=rwc", dir.display());
        let store = Store::connect(
            &url,
            Cipher::new(MasterKey::generate(&mut rand::thread_rng())),
        )
        .await?;
        store
            .create_tenant(&store::tenants::NewTenant {
                account_id: "t1".into(),
                name: "t1".into(),
                access_key_id: "LTAIwatch".into(),
                access_key_secret: Secret::new("x"),
                created_at: 0,
            })
            .await?;
        let runtime = crate::own_host("t1", "h", agent_proto::Product::OpenClaw, 0);
        let id = runtime.id.clone();
        store.insert_runtimes(&[runtime]).await?;
        Ok((store, dir, id))
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_its_generation_moves_and_not_before()
    -> Result<(), store::StoreError> {
        let (store, dir, id) = store_with_runtime().await?;
        let watch = Watch::default();
        let mut versions = HashMap::new();
        let mut woken = watch.subscribe("t1", &id, 1);
        watch.check(&store, &mut versions).await?;
        assert!(woken.try_recv().is_err(), "woken without a change");
        // A write that does not touch the runtime's generation wakes nobody.
        store.revoke_agent_credentials("t1", &id, 5).await?;
        watch.check(&store, &mut versions).await?;
        assert!(woken.try_recv().is_err());
        assert_eq!(watch.waiting(), 1);
        store
            .set_repair_drift("t1", &DriftScope::Runtime(id.clone()), Some(true), 6)
            .await?;
        watch.check(&store, &mut versions).await?;
        assert!(woken.try_recv().is_ok(), "not woken by the new generation");
        assert_eq!(watch.waiting(), 0);
        // Subscribing with an old generation wakes at the next check, whatever the versions say.
        let mut late = watch.subscribe("t1", &id, 1);
        watch.check(&store, &mut versions).await?;
        assert!(late.try_recv().is_ok());
        // Abandoned polls are dropped.
        drop(watch.subscribe("t1", &id, 2));
        watch.check(&store, &mut versions).await?;
        assert_eq!(watch.waiting(), 0);
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }
}
