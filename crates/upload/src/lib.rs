//! The object upload surface: an OSS-compatible endpoint, path-style (`/<bucket>/<key>`), on the
//! API's listener. The official OSS SDKs (`oss2`, `alibabacloud-oss-v2`) put objects and upload
//! them in parts with the temporary credentials `GetOssStsToken` mints; every request is checked
//! as OSS checks it — signature (V1 or V4), security token, expiry — and must stay inside its
//! grant's bucket and key prefix. Bodies stream into the object store under the grant's size
//! limit ([`receive`]); what amc records beside each object is in [`objects`]. Errors are OSS's
//! XML. It imports no other surface, learns of grants through [`Grants`] and records what it
//! did there too.

mod auth;
pub mod objects;
mod ops;
pub mod receive;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::any;
use futures::future::BoxFuture;
use object_store::ObjectStore;
use web::{Dialect, ErrorBody, Failure};

use oss::OssError;

/// Temporary upload credentials, as the server issued them.
#[derive(Clone)]
pub struct Grant {
    pub tenant_id: String,
    pub secret: String,
    /// Hex SHA-256 of the security token.
    pub token_hash: String,
    pub bucket: String,
    /// Every key written must start with it.
    pub prefix: String,
    pub max_bytes: u64,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("tenant_id", &self.tenant_id)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Where grants are looked up, by access key id, and calls recorded in the audit trail.
pub trait Grants: Send + Sync + 'static {
    fn grant<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<Grant>, GrantsError>>;

    /// Records a call that wrote (or tried to), or was refused; by default nowhere. A lost
    /// record must not fail the call: implementations log their own failures.
    fn record(&self, call: AuditedCall) -> BoxFuture<'_, ()> {
        let _ = call;
        Box::pin(async {})
    }
}

/// What the audit trail keeps of an object call: never a secret or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditedCall {
    pub at: i64,
    /// Known once the credentials were found.
    pub tenant_id: Option<String>,
    /// The access key id the request named.
    pub principal: String,
    pub source_ip: String,
    /// OSS's name of the operation: `PutObject`, `UploadPart`, `DeleteObject`, ….
    pub action: &'static str,
    /// `<bucket>/<key>`.
    pub object: String,
    /// `OK`, or the OSS error code answered.
    pub code: String,
    pub request_id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("grant lookup failed: {0}")]
pub struct GrantsError(pub String);

#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// The buckets served (names of `[a-z0-9-]`).
    pub buckets: Vec<String>,
    /// How long a body may send nothing before the upload is dropped.
    pub idle_timeout: Duration,
    /// Bodies streamed into the store at once (each holds up to about 10 MiB); more are
    /// answered `503 ServiceUnavailable`.
    pub max_concurrent_bodies: usize,
}

#[derive(Clone)]
pub struct UploadState {
    grants: Arc<dyn Grants>,
    objects: Arc<dyn ObjectStore>,
    config: Arc<UploadConfig>,
    bodies: Arc<tokio::sync::Semaphore>,
}

impl UploadState {
    pub fn new(
        grants: Arc<dyn Grants>,
        objects: Arc<dyn ObjectStore>,
        config: UploadConfig,
    ) -> UploadState {
        UploadState {
            grants,
            objects,
            bodies: Arc::new(tokio::sync::Semaphore::new(
                config.max_concurrent_bodies.max(1),
            )),
            config: Arc::new(config),
        }
    }
}

/// The upload surface's router: `/<bucket>/<key>` of each bucket served, for every method.
/// Other paths are left to the surfaces beside it (another bucket is no bucket of amc's).
pub fn router(state: UploadState) -> Router {
    let mut router = Router::new();
    for bucket in &state.config.buckets {
        router = router.route(&format!("/{bucket}/{{*key}}"), any(ops::handle));
    }
    web::surface(router.with_state(state), Arc::new(OssDialect))
}

/// The stack's own failures in OSS's words.
pub struct OssDialect;

impl Dialect for OssDialect {
    fn render(&self, failure: Failure, request_id: &str) -> ErrorBody {
        let error = match failure {
            Failure::BodyTooLarge(max) => OssError::entity_too_large(max as u64),
            Failure::BodyTimeout => OssError::request_timeout(),
            Failure::Busy => OssError::service_unavailable(),
            Failure::Bodiless(StatusCode::METHOD_NOT_ALLOWED) => OssError::method_not_allowed(),
            // A path no route of this surface takes (`/<bucket>/` without a key).
            Failure::Bodiless(StatusCode::NOT_FOUND) => OssError::no_such_key(),
            Failure::Bodiless(status) if status.is_client_error() => {
                OssError::invalid_argument("The request cannot be served as sent.")
            }
            Failure::Protocol(_) => OssError::invalid_argument("The request is not valid HTTP."),
            Failure::Panic | Failure::Bodiless(_) => OssError::internal_error(),
        };
        ErrorBody {
            status: StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
            content_type: "application/xml",
            body: error.to_xml(request_id, "amc").into_bytes(),
        }
    }
}
