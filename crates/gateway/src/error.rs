//! The gateway's errors, answered in the caller's dialect: OpenAI's error object on the OpenAI
//! paths, Anthropic's on `/v1/messages`. Messages are written for the agent to show its user;
//! none carries a key.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use web::{Dialect, ErrorBody, Failure};

use crate::usage::Protocol;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("missing, unknown or revoked gateway key")]
    Unauthorized,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("model {0:?} is not served to this runtime; GET /v1/models lists those that are")]
    ModelNotFound(String),
    #[error("the gateway serves /v1/chat/completions, /v1/messages and /v1/models")]
    NotFound,
    #[error("model {model:?} speaks {api}; call {path} for it")]
    WrongProtocol {
        model: String,
        api: String,
        path: &'static str,
    },
    #[error(
        "this agent's monthly credit quota is used up; ask an administrator to raise it (SetAgentCreditQuota)"
    )]
    QuotaExhausted,
    #[error("the organisation's model credits are used up; add a credit pack to continue")]
    CreditsExhausted,
    #[error("rate limit of this agent reached ({0}); retry in {1} s")]
    RateLimited(&'static str, u64),
    #[error("the model provider could not be reached: {0}")]
    Upstream(String),
    #[error("the model provider did not answer in time")]
    UpstreamTimeout,
    #[error("{0}")]
    Stack(String, StatusCode),
    #[error("internal error")]
    Internal,
}

/// The code a refusal answered, for the audit trail.
#[derive(Debug, Clone, Copy)]
pub struct Refused(pub &'static str);

impl GatewayError {
    fn status(&self) -> StatusCode {
        match self {
            GatewayError::Unauthorized => StatusCode::UNAUTHORIZED,
            GatewayError::InvalidRequest(_) | GatewayError::WrongProtocol { .. } => {
                StatusCode::BAD_REQUEST
            }
            GatewayError::ModelNotFound(_) | GatewayError::NotFound => StatusCode::NOT_FOUND,
            GatewayError::QuotaExhausted
            | GatewayError::CreditsExhausted
            | GatewayError::RateLimited(..) => StatusCode::TOO_MANY_REQUESTS,
            GatewayError::Upstream(_) => StatusCode::BAD_GATEWAY,
            GatewayError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::Stack(_, status) => *status,
            GatewayError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// OpenAI's `error.code` (and `error.type`).
    fn openai_code(&self) -> (&'static str, &'static str) {
        match self {
            GatewayError::Unauthorized => ("invalid_api_key", "invalid_request_error"),
            GatewayError::InvalidRequest(_) | GatewayError::Stack(..) => {
                ("invalid_request", "invalid_request_error")
            }
            GatewayError::WrongProtocol { .. } => ("wrong_api", "invalid_request_error"),
            GatewayError::ModelNotFound(_) => ("model_not_found", "invalid_request_error"),
            GatewayError::NotFound => ("not_found", "invalid_request_error"),
            GatewayError::QuotaExhausted => ("credit_quota_exceeded", "insufficient_quota"),
            GatewayError::CreditsExhausted => ("credits_exhausted", "insufficient_quota"),
            GatewayError::RateLimited(..) => ("rate_limit_exceeded", "requests"),
            GatewayError::Upstream(_) => ("upstream_error", "api_error"),
            GatewayError::UpstreamTimeout => ("upstream_timeout", "api_error"),
            GatewayError::Internal => ("internal_error", "api_error"),
        }
    }

    /// Anthropic's `error.type`.
    fn anthropic_type(&self) -> &'static str {
        match self.status() {
            StatusCode::UNAUTHORIZED => "authentication_error",
            StatusCode::NOT_FOUND => "not_found_error",
            StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => "invalid_request_error",
            StatusCode::GATEWAY_TIMEOUT | StatusCode::BAD_GATEWAY => "api_error",
            StatusCode::SERVICE_UNAVAILABLE => "overloaded_error",
            _ => "api_error",
        }
    }

    pub fn body(&self, protocol: Protocol) -> Vec<u8> {
        let message = self.to_string();
        let value = match protocol {
            Protocol::OpenAi => {
                let (code, kind) = self.openai_code();
                json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
            }
            Protocol::Anthropic => json!({
                "type": "error",
                "error": {"type": self.anthropic_type(), "message": message}
            }),
        };
        serde_json::to_vec(&value).unwrap_or_default()
    }

    pub fn respond(&self, protocol: Protocol) -> Response {
        let mut response = (
            self.status(),
            [(header::CONTENT_TYPE, "application/json")],
            self.body(protocol),
        )
            .into_response();
        response
            .extensions_mut()
            .insert(Refused(self.openai_code().0));
        if let GatewayError::RateLimited(_, seconds) = self
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<store::StoreError> for GatewayError {
    fn from(error: store::StoreError) -> Self {
        tracing::error!(%error, "gateway: store");
        GatewayError::Internal
    }
}

impl From<Failure> for GatewayError {
    fn from(failure: Failure) -> Self {
        let message = match failure {
            Failure::BodyTooLarge(limit) => format!("the body exceeds {limit} bytes"),
            Failure::BodyTimeout => "the body did not arrive in time".into(),
            Failure::Busy => "the server is busy; retry later".into(),
            Failure::Panic => "internal error".into(),
            Failure::Protocol(_) | Failure::Bodiless(_) => {
                "the request could not be handled".into()
            }
        };
        GatewayError::Stack(message, failure.status())
    }
}

/// The gateway's words for what the HTTP stack refuses (OpenAI's error object).
pub struct GatewayDialect;

impl Dialect for GatewayDialect {
    fn render(&self, failure: Failure, _request_id: &str) -> ErrorBody {
        let error = GatewayError::from(failure);
        ErrorBody {
            status: error.status(),
            content_type: "application/json",
            body: error.body(Protocol::OpenAi),
        }
    }
}
