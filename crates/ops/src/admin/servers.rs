//! `GET /admin/v1/servers`: the virtual servers (`[[servers]]`) — name,
//! endpoint path, hosts, server info, the tools, resources and prompts
//! they serve (globs) and the tenants they admit.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::json;

use super::{Admin, reply};

pub(super) async fn list(State(admin): State<Admin>) -> Response {
    let tenants = admin.ops.gate().tenants();
    let servers: Vec<_> = tenants.servers().map(|s| s.describe()).collect();
    reply(StatusCode::OK, &json!({ "servers": servers }))
}
