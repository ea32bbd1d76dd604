//! The POP endpoint: one pipeline for every action. Decode, authenticate (signature, timestamp,
//! nonce), authorise, dispatch, encode; every failure leaves through the same error body.

use std::any::Any;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use pop::ApiError;
use pop::signature::{HttpRequest, parse_request};

use crate::actions::{self, ActionEntry};
use crate::{AppState, Ctx, MAX_BODY_BYTES, response};

/// Signed requests stay replayable this long around their timestamp; nonces are kept as long.
const TIMESTAMP_WINDOW_MS: i64 = 15 * 60 * 1000;

fn host(headers: &HeaderMap) -> String {
    headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("amc")
        .to_string()
}

pub(crate) async fn pop(State(state): State<AppState>, request: Request) -> Response {
    let request_id = response::new_request_id();
    let host = host(request.headers());
    match handle(state, request, &request_id).await {
        Ok(body) => response::success(body, &request_id),
        Err((product, error)) => {
            tracing::debug!(request_id, code = %error.code, "request refused");
            response::error(&error, &request_id, &host, product)
        }
    }
}

async fn handle(
    state: AppState,
    request: Request,
    request_id: &str,
) -> Result<Vec<u8>, (&'static str, ApiError)> {
    let unknown = "amc";
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        (
            unknown,
            ApiError::new(
                413,
                "RequestEntityTooLarge",
                format!("The request body exceeds {MAX_BODY_BYTES} bytes."),
            ),
        )
    })?;
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let http = HttpRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body: &body,
    };
    let signed = parse_request(&http).map_err(|e| (unknown, e))?;
    let entry = actions::find(&signed.version, &signed.action).map_err(|e| (unknown, e))?;
    let product = entry.entry.product;
    let fail = |e: ApiError| (product, e);

    let now_ms = chrono::Utc::now().timestamp_millis();
    let now = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
    signed.check_timestamp(now).map_err(fail)?;
    let key = state
        .store
        .access_key(&signed.access_key_id)
        .await
        .map_err(|e| fail(internal(e)))?
        .ok_or_else(|| fail(ApiError::access_key_not_found()))?;
    if !key.active {
        return Err(fail(ApiError::access_key_inactive()));
    }
    signed.verify(key.secret.expose()).map_err(fail)?;
    let expires_at = signed
        .timestamp
        .timestamp_millis()
        .saturating_add(TIMESTAMP_WINDOW_MS);
    let fresh = state
        .store
        .record_nonce(&key.id, &signed.nonce, expires_at)
        .await
        .map_err(|e| fail(internal(e)))?;
    if !fresh {
        return Err(fail(ApiError::signature_nonce_used()));
    }
    authorize(&key, &entry.entry).map_err(fail)?;

    let ctx = Ctx {
        state,
        tenant_id: key.tenant_id.clone(),
        request_id: request_id.to_string(),
        now_ms,
    };
    let body = (entry.handle)(ctx, signed.params).await.map_err(fail)?;
    Ok(body)
}

/// The one authorisation step every action passes. Root keys may do everything in their own
/// tenant; tenants are kept apart by scoping every query to the key's tenant.
fn authorize(key: &store::tenants::AccessKey, entry: &ActionEntry) -> Result<(), ApiError> {
    if key.is_root {
        return Ok(());
    }
    Err(ApiError::new(
        403,
        "Forbidden.RAM",
        format!(
            "User not authorized to operate on the specified resource: {}.",
            entry.ram_action()
        ),
    ))
}

/// Logs the detail and answers the opaque `InternalError`.
pub(crate) fn internal(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "internal error");
    ApiError::internal()
}

pub(crate) async fn not_found(headers: HeaderMap) -> Response {
    let request_id = response::new_request_id();
    let error = ApiError::new(
        404,
        "InvalidAction.NotFound",
        "Specified api is not found, please check your url and method.",
    );
    response::error(&error, &request_id, &host(&headers), "amc")
}

pub(crate) async fn method_not_allowed(headers: HeaderMap) -> Response {
    let request_id = response::new_request_id();
    let error = ApiError::new(
        405,
        "UnsupportedHTTPMethod",
        "The endpoint accepts GET and POST only.",
    );
    response::error(&error, &request_id, &host(&headers), "amc")
}

pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown");
    tracing::error!(detail, "handler panicked");
    let request_id = response::new_request_id();
    response::error(&ApiError::internal(), &request_id, "amc", "amc")
}
