//! The POP endpoint: one pipeline for every action. Authenticate from the head (key, timestamp
//! and, for V3, the signature itself), only then read the body, finish authenticating (body hash,
//! V2 signature, nonce), authorise, dispatch, encode; every failure leaves through the same error
//! body.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use pop::ApiError;
use pop::signature::{Credential, HttpHead, check_timestamp, nonce_kept_until, parse_head};
use store::tenants::AccessKey;
use web::RequestId;
use web::body::BodyLimits;

use crate::actions::{self, ActionEntry};
use crate::errors::store_failure;
use crate::response::failure_error;
use crate::{AppState, Ctx, MAX_BODY_BYTES, response};

/// The product code errors name before the action (and so its product) is known.
const UNKNOWN_PRODUCT: &str = "amc";

fn host(headers: &HeaderMap) -> String {
    headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("amc")
        .to_string()
}

pub(crate) async fn pop(State(state): State<AppState>, request: Request) -> Response {
    let request_id = RequestId::of(&request);
    let host = host(request.headers());
    match handle(state, request, request_id.as_str()).await {
        Ok(body) => response::success(body, request_id.as_str()),
        Err((product, error)) => {
            tracing::debug!(code = %error.code, "request refused");
            response::error(&error, request_id.as_str(), &host, product)
        }
    }
}

/// The access key a credential names, if it may sign at `now`.
async fn authenticate(
    state: &AppState,
    credential: Credential<'_>,
    now: DateTime<Utc>,
) -> Result<AccessKey, ApiError> {
    check_timestamp(credential.timestamp, now)?;
    let key = state
        .store
        .access_key(credential.access_key_id)
        .await
        .map_err(store_failure)?
        .ok_or_else(ApiError::access_key_not_found)?;
    if !key.active {
        return Err(ApiError::access_key_inactive());
    }
    Ok(key)
}

async fn handle(
    state: AppState,
    request: Request,
    request_id: &str,
) -> Result<Vec<u8>, (&'static str, ApiError)> {
    let unknown = |e: ApiError| (UNKNOWN_PRODUCT, e);
    let body_limits = BodyLimits::of(&request);
    let (parts, body) = request.into_parts();
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
    let http = HttpHead {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let now = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();

    // Who calls, as far as the head tells: an unknown key, a stale timestamp or a wrong V3
    // signature is refused before a byte of the body is read.
    let head = parse_head(&http).map_err(unknown)?;
    let early = match head.credential() {
        Some(credential) => {
            let key = authenticate(&state, credential, now)
                .await
                .map_err(unknown)?;
            let proven = head.verify(key.secret.expose()).map_err(unknown)?;
            Some((key, proven))
        }
        None => None,
    };
    let body = web::body::read(body, &body_limits, MAX_BODY_BYTES)
        .await
        .map_err(|failure| unknown(failure_error(failure)))?;
    let signed = head.with_body(&body).map_err(unknown)?;
    drop(body);

    let entry = actions::find(&signed.version, &signed.action).map_err(unknown)?;
    let product = entry.entry.product;
    let fail = |e: ApiError| (product, e);
    let key = match early {
        Some((key, true)) => key,
        Some((key, false)) => {
            signed.verify(key.secret.expose()).map_err(fail)?;
            key
        }
        None => {
            let credential = Credential {
                access_key_id: &signed.access_key_id,
                timestamp: signed.timestamp,
            };
            let key = authenticate(&state, credential, now).await.map_err(fail)?;
            signed.verify(key.secret.expose()).map_err(fail)?;
            key
        }
    };
    if signed
        .security_token
        .as_deref()
        .is_some_and(|t| !t.is_empty())
    {
        // Long-term keys take no token; temporary (STS) keys, which would, are not issued yet.
        return Err(fail(ApiError::new(
            400,
            "InvalidSecurityToken.MismatchWithAccessKey",
            "The security token does not belong to the access key: long-term access keys are used without one.",
        )));
    }
    let fresh = state
        .store
        .record_nonce(&key.id, &signed.nonce, nonce_kept_until(signed.timestamp))
        .await
        .map_err(|e| fail(store_failure(e)))?;
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
fn authorize(key: &AccessKey, entry: &ActionEntry) -> Result<(), ApiError> {
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

pub(crate) async fn not_found(request: Request) -> Response {
    let error = ApiError::new(
        404,
        "InvalidAction.NotFound",
        "Specified api is not found, please check your url and method.",
    );
    refuse(&request, &error)
}

pub(crate) async fn method_not_allowed(request: Request) -> Response {
    let error = ApiError::new(
        405,
        "UnsupportedHTTPMethod",
        "The endpoint accepts GET and POST only.",
    );
    refuse(&request, &error)
}

fn refuse(request: &Request, error: &ApiError) -> Response {
    let request_id = RequestId::of(request);
    response::error(
        error,
        request_id.as_str(),
        &host(request.headers()),
        UNKNOWN_PRODUCT,
    )
}
