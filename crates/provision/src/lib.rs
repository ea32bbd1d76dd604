//! Provisioning of agent hosts: a driver decides how a runtime moves through an operation's steps, and the
//! lifecycle loop applies the steps that fall due. The built-in [`SimDriver`] moves on timers, so
//! the API behaves like the cloud's without a cloud.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use domain::runtime::{Operation, Progress};
use store::Store;
use store::runtimes::StepGuard;
use tokio::sync::Notify;

/// How operations progress on real or simulated hosts.
pub trait ProvisioningDriver: Send + Sync {
    /// Where `operation` starts at `now`, and when its next step falls due (`None`: complete).
    fn begin(&self, operation: Operation, now_ms: i64) -> (Progress, Option<i64>);
    /// The step after `progress` and when the one after it falls due; `None` once complete.
    fn advance(&self, progress: Progress, now_ms: i64) -> Option<(Progress, Option<i64>)>;
}

/// Moves every operation one step per `step_delay`; a zero delay completes operations at once.
#[derive(Debug, Clone, Copy)]
pub struct SimDriver {
    pub step_delay: Duration,
}

impl SimDriver {
    fn due(&self, progress: Progress, now_ms: i64) -> Option<i64> {
        let delay = i64::try_from(self.step_delay.as_millis()).unwrap_or(i64::MAX);
        progress.next().map(|_| now_ms.saturating_add(delay))
    }
}

impl ProvisioningDriver for SimDriver {
    fn begin(&self, operation: Operation, now_ms: i64) -> (Progress, Option<i64>) {
        let start = Progress::begin(operation);
        if self.step_delay.is_zero() {
            (start.last(), None)
        } else {
            (start, self.due(start, now_ms))
        }
    }

    fn advance(&self, progress: Progress, now_ms: i64) -> Option<(Progress, Option<i64>)> {
        let next = progress.next()?;
        Some((next, self.due(next, now_ms)))
    }
}

/// Wakes the lifecycle loop when new work is scheduled.
#[derive(Default)]
pub struct Wakeup(Notify);

impl Wakeup {
    pub fn notify(&self) {
        self.0.notify_one();
    }

    /// Until [`Wakeup::notify`] is called (at once if it was since the last wait).
    pub async fn notified(&self) {
        self.0.notified().await;
    }
}

const MAX_IDLE: Duration = Duration::from_secs(1);
const BATCH: i64 = 500;

/// Applies due lifecycle steps until the process ends. Several replicas may run it: a step
/// applied twice lands on the same state.
pub async fn run(store: Store, driver: Arc<dyn ProvisioningDriver>, wakeup: Arc<Wakeup>) {
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let sleep_for = match step_due(&store, driver.as_ref(), now).await {
            Ok(Some(next)) => {
                Duration::from_millis(u64::try_from(next - now).unwrap_or(0)).min(MAX_IDLE)
            }
            Ok(None) => MAX_IDLE,
            Err(error) => {
                tracing::warn!(%error, "lifecycle step failed; retrying");
                MAX_IDLE
            }
        };
        if !sleep_for.is_zero() {
            let _ = tokio::time::timeout(sleep_for, wakeup.0.notified()).await;
        }
    }
}

/// Applies every step due at `now`; returns when the next one falls due.
async fn step_due(
    store: &Store,
    driver: &dyn ProvisioningDriver,
    now: i64,
) -> Result<Option<i64>, store::StoreError> {
    loop {
        let due = store.due_runtimes(now, BATCH).await?;
        if due.is_empty() {
            break;
        }
        let mut groups: BTreeMap<(String, &'static str, usize), (Progress, Vec<String>)> =
            BTreeMap::new();
        for runtime in &due {
            let Some(progress) = runtime.progress else {
                continue;
            };
            groups
                .entry((
                    runtime.tenant_id.clone(),
                    progress.operation.as_str(),
                    progress.step_index,
                ))
                .or_insert_with(|| (progress, Vec::new()))
                .1
                .push(runtime.id.clone());
        }
        for ((tenant_id, _, _), (progress, ids)) in groups {
            let (next, next_due) = driver
                .advance(progress, now)
                .unwrap_or((progress.last(), None));
            // Runtimes that another call moved on meanwhile (a delete) are left alone.
            store
                .set_progress(
                    &tenant_id,
                    &ids,
                    next,
                    next_due,
                    now,
                    &StepGuard::At(progress),
                )
                .await?;
        }
        if due.len() < BATCH as usize {
            break;
        }
    }
    store.next_due_at().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::runtime::DesktopStatus;

    #[test]
    fn zero_delay_completes_at_once() {
        let driver = SimDriver {
            step_delay: Duration::ZERO,
        };
        let (progress, due) = driver.begin(Operation::Create, 0);
        assert_eq!(
            progress.current().map(|s| s.desktop),
            Some(DesktopStatus::Running)
        );
        assert_eq!(due, None);
    }

    #[test]
    fn delayed_operations_walk_their_steps_on_time() {
        let driver = SimDriver {
            step_delay: Duration::from_millis(100),
        };
        let (mut progress, mut due) = driver.begin(Operation::Stop, 1_000);
        assert_eq!(
            progress.current().map(|s| s.desktop),
            Some(DesktopStatus::Stopping)
        );
        assert_eq!(due, Some(1_100));
        let mut seen = vec![];
        while let Some((next, next_due)) = driver.advance(progress, due.unwrap_or(0)) {
            seen.push(next.current().map(|s| s.desktop));
            progress = next;
            due = next_due;
        }
        assert_eq!(seen, vec![Some(DesktopStatus::Stopped)]);
        assert_eq!(due, None);
    }
}
