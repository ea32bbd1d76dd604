//! The accept loop: HTTP/1.1 connections served by hyper under the [`Limits`], each request
//! given its id, its peer address and the body bounds before the router sees it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::body::BodyLimits;
use crate::guard::{Guarded, error_answer};
use crate::{Dialect, Failure, Limits};

/// File descriptors kept free for everything but client connections: database connections, the
/// SQLite files, the listener itself.
const RESERVED_FDS: usize = 64;
/// How long a connection refused for want of room may take to receive its answer.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);
/// How long in-flight requests may take to finish once shutdown has begun.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
/// `dialect` words what is answered before any surface is chosen (unparsable HTTP, no room).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    mut limits: Limits,
    dialect: Arc<dyn Dialect>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    limits.max_connections = limits.max_connections.min(connection_room());
    tracing::info!(
        max_connections = limits.max_connections,
        "accepting connections"
    );
    let app = app.layer(axum::middleware::from_fn(crate::request_id::assign));
    let room = Arc::new(Semaphore::new(limits.max_connections));
    let body_limits = BodyLimits::new(&limits);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let limits = Arc::new(limits);
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
        let Ok(permit) = room.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream, dialect.clone()));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Guarded::new(stream, dialect.clone(), limits.write_timeout));
        let app = app.clone();
        let body_limits = body_limits.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let extensions = request.extensions_mut();
            extensions.insert(ConnectInfo(peer));
            extensions.insert(body_limits.clone());
            app.clone().oneshot(request.map(Body::new))
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true)
            .serve_connection(io, service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running at the end of the shutdown grace period");
    }
    Ok(())
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
/// less what the rest of the server needs.
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
            .saturating_sub(RESERVED_FDS)
            .max(1),
        None => usize::MAX,
    }
}
