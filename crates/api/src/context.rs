//! What a handler knows about the call it serves.

use store::tenants::AccessKey;

use crate::AppState;
use crate::authorize::Facts;

/// The caller and the moment of one call.
#[derive(Clone)]
pub struct Ctx {
    pub state: AppState,
    /// The tenant (account id) the access key belongs to; every read and write is scoped to it.
    pub tenant_id: String,
    pub request_id: String,
    /// Milliseconds since the epoch, read once per request.
    pub now_ms: i64,
    /// The key that signed the call.
    pub caller: AccessKey,
    /// What the request tells of itself (for conditions of RAM checks inside actions).
    pub(crate) facts: Facts,
}
