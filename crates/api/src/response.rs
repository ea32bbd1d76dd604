//! Wire encoding of results: success bodies with `RequestId`, and the POP error body
//! `{RequestId, HostId, Code, Message, Recommend}` — also for what the HTTP stack refuses itself.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pop::ApiError;
use web::{ErrorBody, Failure};

const JSON: &str = "application/json;charset=utf-8";

fn json_response(status: StatusCode, body: Vec<u8>, request_id: &str) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(JSON));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-acs-request-id", value);
    }
    response
}

/// `body` is the action's JSON, `RequestId` already in it.
pub(crate) fn success(body: Vec<u8>, request_id: &str) -> Response {
    json_response(StatusCode::OK, body, request_id)
}

fn error_json(error: &ApiError, request_id: &str, host: &str, product: &str) -> Vec<u8> {
    serde_json::json!({
        "RequestId": request_id,
        "HostId": host,
        "Code": error.code,
        "Message": error.message,
        "Recommend": format!(
            "https://api.aliyun.com/troubleshoot?q={}&product={product}&requestId={request_id}",
            error.code
        ),
    })
    .to_string()
    .into_bytes()
}

pub(crate) fn error(error: &ApiError, request_id: &str, host: &str, product: &str) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(
        status,
        error_json(error, request_id, host, product),
        request_id,
    )
}

/// The error of a failure the HTTP stack detected.
pub(crate) fn failure_error(failure: Failure) -> ApiError {
    let status = failure.status().as_u16();
    match failure {
        Failure::Protocol(code) => match code.as_u16() {
            414 => ApiError::new(status, "UriTooLong", "The request URI is too long."),
            431 => ApiError::new(
                status,
                "RequestHeaderFieldsTooLarge",
                "The request has too many headers, or headers too large.",
            ),
            _ => ApiError::new(
                status,
                "MalformedRequest",
                "The request is not well-formed HTTP/1.1 (request line, a header, Content-Length or the body's framing).",
            ),
        },
        Failure::BodyTooLarge(limit) => ApiError::new(
            status,
            "RequestEntityTooLarge",
            format!("The request body exceeds {limit} bytes."),
        ),
        Failure::BodyTimeout => ApiError::new(
            status,
            "RequestTimeout",
            "The request body did not arrive in time.",
        ),
        Failure::Busy => ApiError::new(
            status,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
        ),
        Failure::Panic => ApiError::internal(),
        Failure::Bodiless(code) => match code.as_u16() {
            404 => ApiError::action_not_found(),
            405 => ApiError::new(
                status,
                "UnsupportedHTTPMethod",
                "The HTTP method is not supported on this path.",
            ),
            _ if code.is_server_error() => ApiError::internal(),
            _ => ApiError::new(
                status,
                "InvalidRequest",
                "The request cannot be served as sent.",
            ),
        },
    }
}

/// The cloud's JSON error body, for what the HTTP stack answers by itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct PopDialect;

impl web::Dialect for PopDialect {
    fn render(&self, failure: Failure, request_id: &str) -> ErrorBody {
        let error = failure_error(failure);
        ErrorBody {
            status: failure.status(),
            content_type: JSON,
            body: error_json(&error, request_id, "amc", "amc"),
        }
    }
}
