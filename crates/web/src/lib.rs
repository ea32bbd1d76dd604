//! The HTTP stack every surface of amc stands on (the POP API today; the agent endpoint, the
//! model gateway, object upload and the console next). Surfaces are plain axum routers that know
//! nothing of each other; this crate serves them:
//!
//! - [`serve`] accepts connections under a bound ([`Limits::max_connections`]) where, when full,
//!   the connection idle longest gives its place to a new one; it cuts a request head that does
//!   not arrive in time (which also closes idle keep-alive connections) and a client that stops
//!   reading, and answers HTTP it cannot parse (hyper's 400, 414, 431) with a body in the
//!   default surface's dialect instead of hyper's empty one;
//! - [`request_id`] gives each request an id, carried in every log line of the request;
//! - [`body::read`] buffers a body under a size limit, a deadline and a process-wide budget of
//!   in-flight body bytes ([`body::Reader`] first reads a few bytes outside the budget, for a
//!   surface that learns who calls from them);
//! - [`surface`] answers a panicking handler, and an error its router answers without a body
//!   (axum's 405), in the surface's own [`Dialect`].

mod bodiless;
pub mod body;
mod connections;
mod guard;
mod listener;
mod panic;
pub mod request_id;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub use listener::{MAX_HEAD_BYTES, serve};
pub use request_id::RequestId;
pub use tls::{Tls, TlsError, Transport};

/// The address of the client a request came from, as [`serve`] records it: the TCP peer, or
/// for a request through a trusted proxy the client that proxy names
/// ([`Limits::trusted_proxies`]); none in tests that call a router directly.
pub fn client_ip<B>(request: &axum::http::Request<B>) -> Option<std::net::IpAddr> {
    let extensions = request.extensions();
    extensions
        .get::<ClientIp>()
        .map(|client| client.0)
        .or_else(|| {
            extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|peer| peer.0.ip())
        })
}

/// The client's address, in a request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

/// Who a request from `peer` comes from, given the `X-Forwarded-For` values it carries: `peer`,
/// unless it is a trusted proxy; then the right-most address of the header that is not a
/// trusted proxy (each proxy appends the address it received from), or `peer` when the header
/// names none.
pub fn forwarded_client<'a>(
    peer: std::net::IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[ipnet::IpNet],
) -> std::net::IpAddr {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    for value in forwarded_for.rev() {
        for entry in value.rsplit(',') {
            match entry.trim().parse::<std::net::IpAddr>() {
                Ok(ip) if is_trusted(&ip) => continue,
                Ok(ip) => return ip,
                // A malformed hop: nothing before it can be trusted.
                Err(_) => return peer,
            }
        }
    }
    peer
}

/// A request's headers as (lower-case name, value) pairs, as signature checks read them; a
/// value that is not UTF-8 is taken lossily (and so will not verify).
pub fn header_pairs(headers: &axum::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// What the stack itself may have to tell a client, before or around a surface's handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// HTTP/1.1 that could not be parsed: 400 (request line, header, `Content-Length`),
    /// 414 (URI too long) or 431 (too many or too large headers).
    Protocol(StatusCode),
    /// The body exceeds the surface's limit of this many bytes.
    BodyTooLarge(usize),
    /// The body did not arrive within [`Limits::body_timeout`].
    BodyTimeout,
    /// No room for another connection, or for another body in flight.
    Busy,
    /// The handler panicked.
    Panic,
    /// The surface's router answered this status with no body (e.g. 405, a method a route does
    /// not take).
    Bodiless(StatusCode),
}

impl Failure {
    pub fn status(self) -> StatusCode {
        match self {
            Failure::Protocol(status) => status,
            Failure::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Failure::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Failure::Panic => StatusCode::INTERNAL_SERVER_ERROR,
            Failure::Bodiless(status) => status,
        }
    }
}

/// A complete error answer: status, content type and body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl IntoResponse for ErrorBody {
    fn into_response(self) -> Response {
        (
            self.status,
            [(axum::http::header::CONTENT_TYPE, self.content_type)],
            self.body,
        )
            .into_response()
    }
}

/// How a surface words the failures the stack detects: the POP API answers the cloud's JSON
/// error body, the gateway will answer OpenAI's error object, object upload OSS's XML.
pub trait Dialect: Send + Sync + 'static {
    fn render(&self, failure: Failure, request_id: &str) -> ErrorBody;
}

/// The bounds the stack holds every connection and request to.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once. When all places are taken, the connection idle longest (waiting
    /// for a request head) gives its place to the new one; when none is idle, the new one is
    /// answered [`Failure::Busy`] and closed. Lowered at start to what the process's
    /// file-descriptor limit leaves room for.
    pub max_connections: usize,
    /// Time for a request head to arrive, counted from the end of the previous response: it is
    /// also how long a keep-alive connection may sit idle.
    pub header_timeout: Duration,
    /// Time for a request body to arrive once its head has.
    pub body_timeout: Duration,
    /// How long a response write may make no progress (a client that stopped reading).
    pub write_timeout: Duration,
    /// Bytes of request bodies buffered at once, across all connections.
    pub body_budget: usize,
    /// Proxies (load balancers) whose `X-Forwarded-For` names the client: a request from one of
    /// these addresses is taken to come from the last address of that header not among them.
    /// From anywhere else the header is ignored, so a client cannot choose its own address.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            header_timeout: Duration::from_secs(15),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            body_budget: 256 * 1024 * 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

/// A surface's router with panics, and errors its router answers without a body, answered in
/// its dialect.
pub fn surface(router: Router, dialect: Arc<dyn Dialect>) -> Router {
    panic::layer(bodiless::layer(router, dialect.clone()), dialect)
}

#[cfg(test)]
mod forwarded_tests {
    use std::net::IpAddr;

    use super::forwarded_client;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
        list.iter().filter_map(|n| n.parse().ok()).collect()
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        // Straight from a client: its own header means nothing.
        assert_eq!(
            forwarded_client(ip("203.0.113.7"), ["198.51.100.1"].into_iter(), &trusted),
            ip("203.0.113.7")
        );
        // Through the proxy: the client it names.
        assert_eq!(
            forwarded_client(ip("10.1.2.3"), ["198.51.100.1"].into_iter(), &trusted),
            ip("198.51.100.1")
        );
        // A client's forged first hop is left of what the proxy appended.
        assert_eq!(
            forwarded_client(
                ip("10.1.2.3"),
                ["6.6.6.6, 198.51.100.1"].into_iter(),
                &trusted
            ),
            ip("198.51.100.1")
        );
        // Several proxies, in headers and in lists, skipped from the right.
        assert_eq!(
            forwarded_client(
                ip("10.1.2.3"),
                ["198.51.100.1, 10.9.9.9", "10.8.8.8"].into_iter(),
                &trusted
            ),
            ip("198.51.100.1")
        );
        // No usable hop: the proxy itself.
        assert_eq!(
            forwarded_client(ip("10.1.2.3"), ["junk"].into_iter(), &trusted),
            ip("10.1.2.3")
        );
        assert_eq!(
            forwarded_client(ip("10.1.2.3"), std::iter::empty(), &trusted),
            ip("10.1.2.3")
        );
        // Nothing trusted: never the header.
        assert_eq!(
            forwarded_client(ip("10.1.2.3"), ["198.51.100.1"].into_iter(), &[]),
            ip("10.1.2.3")
        );
    }
}
