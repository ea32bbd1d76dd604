//! Wire encoding of results: success bodies with `RequestId`, and the POP error body.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pop::ApiError;

const JSON: &str = "application/json;charset=utf-8";

pub(crate) fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

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

pub(crate) fn error(error: &ApiError, request_id: &str, host: &str, product: &str) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({
        "RequestId": request_id,
        "HostId": host,
        "Code": error.code,
        "Message": error.message,
        "Recommend": format!(
            "https://api.aliyun.com/troubleshoot?q={}&product={product}&requestId={request_id}",
            error.code
        ),
    });
    json_response(status, body.to_string().into_bytes(), request_id)
}
