//! A surface's router answers some requests itself, with an error status and no body: axum's
//! 405 for a method a route does not take is one. Every client of amc expects an error body it
//! can read, so such an answer gets the surface's [`Dialect`] body (its status and headers, such
//! as `allow`, kept). It is recognised as hyper's own are: an error status, an empty body and no
//! content type.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::{Router, body::Body};
use hyper::body::Body as _;

use crate::{Dialect, Failure, RequestId};

pub(crate) fn layer(router: Router, dialect: Arc<dyn Dialect>) -> Router {
    router.layer(from_fn_with_state(dialect, fill))
}

fn is_bodiless_error(response: &Response) -> bool {
    let status = response.status();
    (status.is_client_error() || status.is_server_error())
        && !response.headers().contains_key(CONTENT_TYPE)
        && response.body().size_hint().exact() == Some(0)
}

async fn fill(State(dialect): State<Arc<dyn Dialect>>, request: Request, next: Next) -> Response {
    let request_id = RequestId::of(&request);
    let response = next.run(request).await;
    if !is_bodiless_error(&response) {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let rendered = dialect.render(Failure::Bodiless(parts.status), request_id.as_str());
    parts.status = rendered.status;
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(rendered.content_type),
    );
    Response::from_parts(parts, Body::from(rendered.body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorBody;
    use axum::http::StatusCode;
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    struct Plain;

    impl Dialect for Plain {
        fn render(&self, failure: Failure, _request_id: &str) -> ErrorBody {
            ErrorBody {
                status: failure.status(),
                content_type: "text/plain",
                body: format!("{failure:?}").into_bytes(),
            }
        }
    }

    async fn call(method: &str, path: &str) -> (StatusCode, Option<String>, String) {
        let router = Router::new()
            .route("/only-get", get(|| async { "ok" }))
            .route("/empty-teapot", get(|| async { StatusCode::IM_A_TEAPOT }));
        let app = layer(router, Arc::new(Plain));
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let response = app.oneshot(request).await.expect("infallible");
        let status = response.status();
        let allow = response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, allow, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_bodiless_405_of_the_router_gets_the_dialect_body() {
        let (status, allow, body) = call("POST", "/only-get").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(allow.is_some_and(|a| a.contains("GET")));
        assert_eq!(body, "Bodiless(405)");
        let (status, _, body) = call("GET", "/empty-teapot").await;
        assert_eq!((status.as_u16(), body.as_str()), (418, "Bodiless(418)"));
    }

    #[tokio::test]
    async fn answers_with_a_body_are_left_alone() {
        assert_eq!(call("GET", "/only-get").await.2, "ok");
    }
}
