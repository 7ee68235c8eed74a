//! A JWKS served over HTTP for tests: the body can be swapped and the
//! status forced at runtime, and fetches are counted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use parking_lot::Mutex;
use tokio::sync::oneshot;

/// The path the JWKS is served at.
const PATH: &str = "/jwks.json";

#[derive(Debug)]
struct Shared {
    body: Mutex<String>,
    status: AtomicU16,
    fetches: AtomicUsize,
}

/// An HTTP server on `127.0.0.1` (a free port) serving a JWKS at
/// [`url`](JwksServer::url). Stops when dropped.
#[derive(Debug)]
pub struct JwksServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl JwksServer {
    /// Start serving `jwks_json` on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or if no port can be bound.
    pub async fn start(jwks_json: impl Into<String>) -> Self {
        let shared = Arc::new(Shared {
            body: Mutex::new(jwks_json.into()),
            status: AtomicU16::new(200),
            fetches: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let app = Router::new()
            .route(PATH, get(serve_jwks))
            .with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let stopped = async {
                let _ = rx.await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::warn!(error = %e, "test JWKS server failed");
            }
        });
        Self {
            addr,
            shared,
            shutdown: Some(tx),
        }
    }

    /// The JWKS URL, `http://127.0.0.1:<port>/jwks.json`.
    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }

    /// Serve `jwks_json` from now on.
    pub fn set(&self, jwks_json: impl Into<String>) {
        *self.shared.body.lock() = jwks_json.into();
    }

    /// Answer with `status` from now on (200 serves the JWKS; anything else
    /// an empty body), e.g. 503 to simulate an outage.
    pub fn set_status(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// How many requests for the JWKS were answered so far.
    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn serve_jwks(State(shared): State<Arc<Shared>>) -> axum::response::Response {
    shared.fetches.fetch_add(1, Ordering::SeqCst);
    let status = StatusCode::from_u16(shared.status.load(Ordering::SeqCst))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status != StatusCode::OK {
        return status.into_response();
    }
    let body = shared.body.lock().clone();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
