//! The accept loop: HTTP/1.1 connections served by hyper under the [`Limits`], each request
//! given its id, its peer address and the body bounds before the router sees it.
//!
//! When every place is taken, a new connection takes the place of the connection idle longest
//! (see [`connections`](crate::connections)); when none is idle it is answered
//! [`Failure::Busy`]. Either way it waits in a small overflow of file descriptors kept for that,
//! so that a flood of connections cannot take the descriptors the rest of the server needs.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::body::BodyLimits;
use crate::connections::{Registry, Tracked};
use crate::guard::{Guarded, error_answer};
use crate::{Dialect, Failure, Limits, Tls, Transport};

/// File descriptors kept free for everything but client connections: database connections, the
/// SQLite files, the listener itself.
const RESERVED_FDS: usize = 64;
/// Connections beyond [`Limits::max_connections`] held at once while they wait for an idle
/// connection to make room, or receive their refusal; more are closed unanswered.
const OVERFLOW: usize = 32;
/// How long a connection refused for want of room may take to receive its answer.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a connection that arrived when all places were taken waits for one.
const ADMISSION_TIMEOUT: Duration = Duration::from_secs(1);
/// How often, meanwhile, it looks again for an idle connection to make room.
const ADMISSION_RETRY: Duration = Duration::from_millis(50);
/// Largest request head (request line and headers) buffered; a larger one is answered 431. It
/// holds a URI of hyper's longest (64 KiB) and 16 KiB of headers, and bounds what a connection
/// that trickles a huge head makes the server hold (hyper's default, ~400 KiB, let 200 such
/// connections take 100 MiB).
pub const MAX_HEAD_BYTES: usize = 80 * 1024;
/// How long in-flight requests may take to finish once shutdown has begun.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What every connection task shares.
struct Shared {
    app: Router,
    dialect: Arc<dyn Dialect>,
    limits: Limits,
    body_limits: BodyLimits,
    room: Arc<Semaphore>,
    registry: Arc<Registry>,
    shutdown: watch::Receiver<bool>,
    tls: Option<Tls>,
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
/// `dialect` words what is answered before any surface is chosen (unparsable HTTP, no room).
///
/// With `tls`, every connection speaks TLS (a handshake must end within the head timeout), and
/// each request carries [`Transport`] `{ secure: true }`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    mut limits: Limits,
    tls: Option<Tls>,
    dialect: Arc<dyn Dialect>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // Places are semaphore permits, and shutdown takes them all back at once (`acquire_many`).
    let most = connection_room().min(u32::MAX as usize);
    limits.max_connections = limits.max_connections.clamp(1, most);
    tracing::info!(
        max_connections = limits.max_connections,
        "accepting connections"
    );
    let (stop, stopping) = watch::channel(false);
    let shared = Arc::new(Shared {
        app: app.layer(axum::middleware::from_fn(crate::request_id::assign)),
        dialect,
        body_limits: BodyLimits::new(&limits),
        room: Arc::new(Semaphore::new(limits.max_connections)),
        registry: Arc::new(Registry::default()),
        shutdown: stopping,
        limits,
        tls,
    });
    let overflow = Arc::new(Semaphore::new(OVERFLOW));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // neither ends the server.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Ok(place) = shared.room.clone().try_acquire_owned() {
            tokio::spawn(serve_connection(stream, peer, place, shared.clone()));
            continue;
        }
        let Ok(spare) = overflow.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "no room, and no spare descriptor to answer with");
            continue;
        };
        tokio::spawn(admit(stream, peer, spare, shared.clone()));
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a place until it ends: all places back means all connections done.
    let all = u32::try_from(shared.limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, shared.room.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("requests still running at the end of the shutdown grace period");
    }
    Ok(())
}

/// Finds a place for a connection that arrived when all were taken: the connection idle longest
/// is asked to give its place up; when none is idle, places are watched for a moment (one may
/// be freed, or a connection become idle); after that the connection is refused. It holds a
/// `spare` descriptor of the overflow meanwhile.
async fn admit(
    stream: TcpStream,
    peer: SocketAddr,
    spare: OwnedSemaphorePermit,
    shared: Arc<Shared>,
) {
    let deadline = Instant::now() + ADMISSION_TIMEOUT;
    let mut asked = false;
    loop {
        asked = asked || shared.registry.ask_idlest_to_give_up();
        let until = if asked {
            deadline
        } else {
            deadline.min(Instant::now() + ADMISSION_RETRY)
        };
        match tokio::time::timeout_at(until, shared.room.clone().acquire_owned()).await {
            Ok(Ok(place)) => {
                drop(spare);
                return serve_connection(stream, peer, place, shared).await;
            }
            Ok(Err(_)) => break,
            Err(_) if Instant::now() >= deadline => break,
            Err(_) => {}
        }
    }
    tracing::debug!(%peer, asked, "no room, and no idle connection made room");
    // A TLS client could not read a plain answer: it is just closed.
    if shared.tls.is_none() {
        refuse(stream, shared.dialect.clone()).await;
    }
    drop(spare);
}

/// Serves one connection in its `place`, until it ends, is asked to make room while idle, or the
/// server shuts down.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    place: OwnedSemaphorePermit,
    shared: Arc<Shared>,
) {
    let _ = stream.set_nodelay(true);
    let Some(tls) = &shared.tls else {
        return serve_stream(stream, false, peer, place, shared).await;
    };
    let handshake = tls.acceptor.accept(stream);
    match tokio::time::timeout(shared.limits.header_timeout, handshake).await {
        Ok(Ok(stream)) => serve_stream(stream, true, peer, place, shared).await,
        Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}

async fn serve_stream<S>(
    stream: S,
    secure: bool,
    peer: SocketAddr,
    place: OwnedSemaphorePermit,
    shared: Arc<Shared>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let registered = shared.registry.register();
    let activity = registered.activity.clone();
    let io = TokioIo::new(Guarded::new(
        stream,
        activity.clone(),
        shared.dialect.clone(),
        shared.limits.write_timeout,
    ));
    let app = shared.app.clone();
    let body_limits = shared.body_limits.clone();
    let service_activity = activity.clone();
    let proxies = shared.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        let answering = service_activity.request_started();
        let forwarded = request.headers().get_all("x-forwarded-for").iter();
        let client = crate::forwarded_client(
            peer.ip(),
            forwarded.filter_map(|value| value.to_str().ok()),
            &proxies.limits.trusted_proxies,
        );
        let extensions = request.extensions_mut();
        extensions.insert(ConnectInfo(peer));
        extensions.insert(crate::ClientIp(client));
        extensions.insert(Transport { secure });
        extensions.insert(body_limits.clone());
        let response = app.clone().oneshot(request.map(Body::new));
        async move {
            let response = response.await?;
            Ok::<_, Infallible>(response.map(|body| Tracked {
                body,
                _answering: answering,
            }))
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let mut shutdown = shared.shutdown.clone();
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, %peer, "connection ended");
                }
                break;
            }
            () = activity.asked_to_give_up(), if !closing => {
                if activity.is_idle() {
                    tracing::debug!(%peer, "idle connection closed to make room");
                    break;
                }
                // A request arrived meanwhile: answer it, then close.
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = shutdown.wait_for(|stopping| *stopping), if !closing => {
                // hyper would wait for a half-sent first head; nothing is being answered.
                if activity.is_idle() {
                    break;
                }
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
    drop(registered);
    drop(place);
}

/// Answers a connection there is no room for, without reading its request.
async fn refuse(mut stream: TcpStream, dialect: Arc<dyn Dialect>) {
    let answer = error_answer(dialect.as_ref(), Failure::Busy);
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, async {
        stream.write_all(&answer).await?;
        stream.shutdown().await?;
        // Drain what the client sent, so that closing does not reset the connection before the
        // answer is read.
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// Connections the process can hold: its file-descriptor limit (raised to the hard limit first)
/// less what the rest of the server and the overflow need.
fn connection_room() -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if setrlimit(Resource::Nofile, limit).is_err() {
            limit = getrlimit(Resource::Nofile);
        }
    }
    match limit.current {
        Some(fds) => usize::try_from(fds)
            .unwrap_or(usize::MAX)
            .saturating_sub(RESERVED_FDS + OVERFLOW)
            .max(1),
        None => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorBody;
    use axum::routing::get;

    struct Plain;

    impl Dialect for Plain {
        fn render(&self, failure: Failure, _request_id: &str) -> ErrorBody {
            ErrorBody {
                status: failure.status(),
                content_type: "text/plain",
                body: format!("{failure:?}").into_bytes(),
            }
        }
    }

    /// A server with room for one connection; `/slow` tells `started` and answers after a minute.
    async fn one_place(started: Arc<tokio::sync::Notify>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let router = Router::new().route("/", get(|| async { "ok" })).route(
            "/slow",
            get(move || async move {
                started.notify_one();
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        );
        let limits = Limits {
            max_connections: 1,
            ..Limits::default()
        };
        tokio::spawn(serve(
            listener,
            router,
            limits,
            None,
            Arc::new(Plain),
            std::future::pending(),
        ));
        address
    }

    async fn ask(address: SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut answer = Vec::new();
        let read = stream.read_to_end(&mut answer);
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("an answer in time")
            .expect("read");
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// Issue 11: idle connections held every place, and real clients were refused until the
    /// header timeout cut them.
    #[tokio::test]
    async fn an_idle_connection_gives_its_place_to_a_new_one() {
        let address = one_place(Arc::default()).await;
        let mut idle = TcpStream::connect(address).await.expect("connect");
        idle.write_all(b"GET / HTTP/1.1\r\nhost: a\r\nx-half: ")
            .await
            .expect("half a head");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let answer = ask(
            address,
            "GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(10), idle.read_to_end(&mut rest))
            .await
            .expect("closed in time");
        assert!(
            closed.is_err() || rest.is_empty(),
            "closed without an answer"
        );
    }

    #[tokio::test]
    async fn a_connection_being_served_keeps_its_place() {
        let started = Arc::new(tokio::sync::Notify::new());
        let address = one_place(started.clone()).await;
        let mut busy = TcpStream::connect(address).await.expect("connect");
        busy.write_all(b"GET /slow HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .expect("request");
        started.notified().await;
        let answer = ask(address, "GET / HTTP/1.1\r\nhost: a\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.ends_with("Busy"), "the dialect's body: {answer}");
    }
}
