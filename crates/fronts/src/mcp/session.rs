//! DELETE `/mcp`: end a session.

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use switchboard_http::PeerAddr;
use switchboard_http::era::{self, Era};
use switchboard_http::error::TransportError;
use switchboard_http::guard;

use crate::Fronts;

/// DELETE `/mcp`: end the session; later use of its id gets 404.
pub(crate) async fn delete(
    State(app): State<Fronts>,
    peer: Option<Extension<PeerAddr>>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        app.hosts().check(&headers)?;
        let who = app
            .gate()
            .authenticate(&headers, &switchboard_http::client::identity(peer))
            .await?;
        if era::decide(&headers) == Era::Modern {
            return Err(TransportError::MethodNotAllowed); // nothing to delete in the stateless era
        }
        let id = guard::session_id(&headers)?.ok_or(TransportError::MissingSession)?;
        let record = app
            .sessions()
            .store()
            .load(id)
            .await?
            .ok_or(TransportError::UnknownSession)?;
        app.sessions().check_binding(&record, &who)?;
        app.sessions().end_session(id).await?;
        tracing::debug!(session = %switchboard_observe::ids::short(id), "session deleted by client");
        Ok(StatusCode::OK.into_response())
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
