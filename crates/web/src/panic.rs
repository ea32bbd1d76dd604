//! A panicking handler is answered in its surface's dialect, with the request's id; the panic's
//! message goes to the log only.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;

use crate::{Dialect, Failure, RequestId};

pub(crate) fn layer(router: Router, dialect: Arc<dyn Dialect>) -> Router {
    router.layer(from_fn_with_state(dialect, catch))
}

async fn catch(State(dialect): State<Arc<dyn Dialect>>, request: Request, next: Next) -> Response {
    let request_id = RequestId::of(&request);
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            tracing::error!(detail = panic_detail(&*panic), "handler panicked");
            dialect
                .render(Failure::Panic, request_id.as_str())
                .into_response()
        }
    }
}

fn panic_detail(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown")
}
