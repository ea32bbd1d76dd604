//! Errors of the POP surface that are not the protocol's own.

use pop::ApiError;

/// Logs the detail and answers the opaque `InternalError`.
pub(crate) fn internal(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "internal error");
    ApiError::internal()
}
