//! What a handler knows about the call it serves.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use store::tenants::AccessKey;

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
    /// The key that signed the call.
    pub caller: AccessKey,
    /// What the request tells of itself (for conditions of RAM checks inside actions).
    pub(crate) facts: Facts,
}

/// What the request itself tells the conditions.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    pub source_ip: Option<IpAddr>,
    pub secure_transport: bool,
    pub now: DateTime<Utc>,
}
