//! The POP API surface: every action of the four products (appstream-center, ecd 2020-09-30 and
//! 2021-06-02, wss) and the resource-group actions of resourcemanager, served through one
//! pipeline (`endpoint`: authenticate, decode, authorise, dispatch, encode), with the cloud's JSON
//! error body as its dialect.
//!
//! Only this crate knows the POP wire JSON; the HTTP stack under it is `web`'s.

pub mod actions;
mod audit;
mod authorize;
mod context;
mod diagnosis;
mod endpoint;
pub mod errors;
mod principal;
mod resources;
mod response;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use domain::catalogue::Catalogue;
use provision::{ProvisioningDriver, Wakeup};
use store::Store;

pub use context::Ctx;
pub use response::PopDialect;

/// Largest request body accepted on the POP endpoint.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Everything a request may need; shared by all requests.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub catalogue: Arc<Catalogue>,
    pub driver: Arc<dyn ProvisioningDriver>,
    pub lifecycle: Arc<Wakeup>,
    pub skills: actions::skills::SkillSettings,
    /// Woken when a parse task is recorded, so a worker of this replica takes it at once.
    pub parse_jobs: Arc<Wakeup>,
    /// Calls one access key may sign per second (0: no limit).
    pub rate_limit: u32,
    /// Compiled RAM policies of the principals that called lately.
    pub policies: Arc<authorize::PolicyCache>,
}

impl AppState {
    pub fn new(
        store: Store,
        catalogue: Catalogue,
        driver: Arc<dyn ProvisioningDriver>,
        lifecycle: Arc<Wakeup>,
    ) -> AppState {
        AppState {
            store,
            catalogue: Arc::new(catalogue),
            driver,
            lifecycle,
            skills: actions::skills::SkillSettings::default(),
            parse_jobs: Arc::new(Wakeup::default()),
            rate_limit: 0,
            policies: Arc::default(),
        }
    }
}

/// The POP surface: `/` (GET and POST) and `/healthz`; any other path answers the cloud's
/// `InvalidAction.NotFound`, so this router also serves as the fallback of the whole server.
pub fn router(state: AppState) -> Router {
    let router = Router::new()
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
        .with_state(state);
    web::surface(router, Arc::new(PopDialect))
}
