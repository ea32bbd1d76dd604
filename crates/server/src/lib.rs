//! amc's HTTP side: the POP endpoint (decode, authenticate, authorise, dispatch, encode), the
//! actions grouped by area, and the lifecycle driver that moves runtimes through their states.
//!
//! Only this crate knows HTTP and wire JSON.

pub mod actions;
mod context;
mod endpoint;
pub mod lifecycle;
mod response;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use domain::catalogue::Catalogue;
use store::Store;

pub use context::Ctx;
pub use lifecycle::{ProvisioningDriver, SimDriver};

/// Largest request body accepted on the POP endpoint.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Everything a request may need; shared by all requests.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub catalogue: Arc<Catalogue>,
    pub driver: Arc<dyn ProvisioningDriver>,
    pub lifecycle: Arc<lifecycle::Wakeup>,
}

impl AppState {
    pub fn new(
        store: Store,
        catalogue: Catalogue,
        driver: Arc<dyn ProvisioningDriver>,
    ) -> AppState {
        AppState {
            store,
            catalogue: Arc::new(catalogue),
            driver,
            lifecycle: Arc::default(),
        }
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/",
            get(endpoint::pop)
                .post(endpoint::pop)
                .fallback(endpoint::method_not_allowed),
        )
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .fallback(endpoint::not_found)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            endpoint::panic_response,
        ))
        .with_state(state)
}
