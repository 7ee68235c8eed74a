//! A reply to one of our exchanges, whichever client carried it: reqwest
//! (GET streams, DELETE, https upstreams) or our own HTTP/1.1 connections
//! (POSTs to a plain `http://` upstream, `h1`).

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, HeaderMap};

use super::exchange::describe;
use super::h1::H1Reply;

/// A reply: its head, and its body read piece by piece.
pub(crate) enum Answer {
    Reqwest(reqwest::Response),
    H1(H1Reply),
}

impl From<reqwest::Response> for Answer {
    fn from(r: reqwest::Response) -> Self {
        Answer::Reqwest(r)
    }
}

impl Answer {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Answer::Reqwest(r) => r.status(),
            Answer::H1(r) => r.head.status,
        }
    }

    pub(crate) fn headers(&self) -> &HeaderMap {
        match self {
            Answer::Reqwest(r) => r.headers(),
            Answer::H1(r) => &r.head.headers,
        }
    }

    /// The body's length, if the server said it.
    pub(crate) fn content_length(&self) -> Option<u64> {
        let value = self.headers().get(CONTENT_LENGTH)?;
        value.to_str().ok()?.parse().ok()
    }

    /// The next piece of the body; `None` at its end.
    pub(crate) async fn chunk(&mut self) -> Option<Result<Bytes, String>> {
        match self {
            Answer::Reqwest(r) => r.chunk().await.map_err(|e| describe(&e)).transpose(),
            Answer::H1(r) => Some(r.chunk().await?.map_err(|e| e.to_string())),
        }
    }
}
