//! The POP endpoint: one pipeline for every action. Authenticate from the head (key, timestamp
//! and, for V3, the signature itself) — or, for V2 signed in a form body, from the first bytes of
//! the body that name the key — only then read the body, finish authenticating (body hash, V2
//! signature, timestamp, nonce), authorise, dispatch, encode; every failure leaves through the
//! same error body.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use pop::ApiError;
use pop::signature::{Credential, HttpHead, check_timestamp, nonce_kept_until, parse_head};
use store::tenants::{AccessKey, KeyPrincipal};
use web::RequestId;
use web::body::BodyLimits;

use crate::actions;
use crate::errors::{self, store_failure};
use crate::response::failure_error;
use crate::{AppState, Ctx, MAX_BODY_BYTES, response};
use crate::{audit, authorize, resources};

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
    let peer = web::client_ip(&request);
    let source_ip = peer.map(|ip| ip.to_string()).unwrap_or_default();
    let secure = request
        .extensions()
        .get::<web::Transport>()
        .is_some_and(|t| t.secure);
    let mut draft = audit::Draft::default();
    let result = handle(
        state.clone(),
        request,
        request_id.as_str(),
        (peer, secure),
        &mut draft,
    )
    .await;
    let code = result.as_ref().err().map(|(_, e)| e.code.as_ref());
    let at = chrono::Utc::now().timestamp_millis();
    if let Some(entry) = draft.entry(code, at, source_ip, request_id.as_str()) {
        state.store.keep_audit(&entry).await;
    }
    match result {
        Ok(body) => response::success(body, request_id.as_str()),
        Err((product, error)) => {
            tracing::debug!(code = %error.code, "request refused");
            let mut response = response::error(&error, request_id.as_str(), &host, product);
            if error.code == errors::THROTTLING_USER.code {
                // The SDKs back off for this many milliseconds: until the next window.
                let wait = 1000 - at.rem_euclid(1000);
                if let Ok(value) = axum::http::HeaderValue::from_str(&wait.to_string()) {
                    response.headers_mut().insert("x-acs-retry-after", value);
                }
            }
            response
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
    active_key(state, credential.access_key_id).await
}

/// The access key `access_key_id`, if it exists and may sign.
async fn active_key(state: &AppState, access_key_id: &str) -> Result<AccessKey, ApiError> {
    let key = state
        .store
        .access_key(access_key_id)
        .await
        .map_err(store_failure)?
        .ok_or_else(ApiError::access_key_not_found)?;
    if !key.active {
        return Err(ApiError::access_key_inactive());
    }
    Ok(key)
}

/// What is known of the caller before the whole body is read.
struct Caller {
    key: AccessKey,
    /// The timestamp was checked (it came in the head).
    timestamp_checked: bool,
    /// The signature was verified (V3: it covers the body through its signed hash).
    proven: bool,
}

async fn handle(
    state: AppState,
    request: Request,
    request_id: &str,
    (source_ip, secure_transport): (Option<std::net::IpAddr>, bool),
    draft: &mut audit::Draft,
) -> Result<Vec<u8>, (&'static str, ApiError)> {
    let unknown = |e: ApiError| (UNKNOWN_PRODUCT, e);
    let body_limits = BodyLimits::of(&request);
    let (parts, body) = request.into_parts();
    let headers = web::header_pairs(&parts.headers);
    let http = HttpHead {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let now = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();

    // Who calls, as far as the head tells: an unknown key, a stale timestamp or a wrong V3
    // signature is refused before a byte of the body is read. V2 signed in a form body names its
    // key in its first bytes; only those are read before the key is known.
    // What the head names, for the trail of a call refused before its body is read.
    let in_query = |name: &str| {
        http.query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    };
    let named = |header: &str, param: &str| {
        parts
            .headers
            .get(header)
            .and_then(|v| v.to_str().ok())
            .or_else(|| in_query(param))
    };
    if let (Some(action), Some(version)) = (
        named("x-acs-action", "Action"),
        named("x-acs-version", "Version"),
    ) {
        draft.action = Some(action.to_string());
        draft.product = actions::find(version, action).ok().map(|e| e.entry.product);
    }
    let head = parse_head(&http).map_err(unknown)?;
    draft.principal = head.credential().map(|c| c.access_key_id.to_string());
    let mut reader = web::body::Reader::new(body, &body_limits, MAX_BODY_BYTES)
        .map_err(|failure| unknown(failure_error(failure)))?;
    let caller = match head.credential() {
        Some(credential) => {
            let key = authenticate(&state, credential, now)
                .await
                .map_err(unknown)?;
            draft.tenant_id = Some(key.tenant_id.clone());
            let proven = head.verify(key.secret.expose()).map_err(unknown)?;
            Caller {
                key,
                timestamp_checked: true,
                proven,
            }
        }
        None => {
            let access_key_id = loop {
                match head.body_signer(reader.buffered(), reader.is_complete()) {
                    Ok(Some(id)) => {
                        draft.principal = Some(id.clone());
                        break id;
                    }
                    Ok(None) => reader
                        .read_more()
                        .await
                        .map_err(|failure| unknown(failure_error(failure)))?,
                    Err(error) => return Err(unknown(error)),
                }
            };
            let key = active_key(&state, &access_key_id).await.map_err(unknown)?;
            draft.tenant_id = Some(key.tenant_id.clone());
            Caller {
                key,
                timestamp_checked: false,
                proven: false,
            }
        }
    };
    let body = reader
        .finish()
        .await
        .map_err(|failure| unknown(failure_error(failure)))?;
    let signed = head.with_body(&body).map_err(unknown)?;
    drop(body);

    draft.principal = Some(signed.access_key_id.clone());
    draft.action = Some(signed.action.clone());
    let entry = actions::find(&signed.version, &signed.action).map_err(unknown)?;
    let product = entry.entry.product;
    draft.product = Some(product);
    let fail = |e: ApiError| (product, e);
    let Caller {
        key,
        timestamp_checked,
        proven,
    } = caller;
    if signed.access_key_id != key.id {
        // The body named one key first and signs with another.
        return Err(fail(ApiError::incomplete_signature(
            "AccessKeyId is given more than once",
        )));
    }
    if !timestamp_checked {
        check_timestamp(signed.timestamp, now).map_err(fail)?;
    }
    if !proven {
        signed.verify(key.secret.expose()).map_err(fail)?;
    }
    check_security_token(&key, signed.security_token.as_deref(), now_ms).map_err(fail)?;
    let fresh = state
        .store
        .record_nonce(&key.id, &signed.nonce, nonce_kept_until(signed.timestamp))
        .await
        .map_err(|e| fail(store_failure(e)))?;
    if !fresh {
        return Err(fail(ApiError::signature_nonce_used()));
    }
    let rate_limit = key.rate_limit.unwrap_or(state.rate_limit);
    if rate_limit > 0 {
        let window = now_ms - now_ms.rem_euclid(1000);
        let count = state
            .store
            .count_request(&key.id, window)
            .await
            .map_err(|e| fail(store_failure(e)))?;
        if count > i64::from(rate_limit) {
            return Err(fail(errors::THROTTLING_USER.error(&[])));
        }
    }
    // The parameters only: a V2 canonical query and string to sign are as large as the body,
    // and need not live while the action runs.
    let params = signed.into_params();
    let touched = resources::touched(&params);
    draft.resources = audit::resources(&touched);
    let facts = crate::context::Facts {
        source_ip,
        secure_transport,
        now,
    };
    authorize::authorize(&state, &key, &entry.entry, &params, &touched, facts)
        .await
        .map_err(fail)?;
    draft.reached_action = true;

    let ctx = Ctx {
        state,
        tenant_id: key.tenant_id.clone(),
        request_id: request_id.to_string(),
        now_ms,
        caller: key,
        facts,
    };
    let body = (entry.handle)(ctx, params).await.map_err(fail)?;
    Ok(body)
}

/// A temporary key comes with its own security token and only until it expires; a long-term
/// key comes without one.
fn check_security_token(key: &AccessKey, token: Option<&str>, now_ms: i64) -> Result<(), ApiError> {
    let token = token.filter(|t| !t.is_empty());
    match (&key.principal, token) {
        (KeyPrincipal::Session(session), Some(token)) => {
            if !domain::secrets::matches(token, &session.token_hash) {
                return Err(errors::SECURITY_TOKEN_MISMATCH.error(&[]));
            }
            if now_ms >= session.expires_at {
                return Err(errors::SECURITY_TOKEN_EXPIRED.error(&[]));
            }
            Ok(())
        }
        (KeyPrincipal::Session(_), None) => Err(errors::MISSING_SECURITY_TOKEN.error(&[])),
        (_, Some(_)) => Err(errors::SECURITY_TOKEN_MISMATCH.error(&[])),
        (_, None) => Ok(()),
    }
}

pub(crate) async fn not_found(request: Request) -> Response {
    refuse(&request, &errors::ACTION_NOT_FOUND.error(&[]))
}

pub(crate) async fn method_not_allowed(request: Request) -> Response {
    refuse(&request, &errors::METHOD_NOT_ALLOWED.error(&[]))
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

#[cfg(test)]
mod tests {
    use store::Secret;
    use store::tenants::Session;

    use super::*;

    fn key(principal: KeyPrincipal) -> AccessKey {
        AccessKey {
            id: "STS.k".into(),
            tenant_id: "1".into(),
            secret: Secret::new("s"),
            principal,
            active: true,
            rate_limit: None,
        }
    }

    fn session(token: &str, expires_at: i64) -> KeyPrincipal {
        KeyPrincipal::Session(Session {
            role_name: "r".into(),
            session_name: "s".into(),
            policy: None,
            token_hash: domain::secrets::hash(token),
            expires_at,
        })
    }

    fn code(result: Result<(), ApiError>) -> Option<String> {
        result.err().map(|e| e.code.to_string())
    }

    #[test]
    fn a_temporary_key_needs_its_own_token_until_it_expires() {
        let temporary = key(session("CAIStoken", 1_000));
        assert_eq!(
            code(check_security_token(&temporary, Some("CAIStoken"), 999)),
            None
        );
        assert_eq!(
            code(check_security_token(&temporary, Some("CAIStoken"), 1_000)).as_deref(),
            Some("InvalidSecurityToken.Expired")
        );
        assert_eq!(
            code(check_security_token(&temporary, Some("CAISother"), 999)).as_deref(),
            Some("InvalidSecurityToken.MismatchWithAccessKey")
        );
        for missing in [None, Some("")] {
            assert_eq!(
                code(check_security_token(&temporary, missing, 999)).as_deref(),
                Some("MissingSecurityToken")
            );
        }
    }

    #[test]
    fn a_long_term_key_takes_no_token() {
        let user = key(KeyPrincipal::User {
            name: "alice".into(),
        });
        assert_eq!(code(check_security_token(&user, None, 0)), None);
        assert_eq!(
            code(check_security_token(&user, Some("CAIStoken"), 0)).as_deref(),
            Some("InvalidSecurityToken.MismatchWithAccessKey")
        );
        assert_eq!(
            code(check_security_token(&key(KeyPrincipal::Root), Some(""), 0)),
            None
        );
    }
}
