//! Errors of the POP surface that are not the protocol's own, and the one place that decides
//! how a failed store call is answered.

use pop::ApiError;
use store::StoreError;

/// Logs the detail and answers the opaque `InternalError`.
pub(crate) fn internal(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "internal error");
    ApiError::internal()
}

/// The answer to a failed store call. Contention the store could not resolve by running its
/// transaction again is the cloud's `OperationConflict` (409: the client may retry), never a
/// 5xx; everything else is `InternalError`, its detail in the log only.
pub(crate) fn store_failure(error: StoreError) -> ApiError {
    match error {
        StoreError::Contended(_) => {
            tracing::warn!(%error, "request refused for contention");
            ApiError::operation_conflict()
        }
        other => internal(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contention_is_a_conflict_and_nothing_else_is() {
        // issue: contention
        let conflict = store_failure(StoreError::Contended(5));
        assert_eq!(
            (
                conflict.status,
                conflict.code.as_ref(),
                conflict.message.as_str()
            ),
            (
                409,
                "OperationConflict",
                "Request was denied due to conflict with a previous request."
            )
        );
        let corrupt = store_failure(StoreError::Corrupt("config of mt-1".into()));
        assert_eq!(
            (corrupt.status, corrupt.code.as_ref()),
            (500, "InternalError")
        );
        assert!(
            !corrupt.message.contains("mt-1"),
            "the detail stays in the log"
        );
    }
}
