//! Which connections are idle, and the choice of one to close when a new connection finds the
//! server full: a connection waiting for a request head (new, between keep-alive requests, or
//! sending its head slowly) holds a place nobody is served in, so it gives that place up to a
//! client that arrives when there is no other. A connection serving a request, or writing its
//! answer out, is never chosen.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::Notify;
use tokio::time::Instant;

/// What one connection is doing, as far as choosing it for closing goes.
#[derive(Debug)]
pub(crate) struct Activity {
    /// Requests being served whose answer has not been wholly handed to hyper yet.
    requests: AtomicUsize,
    /// Everything answered so far has been written to the socket (true before any answer).
    settled: AtomicBool,
    /// When it last became idle, in ms since the registry's epoch.
    idle_since: AtomicU64,
    /// It has been asked to give its place up (it is asked once).
    chosen: AtomicBool,
    give_up: Notify,
    epoch: Instant,
}

fn ms_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Activity {
    /// A request has arrived: the connection is busy until its answer is out.
    pub(crate) fn request_started(self: &Arc<Self>) -> Answering {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.settled.store(false, Ordering::SeqCst);
        Answering(self.clone())
    }

    /// Bytes went to the socket: something is being answered.
    pub(crate) fn wrote(&self) {
        self.settled.store(false, Ordering::SeqCst);
    }

    /// The socket took everything written to it.
    pub(crate) fn flushed(&self) {
        if self.requests.load(Ordering::SeqCst) == 0 && !self.settled.swap(true, Ordering::SeqCst) {
            self.idle_since
                .store(ms_since(self.epoch), Ordering::SeqCst);
        }
    }

    /// Waiting for a request head, with nothing left to write.
    pub(crate) fn is_idle(&self) -> bool {
        self.requests.load(Ordering::SeqCst) == 0 && self.settled.load(Ordering::SeqCst)
    }

    /// Resolves once the connection has been asked to give its place up.
    pub(crate) async fn asked_to_give_up(&self) {
        self.give_up.notified().await;
    }
}

/// Held while a request is being answered; dropped with the answer's body (or with the request,
/// if the connection dies first).
#[derive(Debug)]
pub(crate) struct Answering(Arc<Activity>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.requests.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its connection busy until hyper has taken all of it.
pub(crate) struct Tracked<B> {
    pub(crate) body: B,
    pub(crate) _answering: Answering,
}

impl<B: Body<Data = Bytes> + Unpin> Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Every connection being served.
#[derive(Debug)]
pub(crate) struct Registry {
    epoch: Instant,
    next_id: AtomicU64,
    connections: Mutex<HashMap<u64, Arc<Activity>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            connections: Mutex::new(HashMap::new()),
        }
    }
}

impl Registry {
    /// Records a new connection; it leaves the registry when the returned entry is dropped.
    pub(crate) fn register(self: &Arc<Self>) -> Registered {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity {
            requests: AtomicUsize::new(0),
            settled: AtomicBool::new(true),
            idle_since: AtomicU64::new(ms_since(self.epoch)),
            chosen: AtomicBool::new(false),
            give_up: Notify::new(),
            epoch: self.epoch,
        });
        self.lock().insert(id, activity.clone());
        Registered {
            registry: self.clone(),
            id,
            activity,
        }
    }

    /// Asks the connection idle longest to give its place up; `false` when none is idle.
    pub(crate) fn ask_idlest_to_give_up(&self) -> bool {
        let connections = self.lock();
        // Idle times are in milliseconds, and many connections arrive within one: among equals
        // the one registered first has waited longest (the map's order is no order at all).
        let idlest = connections
            .iter()
            .filter(|(_, a)| a.is_idle() && !a.chosen.load(Ordering::SeqCst))
            .min_by_key(|(id, a)| (a.idle_since.load(Ordering::SeqCst), **id));
        match idlest.map(|(_, activity)| activity) {
            Some(activity) => {
                activity.chosen.store(true, Ordering::SeqCst);
                activity.give_up.notify_one();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Activity>>> {
        // The map stays consistent whatever a panicking holder did.
        self.connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A connection's place in the [`Registry`].
#[derive(Debug)]
pub(crate) struct Registered {
    registry: Arc<Registry>,
    id: u64,
    pub(crate) activity: Arc<Activity>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_idle_longest_is_asked_and_busy_ones_never() {
        let registry = Arc::new(Registry::default());
        let old = registry.register();
        let busy = registry.register();
        let new = registry.register();
        new.activity.idle_since.store(u64::MAX, Ordering::SeqCst);
        let answering = busy.activity.request_started();

        assert!(registry.ask_idlest_to_give_up());
        assert!(old.activity.chosen.load(Ordering::SeqCst));
        assert!(registry.ask_idlest_to_give_up());
        assert!(new.activity.chosen.load(Ordering::SeqCst));
        assert!(
            !registry.ask_idlest_to_give_up(),
            "a busy connection is not idle"
        );

        // Busy until its answer is handed over and written out.
        drop(answering);
        assert!(!busy.activity.is_idle());
        busy.activity.wrote();
        busy.activity.flushed();
        assert!(busy.activity.is_idle());
        assert!(registry.ask_idlest_to_give_up());
    }

    #[test]
    fn among_connections_idle_since_the_same_moment_the_first_registered_goes_first() {
        let registry = Arc::new(Registry::default());
        let entries: Vec<Registered> = (0..64).map(|_| registry.register()).collect();
        for entry in &entries {
            entry.activity.idle_since.store(7, Ordering::SeqCst);
        }
        for entry in &entries {
            assert!(registry.ask_idlest_to_give_up());
            assert!(
                entry.activity.chosen.load(Ordering::SeqCst),
                "connections give their places up in the order they came"
            );
        }
    }

    #[test]
    fn a_connection_leaves_the_registry_when_it_ends() {
        let registry = Arc::new(Registry::default());
        drop(registry.register());
        assert!(!registry.ask_idlest_to_give_up());
    }
}
