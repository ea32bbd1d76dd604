//! Request bodies buffered under three bounds: the surface's size limit (refused before a byte is
//! read when `Content-Length` already exceeds it), a deadline for the whole body, and a budget
//! of body bytes in flight across the process, so that many slow or large uploads cannot grow
//! the server without bound. Budget is held until the buffered body is dropped.
//!
//! A surface that learns who is calling only from the first bytes of a body (a signature in a
//! form body) reads those with [`Reader::read_more`], outside the budget, and the rest with
//! [`Reader::finish`] once the caller is known: a caller refused on its first bytes never has
//! its body buffered.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Body as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

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
    Reader::new(body, limits, max)?.finish().await
}

/// A body being read: first, if the caller needs them, its first bytes outside the budget, then
/// the whole of it under the budget. The deadline counts from [`Reader::new`].
#[derive(Debug)]
pub struct Reader {
    body: Body,
    limits: BodyLimits,
    max: usize,
    /// `Content-Length`, when the client declared one.
    declared: Option<usize>,
    deadline: Instant,
    buffer: BytesMut,
    ended: bool,
}

impl Reader {
    /// Starts reading `body`, at most `max` bytes; a declared size over `max` is refused here,
    /// before a byte is read.
    pub fn new(body: Body, limits: &BodyLimits, max: usize) -> Result<Reader, Failure> {
        let max = max.min(limits.budget_bytes);
        let hint = body.size_hint();
        if usize::try_from(hint.lower()).map_or(true, |lower| lower > max) {
            return Err(Failure::BodyTooLarge(max));
        }
        let declared = hint.exact().and_then(|n| usize::try_from(n).ok());
        Ok(Reader {
            ended: declared == Some(0) || body.is_end_stream(),
            body,
            limits: limits.clone(),
            max,
            declared,
            deadline: Instant::now() + limits.timeout,
            buffer: BytesMut::new(),
        })
    }

    /// What has arrived so far.
    pub fn buffered(&self) -> &[u8] {
        &self.buffer
    }

    /// Whether the whole body has arrived.
    pub fn is_complete(&self) -> bool {
        self.ended
    }

    /// Reads the next piece of the body as it comes off the connection, outside the budget:
    /// for a caller that must see the first bytes before it may read on, and stops after a few
    /// KiB. Does nothing once the body is complete.
    pub async fn read_more(&mut self) -> Result<(), Failure> {
        if let Some(data) = self.next_data().await? {
            self.buffer.extend_from_slice(&data);
        }
        Ok(())
    }

    /// Reads the rest of the body under the budget.
    pub async fn finish(mut self) -> Result<Buffered, Failure> {
        if self.ended && self.buffer.is_empty() {
            return Ok(Buffered {
                bytes: Bytes::new(),
                _permit: None,
            });
        }
        // A declared size is reserved whole before the rest is read: bodies then never hold part
        // of the budget while waiting for more of it.
        let mut permit = reserve(
            &self.limits,
            self.declared.unwrap_or(self.buffer.len()),
            self.deadline,
        )
        .await?;
        if let Some(declared) = self.declared {
            self.buffer
                .reserve(declared.saturating_sub(self.buffer.len()));
        }
        while let Some(data) = self.next_data().await? {
            if self.declared.is_none() {
                permit.merge(reserve(&self.limits, data.len(), self.deadline).await?);
            }
            self.buffer.extend_from_slice(&data);
        }
        Ok(Buffered {
            bytes: self.buffer.freeze(),
            _permit: Some(permit),
        })
    }

    /// The next data frame, `None` at the end of the body.
    async fn next_data(&mut self) -> Result<Option<Bytes>, Failure> {
        while !self.ended {
            let frame = match tokio::time::timeout_at(self.deadline, self.body.frame()).await {
                Err(_) => return Err(Failure::BodyTimeout),
                Ok(None) => {
                    self.ended = true;
                    break;
                }
                Ok(Some(frame)) => frame.map_err(|_| Failure::Protocol(StatusCode::BAD_REQUEST))?,
            };
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            if self.buffer.len() + data.len() > self.max {
                return Err(Failure::BodyTooLarge(self.max));
            }
            if self.body.is_end_stream() {
                self.ended = true;
            }
            return Ok(Some(data));
        }
        Ok(None)
    }
}

/// Takes `bytes` of the budget, waiting until `deadline` for other bodies to return theirs.
async fn reserve(
    limits: &BodyLimits,
    bytes: usize,
    deadline: Instant,
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

    #[tokio::test]
    async fn a_prefix_is_read_outside_the_budget_and_the_rest_under_it() {
        let limits = limits(100, 1000);
        let chunks = futures_util::stream::iter(
            ["AccessKeyId=a&", "Action=b&", "Rest=c"]
                .map(|chunk| Ok::<_, std::io::Error>(Bytes::from_static(chunk.as_bytes()))),
        );
        let mut reader =
            Reader::new(Body::from_stream(chunks), &limits, 50).expect("within limits");
        reader.read_more().await.expect("first piece");
        assert_eq!(reader.buffered(), b"AccessKeyId=a&");
        assert!(!reader.is_complete());
        assert_eq!(limits.available(), 100);
        let body = reader.finish().await.expect("the rest");
        assert_eq!(&*body, b"AccessKeyId=a&Action=b&Rest=c");
        assert_eq!(limits.available(), 100 - body.len());
        drop(body);
        assert_eq!(limits.available(), 100);
    }

    #[tokio::test]
    async fn a_prefix_that_stops_coming_is_cut_at_the_deadline() {
        let never = futures_util::stream::pending::<Result<Bytes, std::io::Error>>();
        let mut reader =
            Reader::new(Body::from_stream(never), &limits(100, 50), 10).expect("within limits");
        assert_eq!(reader.read_more().await.err(), Some(Failure::BodyTimeout));
    }

    #[tokio::test]
    async fn a_declared_size_over_the_limit_is_refused_before_any_prefix() {
        let result = Reader::new(Body::from(vec![0u8; 11]), &limits(100, 1000), 10);
        assert_eq!(result.err(), Some(Failure::BodyTooLarge(10)));
    }
}
