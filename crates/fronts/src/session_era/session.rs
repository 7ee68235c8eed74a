//! DELETE `/mcp`: end a session.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use switchboard_http::era::{self, Era};
use switchboard_http::error::TransportError;
use switchboard_http::guard;
use switchboard_session::Sessions;
use switchboard_tenancy::Gate;

use crate::servers::Arrival;

/// DELETE `/mcp`: end the session; later use of its id gets 404. Needs
/// the gate (who is asking) and the sessions, nothing else.
pub(crate) async fn delete(
    State(gate): State<Gate>,
    State(sessions): State<Sessions>,
    arrival: Arrival,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let who = arrival.authenticate(&gate, &headers).await?;
        if era::decide(&headers) == Era::Modern {
            return Err(TransportError::MethodNotAllowed); // nothing to delete in the stateless era
        }
        let id = guard::session_id(&headers)?.ok_or(TransportError::MissingSession)?;
        let record = sessions
            .store()
            .load(id)
            .await?
            .ok_or(TransportError::UnknownSession)?;
        sessions.check_binding(&record, &who)?;
        sessions.end_session(id).await?;
        tracing::debug!(session = %switchboard_observe::ids::short(id), "session deleted by client");
        Ok(StatusCode::OK.into_response())
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
