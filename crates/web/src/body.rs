//! Request bodies buffered under three bounds: the surface's size limit (refused before a byte is
//! read when `Content-Length` already exceeds it), a deadline for the whole body, and a budget
//! of body bytes in flight across the process, so that many slow or large uploads cannot grow
//! the server without bound. Budget is held until the buffered body is dropped.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Body as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{Failure, Limits};

/// The body bounds of one server, in every request's extensions.
#[derive(Debug, Clone)]
pub struct BodyLimits {
    budget: Arc<Semaphore>,
    budget_bytes: usize,
    timeout: Duration,
}

impl BodyLimits {
    pub fn new(limits: &Limits) -> BodyLimits {
        // Permits are taken with `acquire_many` (u32); a budget beyond that is of no use.
        let budget_bytes = limits.body_budget.min(u32::MAX as usize);
        BodyLimits {
            budget: Arc::new(Semaphore::new(budget_bytes)),
            budget_bytes,
            timeout: limits.body_timeout,
        }
    }

    /// The bounds the stack put in `request`, or the defaults outside the stack (tests calling a
    /// router directly).
    pub fn of<B>(request: &axum::http::Request<B>) -> BodyLimits {
        request
            .extensions()
            .get::<BodyLimits>()
            .cloned()
            .unwrap_or_else(|| BodyLimits::new(&Limits::default()))
    }

    /// Budget left, in bytes (for tests and metrics).
    pub fn available(&self) -> usize {
        self.budget.available_permits()
    }
}

/// A buffered body; its share of the budget is returned when it is dropped.
#[derive(Debug)]
pub struct Buffered {
    bytes: Bytes,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Deref for Buffered {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Reads `body` whole, at most `max` bytes.
///
/// Errors: [`Failure::BodyTooLarge`] (declared or actual size over `max`), [`Failure::BodyTimeout`]
/// (not all there in time), [`Failure::Busy`] (no budget freed in time), [`Failure::Protocol`]
/// 400 (the client broke the body off or framed it wrongly).
pub async fn read(body: Body, limits: &BodyLimits, max: usize) -> Result<Buffered, Failure> {
    let max = max.min(limits.budget_bytes);
    let deadline = tokio::time::Instant::now() + limits.timeout;
    match tokio::time::timeout_at(deadline, read_within(body, limits, max, deadline)).await {
        Ok(result) => result,
        Err(_) => Err(Failure::BodyTimeout),
    }
}

async fn read_within(
    mut body: Body,
    limits: &BodyLimits,
    max: usize,
    deadline: tokio::time::Instant,
) -> Result<Buffered, Failure> {
    let hint = body.size_hint();
    if usize::try_from(hint.lower()).map_or(true, |lower| lower > max) {
        return Err(Failure::BodyTooLarge(max));
    }
    let declared = hint.exact().and_then(|n| usize::try_from(n).ok());
    if declared == Some(0) {
        return Ok(Buffered {
            bytes: Bytes::new(),
            _permit: None,
        });
    }
    let mut permit = match declared {
        Some(len) => Some(reserve(limits, len, deadline).await?),
        None => None,
    };
    let mut buffer = BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Failure::Protocol(axum::http::StatusCode::BAD_REQUEST))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buffer.len() + data.len() > max {
            return Err(Failure::BodyTooLarge(max));
        }
        if declared.is_none() {
            let more = reserve(limits, data.len(), deadline).await?;
            match permit.as_mut() {
                Some(held) => held.merge(more),
                None => permit = Some(more),
            }
        }
        buffer.extend_from_slice(&data);
    }
    Ok(Buffered {
        bytes: buffer.freeze(),
        _permit: permit,
    })
}

/// Takes `bytes` of the budget, waiting until `deadline` for other bodies to return theirs.
async fn reserve(
    limits: &BodyLimits,
    bytes: usize,
    deadline: tokio::time::Instant,
) -> Result<OwnedSemaphorePermit, Failure> {
    let count = u32::try_from(bytes).map_err(|_| Failure::BodyTooLarge(limits.budget_bytes))?;
    let acquire = limits.budget.clone().acquire_many_owned(count);
    match tokio::time::timeout_at(deadline, acquire).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) | Err(_) => Err(Failure::Busy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(budget: usize, timeout_ms: u64) -> BodyLimits {
        BodyLimits::new(&Limits {
            body_budget: budget,
            body_timeout: Duration::from_millis(timeout_ms),
            ..Limits::default()
        })
    }

    #[tokio::test]
    async fn a_body_within_bounds_is_read_and_its_budget_returned() {
        let limits = limits(100, 1000);
        let body = read(Body::from("hello"), &limits, 10).await;
        assert_eq!(body.as_deref().ok(), Some(&b"hello"[..]));
        assert_eq!(limits.available(), 95);
        drop(body);
        assert_eq!(limits.available(), 100);
    }

    #[tokio::test]
    async fn a_declared_size_over_the_limit_is_refused_unread() {
        let result = read(Body::from(vec![0u8; 11]), &limits(100, 1000), 10).await;
        assert_eq!(result.err(), Some(Failure::BodyTooLarge(10)));
    }

    #[tokio::test]
    async fn a_streamed_body_over_the_limit_is_refused() {
        let chunks = futures_util::stream::iter(
            (0..5).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(b"abcd"))),
        );
        let result = read(Body::from_stream(chunks), &limits(100, 1000), 10).await;
        assert_eq!(result.err(), Some(Failure::BodyTooLarge(10)));
    }

    #[tokio::test]
    async fn a_body_that_does_not_arrive_in_time_is_cut() {
        let never = futures_util::stream::pending::<Result<Bytes, std::io::Error>>();
        let result = read(Body::from_stream(never), &limits(100, 50), 10).await;
        assert_eq!(result.err(), Some(Failure::BodyTimeout));
    }

    #[tokio::test]
    async fn bodies_wait_for_budget_and_give_up_at_their_deadline() {
        let limits = limits(8, 50);
        let held = read(Body::from("12345678"), &limits, 8).await;
        assert!(held.is_ok());
        let result = read(Body::from("x"), &limits, 8).await;
        assert_eq!(result.err(), Some(Failure::Busy));
        drop(held);
        assert!(read(Body::from("x"), &limits, 8).await.is_ok());
    }
}
