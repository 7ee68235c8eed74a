//! `/admin/v1/tenants/{tenant}/connections`: the grants a tenant's users
//! made for upstreams (`grant = "authorization_code"`) — who, which
//! upstream, since when; never a token — and
//! `DELETE …/connections/{upstream}/{subject}` to forget one (the user
//! signs in again to use the upstream).

use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;
use serde_json::json;
use switchboard_identity::connect;

use super::{Admin, error, reply};

/// The tenant's users' grants.
pub(super) async fn list(State(admin): State<Admin>, Path(tenant): Path<String>) -> Response {
    let ops = &admin.ops;
    if !ops.gate().tenants().has(&tenant) {
        return error(StatusCode::NOT_FOUND, "no such tenant");
    }
    let Some(vault) = ops.vault() else {
        return reply(StatusCode::OK, &json!({ "connections": [] }));
    };
    match connect::connections(vault, &tenant, None).await {
        Ok(list) => reply(StatusCode::OK, &json!({ "connections": list })),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// Forget `subject`'s grant for `upstream`.
pub(super) async fn revoke(
    State(admin): State<Admin>,
    Path((tenant, upstream, subject)): Path<(String, String, String)>,
) -> Response {
    let ops = &admin.ops;
    let Some(vault) = ops.vault() else {
        return error(StatusCode::NOT_FOUND, "no such connection");
    };
    let removed = connect::revoke(vault, &tenant, &subject, &upstream).await;
    for provider in ops.catalog().providers().iter() {
        provider.forget_caller(&tenant, &subject);
    }
    match removed {
        Ok(0) => error(StatusCode::NOT_FOUND, "no such connection"),
        Ok(_) => {
            ops.gate()
                .audit()
                .record(&switchboard_observe::audit::AuditEvent {
                    event: "upstream_grant",
                    tenant: Some(&tenant),
                    principal: Some(&subject),
                    upstream: Some(&upstream),
                    outcome: "revoked_by_admin",
                    ..Default::default()
                });
            reply(StatusCode::OK, &json!({ "revoked": true }))
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}
