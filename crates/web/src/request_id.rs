//! Every request gets an id (an upper-case UUID, as the cloud's `RequestId`) before any surface
//! sees it; every log line written while it is served carries the id.

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The id of the request being served, in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    pub fn new() -> RequestId {
        RequestId(uuid::Uuid::new_v4().to_string().to_uppercase().into())
    }

    /// The id the stack gave `request`, or a new one outside the stack (tests calling a router).
    pub fn of<B>(request: &axum::http::Request<B>) -> RequestId {
        request
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        RequestId::new()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Middleware: gives the request its id and serves it inside a span naming that id.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = RequestId::new();
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = %request.uri().path()
    );
    request.extensions_mut().insert(id);
    next.run(request).instrument(span).await
}
