//! The Alibaba Cloud OpenAPI ("POP") wire protocol, with no domain in it: verifying and producing
//! V3 (`ACS3-HMAC-SHA256`/`ACS3-HMAC-SM3`) and V2 (`HMAC-SHA1`) signatures, decoding flattened and
//! JSON-"shrunk" parameters into typed requests, and the JSON error body every failure leaves by.
//!
//! The crate owns no keys and reads no clock: the caller looks the secret up and passes `now`.

pub mod bounded;
pub mod encoding;
pub mod error;
pub mod params;
pub mod signature;

pub use bounded::{List, Text};
pub use error::{AccessDeniedDetail, ApiError};
pub use params::{FlatParams, from_params};
