//! The connection as hyper sees it, with two duties hyper has no hook for:
//!
//! - hyper answers HTTP it cannot parse (a bad request line, header or `Content-Length`, a URI
//!   or a head too large) by itself, with an empty body, then closes. Every client of amc expects
//!   an error body it can read (the SDKs fail on an empty one), so such an answer is replaced on
//!   its way out by the same status with the default dialect's body. It is recognised by what no
//!   surface ever sends: an error status with `content-length: 0` and no content type.
//! - a write that makes no progress for [`Limits::write_timeout`](crate::Limits) fails, so a
//!   client that stops reading cannot hold a connection and its buffers forever.
//!
//! It also tells the connection's [`Activity`] when an answer has been written out, which is
//! when the connection may count as idle again.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::connections::Activity;
use crate::{Dialect, Failure, RequestId};

pub(crate) struct Guarded<IO> {
    io: IO,
    activity: Arc<Activity>,
    dialect: Arc<dyn Dialect>,
    write_timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
    /// A replacement answer being written, and how much of it is out.
    replacement: Option<(Vec<u8>, usize)>,
}

impl<IO> Guarded<IO> {
    pub(crate) fn new(
        io: IO,
        activity: Arc<Activity>,
        dialect: Arc<dyn Dialect>,
        write_timeout: Duration,
    ) -> Self {
        Guarded {
            io,
            activity,
            dialect,
            write_timeout,
            stalled: None,
            replacement: None,
        }
    }
}

/// The status of an answer hyper made up for a request it could not parse, if `buf` is one.
fn automatic_error(buf: &[u8]) -> Option<StatusCode> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ")?;
    let status = StatusCode::from_bytes(rest.get(..3)?).ok()?;
    if !matches!(status.as_u16(), 400 | 414 | 431) {
        return None;
    }
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = buf[..end + 2].to_ascii_lowercase();
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    (has(b"\r\ncontent-length: 0\r\n") && !has(b"\r\ncontent-type:")).then_some(status)
}

/// A whole HTTP/1.1 answer with the dialect's body for `status`; the connection closes after it.
pub(crate) fn error_answer(dialect: &dyn Dialect, failure: Failure) -> Vec<u8> {
    let rendered = dialect.render(failure, RequestId::new().as_str());
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        rendered.status.as_u16(),
        rendered.status.canonical_reason().unwrap_or(""),
        rendered.content_type,
        rendered.body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&rendered.body);
    answer
}

impl<IO: AsyncWrite + Unpin> Guarded<IO> {
    /// Fails once writes have been pending for longer than the write timeout.
    fn check_stall(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let timeout = self.write_timeout;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if timer.as_mut().poll(cx).is_ready() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ));
        }
        Ok(())
    }

    fn track<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match poll {
            Poll::Pending => match self.check_stall(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.activity.wrote();
        if this.replacement.is_none()
            && let Some(status) = automatic_error(buf)
        {
            let answer = error_answer(this.dialect.as_ref(), Failure::Protocol(status));
            this.replacement = Some((answer, 0));
        }
        let Some((answer, written)) = this.replacement.as_mut() else {
            let poll = Pin::new(&mut this.io).poll_write(cx, buf);
            return this.track(cx, poll);
        };
        // Write the replacement whole, then tell hyper its own answer went out.
        while *written < answer.len() {
            let poll = Pin::new(&mut this.io).poll_write(cx, &answer[*written..]);
            let n = match poll {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    return match this.check_stall(cx) {
                        Ok(()) => Poll::Pending,
                        Err(e) => Poll::Ready(Err(e)),
                    };
                }
            };
            *written += n;
            this.stalled = None;
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // hyper flushes the socket once its own buffer is empty: the answer is all out.
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        if let Poll::Ready(Ok(())) = poll {
            self.activity.flushed();
        }
        self.track(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
        Poll::Ready(poll)
    }

    // Not vectored: hyper then flattens each answer into one buffer, which `automatic_error`
    // can read whole.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_answers_to_unparsable_requests_are_recognised() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 04:00:00 GMT\r\n\r\n";
        assert_eq!(
            automatic_error(hyper),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        let bad = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(automatic_error(bad), Some(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn answers_of_surfaces_are_left_alone() {
        let surface = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(automatic_error(surface), None);
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(automatic_error(with_body), None);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(automatic_error(ok), None);
        assert_eq!(automatic_error(b"{\"Code\":\"x\"}"), None);
    }
}
