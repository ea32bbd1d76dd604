//! Who may do what: the request's signature, its security token, its grant's expiry and scope.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use oss::{Authorization, OssError, Request};

use crate::{Grant, UploadState};

/// The grant a request is signed with, once everything about the credentials holds.
pub async fn authorise(
    state: &UploadState,
    request: &Request<'_>,
    now_ms: i64,
) -> Result<Grant, OssError> {
    let header = request
        .header("authorization")
        .ok_or_else(OssError::anonymous)?;
    let auth = Authorization::parse(header)?;
    if !auth.key_id().starts_with("STS.") {
        return Err(OssError::invalid_access_key_id());
    }
    let grant = state
        .grants
        .grant(auth.key_id())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "upload grants");
            OssError::internal_error()
        })?
        .ok_or_else(OssError::invalid_access_key_id)?;
    let token = request
        .header("x-oss-security-token")
        .ok_or_else(OssError::invalid_access_key_id)?;
    let token_hash = hex::encode(Sha256::digest(token.as_bytes()));
    if !bool::from(token_hash.as_bytes().ct_eq(grant.token_hash.as_bytes())) {
        return Err(OssError::invalid_security_token());
    }
    let now = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
    oss::verify(&auth, request, &grant.secret, now)?;
    if now_ms >= grant.expires_at {
        return Err(OssError::security_token_expired());
    }
    if request.bucket != grant.bucket || !request.key.starts_with(&grant.prefix) {
        return Err(OssError::access_denied(
            "You are denied by sts or ram policy: the credentials allow only keys under their \
             ObjectKeyPrefix of their Bucket.",
        ));
    }
    Ok(grant)
}
