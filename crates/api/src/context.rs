//! What a handler knows about the call it serves.

use crate::AppState;

/// The caller and the moment of one call.
#[derive(Clone)]
pub struct Ctx {
    pub state: AppState,
    /// The tenant (account id) the access key belongs to; every read and write is scoped to it.
    pub tenant_id: String,
    pub request_id: String,
    /// Milliseconds since the epoch, read once per request.
    pub now_ms: i64,
}
