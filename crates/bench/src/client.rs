//! A virtual MCP client: one connection, at most one session, one request
//! at a time, each bounded by the per-request timeout.

use std::sync::Arc;

use http::{HeaderValue, Method, Response};
use hyper::body::Incoming;

use crate::args::Era;
use crate::http::{Link, Req, post, request, with};
use crate::payload::{MODERN, Payload, Plan};
use crate::reply::{self, Answer};
use crate::stats::ErrorKind;

/// A session of the session-based era.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// `None` if the server answered `initialize` without a session id.
    pub id: Option<HeaderValue>,
    /// The negotiated protocol version.
    pub version: HeaderValue,
}

/// A held SSE stream: its own connection and its body.
#[derive(Debug)]
pub(crate) struct Stream {
    /// Kept so the connection is not told to close while the body is held.
    pub _link: Link,
    pub body: Incoming,
}

#[derive(Debug)]
pub(crate) struct Client {
    plan: Arc<Plan>,
    link: Link,
    pub session: Option<Session>,
    next_id: u64,
    /// The `Retry-After` (seconds) of the last answer that had one, until
    /// taken.
    pub retry_after: Option<std::time::Duration>,
}

impl Client {
    pub(crate) fn new(plan: Arc<Plan>) -> Self {
        let link = Link::new(plan.target.addr);
        Self {
            plan,
            link,
            session: None,
            next_id: 1,
            retry_after: None,
        }
    }

    pub(crate) fn era(&self) -> Era {
        self.plan.era
    }

    /// Legacy: initialize and send `notifications/initialized`. Modern: nothing.
    pub(crate) async fn open(&mut self) -> Result<(), ErrorKind> {
        if self.plan.era == Era::Modern {
            return Ok(());
        }
        self.session = None;
        let req = post(&self.plan.target, self.plan.initialize.body(Some(0)));
        let answer = self.message(req).await?;
        let id = answer
            .session
            .map(|s| HeaderValue::from_str(&s))
            .transpose()
            .map_err(|_| ErrorKind::BadReply)?;
        let version = answer.version.unwrap_or_else(|| self.plan.version.clone());
        let version = HeaderValue::from_str(&version).map_err(|_| ErrorKind::BadReply)?;
        self.session = Some(Session { id, version });
        let req = self.post(&self.plan.initialized, None);
        match self.status(req).await? {
            200..=299 => Ok(()),
            status => Err(ErrorKind::from_status(status)),
        }
    }

    /// Call the run's tool.
    pub(crate) async fn call(&mut self) -> Result<(), ErrorKind> {
        let plan = Arc::clone(&self.plan);
        let payload = plan.call.as_ref().ok_or(ErrorKind::BadReply)?;
        self.send(payload).await
    }

    /// `ping` (modern era: `tools/list`).
    pub(crate) async fn probe(&mut self) -> Result<(), ErrorKind> {
        let plan = Arc::clone(&self.plan);
        self.send(&plan.probe).await
    }

    /// Legacy: DELETE the session (405, "not supported", counts as done).
    pub(crate) async fn close(&mut self) -> Result<(), ErrorKind> {
        let session = self.session.take();
        if session.as_ref().is_none_or(|s| s.id.is_none()) {
            return Ok(());
        }
        let req = request(&self.plan.target, Method::DELETE, Default::default());
        let req = Self::session_headers(session.as_ref(), req);
        match self.status(req).await? {
            200..=299 | 405 => Ok(()),
            status => Err(ErrorKind::from_status(status)),
        }
    }

    /// A client with the same session on a connection of its own.
    pub(crate) fn fork(&self) -> Client {
        Client {
            session: self.session.clone(),
            ..Client::new(Arc::clone(&self.plan))
        }
    }

    /// Turn this client's connection into a stream: GET in the session era,
    /// `subscriptions/listen` in the modern era.
    pub(crate) async fn stream(self) -> Result<Stream, ErrorKind> {
        let req = match self.plan.era {
            Era::Legacy => {
                let req = request(&self.plan.target, Method::GET, Default::default());
                let req = with(req, "accept", HeaderValue::from_static("text/event-stream"));
                Self::session_headers(self.session.as_ref(), req)
            }
            Era::Modern => self.post(&self.plan.listen, Some(1)),
        };
        let mut link = self.link;
        let resp = tokio::time::timeout(self.plan.timeout, link.send(req))
            .await
            .map_err(|_| ErrorKind::Timeout)??;
        let status = resp.status().as_u16();
        let sse = resp
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        match (status, sse) {
            (200, true) => Ok(Stream {
                _link: link,
                body: resp.into_body(),
            }),
            (200, false) => Err(ErrorKind::BadReply),
            _ => Err(ErrorKind::from_status(status)),
        }
    }

    async fn send(&mut self, payload: &Payload) -> Result<(), ErrorKind> {
        let id = self.next_id;
        self.next_id += 1;
        let req = self.post(payload, Some(id));
        self.message(req).await.map(drop)
    }

    /// A POST of `payload` with the headers of the era and session.
    fn post(&self, payload: &Payload, id: Option<u64>) -> Req {
        let req = post(&self.plan.target, payload.body(id));
        match self.plan.era {
            Era::Legacy => Self::session_headers(self.session.as_ref(), req),
            Era::Modern => {
                let req = with(
                    req,
                    "mcp-protocol-version",
                    HeaderValue::from_static(MODERN),
                );
                let req = with(req, "mcp-method", payload.method.clone());
                match &payload.name {
                    Some(name) => with(req, "mcp-name", name.clone()),
                    None => req,
                }
            }
        }
    }

    fn session_headers(session: Option<&Session>, req: Req) -> Req {
        let Some(session) = session else {
            return req;
        };
        let req = with(req, "mcp-protocol-version", session.version.clone());
        match &session.id {
            Some(id) => with(req, "mcp-session-id", id.clone()),
            None => req,
        }
    }

    async fn message(&mut self, req: Req) -> Result<Answer, ErrorKind> {
        self.exchange(req, reply::message).await
    }

    async fn status(&mut self, req: Req) -> Result<u16, ErrorKind> {
        self.exchange(req, reply::status).await
    }

    /// Send and read within the timeout; a timed-out connection is dropped.
    async fn exchange<T, F>(
        &mut self,
        req: Req,
        read: fn(Response<Incoming>) -> F,
    ) -> Result<T, ErrorKind>
    where
        F: Future<Output = Result<T, ErrorKind>>,
    {
        let link = &mut self.link;
        let retry = &mut self.retry_after;
        let done = tokio::time::timeout(self.plan.timeout, async move {
            let resp = link.send(req).await?;
            if let Some(secs) = resp
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            {
                *retry = Some(std::time::Duration::from_secs(secs));
            }
            read(resp).await
        })
        .await;
        match done {
            Ok(result) => result,
            Err(_) => {
                self.link.reset();
                Err(ErrorKind::Timeout)
            }
        }
    }
}
