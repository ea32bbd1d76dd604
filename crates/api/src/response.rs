//! Wire encoding of results: success bodies with `RequestId`, and the POP error body
//! `{RequestId, HostId, Code, Message, Recommend}` — also for what the HTTP stack refuses itself.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pop::ApiError;
use web::{ErrorBody, Failure};

use crate::errors;

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
    let mut body = serde_json::json!({
        "RequestId": request_id,
        "HostId": host,
        "Code": error.code,
        "Message": error.message,
        "Recommend": format!(
            "https://api.aliyun.com/troubleshoot?q={}&product={product}&requestId={request_id}",
            error.code
        ),
    });
    if let (Some(detail), Some(fields)) = (&error.access_denied, body.as_object_mut()) {
        fields.insert(
            "AccessDeniedDetail".into(),
            serde_json::to_value(detail).unwrap_or_default(),
        );
    }
    body.to_string().into_bytes()
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
    match failure {
        Failure::Protocol(status) => match status.as_u16() {
            414 => errors::URI_TOO_LONG.error(&[]),
            431 => errors::HEADERS_TOO_LARGE.error(&[]),
            _ => errors::MALFORMED_REQUEST.error(&[]),
        },
        Failure::BodyTooLarge(limit) => errors::BODY_TOO_LARGE.error(&[&limit]),
        Failure::BodyTimeout => errors::BODY_TIMEOUT.error(&[]),
        Failure::Busy => errors::SERVICE_UNAVAILABLE.error(&[]),
        Failure::Panic => errors::INTERNAL_ERROR.error(&[]),
        Failure::Bodiless(code) => match code.as_u16() {
            404 => errors::ACTION_NOT_FOUND.error(&[]),
            405 => errors::METHOD_NOT_ALLOWED.error(&[]),
            _ if code.is_server_error() => errors::INTERNAL_ERROR.error(&[]),
            _ => errors::INVALID_REQUEST.error(&[]),
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
