//! A request's handler run on the request's own task until the reply is
//! decided, rather than spawned as a task of its own: the usual call (a
//! handler that sends nothing before its result) then costs no task, no
//! wake-up of another worker and no hop back. When the reply is decided
//! with the handler still running (its first message turned the reply into
//! an SSE stream), or the request is dropped (the client left), the handler
//! moves to a task of its own, carrying the request's access record and
//! span, and runs on as it would have from the start.
//!
//! A handler that panics is caught here, as a task's panic would be by
//! the runtime: it ends, dropping what it held, and the request answers
//! for it.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use futures_util::FutureExt;
use switchboard_observe::access::{self, Carry};

type Handler = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A handler running on the request's task (see the module's header).
pub(crate) struct Inline {
    handler: Option<Handler>,
    /// The request's record and span, for the task it may move to.
    carry: Option<Carry>,
}

impl Inline {
    /// `handler`, not started yet; the current request's record and span
    /// go with it if it moves.
    pub(crate) fn new(handler: impl Future<Output = ()> + Send + 'static) -> Self {
        let caught = AssertUnwindSafe(handler).catch_unwind().map(drop);
        Self {
            handler: Some(Box::pin(caught)),
            carry: Some(access::carry()),
        }
    }

    /// Run the handler until `decided` is ready (or the handler ends, and
    /// then until `decided` is); a handler still running then moves to a
    /// task of its own.
    pub(crate) async fn until<T>(mut self, decided: impl Future<Output = T>) -> T {
        let mut decided = std::pin::pin!(decided);
        std::future::poll_fn(|cx| {
            if let Some(h) = self.handler.as_mut()
                && h.as_mut().poll(cx).is_ready()
            {
                self.handler = None;
            }
            decided.as_mut().poll(cx)
        })
        .await
        // `self` drops here: a handler still running moves.
    }
}

impl Drop for Inline {
    fn drop(&mut self) {
        let (Some(handler), Some(carry)) = (self.handler.take(), self.carry.take()) else {
            return;
        };
        // Outside a runtime (its shutdown) there is nowhere to move to: the
        // handler is dropped, as the runtime drops its tasks then.
        if tokio::runtime::Handle::try_current().is_ok() {
            carry.spawn(handler);
        }
    }
}
