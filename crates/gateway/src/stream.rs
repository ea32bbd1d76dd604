//! A streamed answer on its way to the caller: each piece is counted and passed on as it
//! arrives, never buffered; when the stream ends — or the caller goes away mid-stream, which
//! drops it — the call settles for what was produced.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use domain::credits::Rate;
use futures_util::Stream;

use crate::meter::{Charge, Hold};
use crate::usage::Counter;

type Pieces = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

pub struct Metered {
    pieces: Pieces,
    counter: Counter,
    /// Until settled.
    open: Option<(Hold, Charge)>,
    rate: Rate,
}

impl Metered {
    pub fn new(
        pieces: impl Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
        counter: Counter,
        hold: Hold,
        charge: Charge,
        rate: Rate,
    ) -> Metered {
        Metered {
            pieces: Box::pin(pieces),
            counter,
            open: Some((hold, charge)),
            rate,
        }
    }

    fn finish(&mut self) {
        if let Some((hold, charge)) = self.open.take() {
            settle(hold, charge, &self.counter, &self.rate);
        }
    }
}

/// Settles `hold` for what `counter` counted.
pub fn settle(hold: Hold, charge: Charge, counter: &Counter, rate: &Rate) {
    let counted = counter.counted();
    hold.settle(charge, counted, rate.cost(counted.usage));
}

impl Stream for Metered {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.pieces.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(piece))) => {
                self.counter.stream(&piece);
                Poll::Ready(Some(Ok(piece)))
            }
            Poll::Ready(Some(Err(error))) => {
                // The upstream broke off: charge what it produced, end the caller's stream.
                tracing::warn!(%error, "gateway: upstream stream broke off");
                self.finish();
                Poll::Ready(Some(Err(std::io::Error::other(
                    "the upstream stream broke off",
                ))))
            }
            Poll::Ready(None) => {
                self.finish();
                Poll::Ready(None)
            }
        }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.finish();
    }
}
