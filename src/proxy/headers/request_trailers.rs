//! Request trailers never reach an upstream.
//!
//! An HTTP/1.1 chunked body (or an HTTP/2 stream) may end in trailer fields, which the
//! gate's header hygiene never sees: hyper hands them on as a body frame, and an HTTP/2
//! upstream receives them as a second header block, identity headers included
//! (`X-Auth-Request-User: root` after the body). No upstream the gate fronts needs
//! request trailers, so the body the upstream gets is the client's data without them.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use hyper::body::{Body, Frame, SizeHint};

/// A request body with its trailer frames dropped.
#[derive(Debug)]
pub struct WithoutTrailers<B> {
    inner: B,
}

impl<B> WithoutTrailers<B> {
    pub fn new(inner: B) -> Self {
        WithoutTrailers { inner }
    }
}

impl<B> Body for WithoutTrailers<B>
where
    B: Body + Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        loop {
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) if frame.is_trailers() => {
                    tracing::debug!("request trailers dropped");
                }
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
