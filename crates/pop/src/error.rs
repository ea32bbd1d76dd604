//! The error every failed call answers with: an HTTP status, a cloud error code and a message.
//!
//! Protocol codes have constructors here; other layers build their own codes with [`ApiError::new`].
//! The message must never carry a secret: it goes on the wire and into logs.

use std::borrow::Cow;

/// A failed call, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub code: Cow<'static, str>,
    pub message: String,
    /// Of a call RAM refused: why, as the body's `AccessDeniedDetail` tells it.
    pub access_denied: Option<Box<AccessDeniedDetail>>,
}

/// The `AccessDeniedDetail` of a refused call (the SDKs expose it on their exceptions).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessDeniedDetail {
    pub auth_action: String,
    /// `SubUser` or `AssumedRoleUser`.
    pub auth_principal_type: String,
    pub auth_principal_owner_id: String,
    pub auth_principal_display_name: String,
    /// Which kind of policy refused: `AccountLevelIdentityBasedPolicy`, `SessionPolicy`, ….
    pub policy_type: String,
    /// `ImplicitDeny` or `ExplicitDeny`.
    pub no_permission_type: String,
    /// Of an explicit deny by an attached policy: its name (amc's addition, so that the caller
    /// can tell an administrator which policy refused without a decoding round trip).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// Opaque to the caller; the account decodes it (RAM `DecodeDiagnosticMessage`).
    pub encoded_diagnostic_message: String,
}

impl ApiError {
    pub fn new(
        status: u16,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            access_denied: None,
        }
    }

    pub fn with_access_denied(mut self, detail: AccessDeniedDetail) -> Self {
        self.access_denied = Some(Box::new(detail));
        self
    }

    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            400,
            "MissingParameter",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
            ),
        )
    }

    /// `InvalidParameter` naming the parameter; `reason` says what is wrong with it.
    pub fn invalid_parameter(name: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            400,
            "InvalidParameter",
            format!("The specified parameter \"{name}\" is not valid: {reason}"),
        )
    }

    pub fn incomplete_signature(reason: impl std::fmt::Display) -> Self {
        Self::new(
            400,
            "IncompleteSignature",
            format!("The request signature does not conform to Aliyun standards: {reason}"),
        )
    }

    /// `string_to_sign` is public information (it holds no secret) and helps clients debug.
    pub fn signature_does_not_match(string_to_sign: &str) -> Self {
        Self::new(
            400,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
            ),
        )
    }

    pub fn signature_nonce_used() -> Self {
        Self::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        )
    }

    pub fn timestamp_expired() -> Self {
        Self::new(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        )
    }

    pub fn timestamp_format() -> Self {
        Self::new(
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        )
    }

    pub fn access_key_not_found() -> Self {
        Self::new(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        )
    }

    pub fn access_key_inactive() -> Self {
        Self::new(
            400,
            "InvalidAccessKeyId.Inactive",
            "Specified access key is disabled.",
        )
    }

    pub fn action_not_found() -> Self {
        Self::new(
            404,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        )
    }

    pub fn invalid_version() -> Self {
        Self::new(
            400,
            "InvalidVersion",
            "Specified parameter Version is not valid.",
        )
    }

    /// The cloud's answer to a request that collided with concurrent ones: the client may send
    /// it again.
    pub fn operation_conflict() -> Self {
        Self::new(
            409,
            "OperationConflict",
            "Request was denied due to conflict with a previous request.",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            500,
            "InternalError",
            "The request processing has failed due to some unknown error, exception or failure.",
        )
    }
}
