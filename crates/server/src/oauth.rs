//! Starting Switchboard's own authorization server (`[oauth]`) for a
//! configuration: the resources its tokens may be for (the endpoint and
//! each virtual server's) and the scopes tenants' tools need.

use std::sync::Arc;

use switchboard_config::Config;
use switchboard_identity::Vault;
use switchboard_oauth::AuthorizationServer;
use switchboard_store::EntryStore;

/// The authorization server `config` asks for, if any, keeping its grants
/// in `store` (the store's `oauth` space) and its signing keys in `vault`.
pub async fn oauth_server(
    config: &Config,
    store: Arc<dyn EntryStore>,
    vault: Option<Arc<Vault>>,
) -> Result<Option<Arc<AuthorizationServer>>, String> {
    let Some(o) = &config.oauth else {
        return Ok(None);
    };
    let base = config
        .auth
        .resource_url
        .clone()
        .unwrap_or_else(|| format!("{}/mcp", o.issuer));
    let mut resources = vec![base.clone()];
    resources.extend(
        config
            .servers
            .iter()
            .map(|s| format!("{}/{}", base.trim_end_matches('/'), s.name)),
    );
    let scopes = config
        .tenants
        .iter()
        .flat_map(|t| t.tool_scopes.values().flatten().cloned())
        .collect();
    let tenants = config.tenants.iter().map(|t| t.id.clone()).collect();
    AuthorizationServer::start(o, resources, scopes, tenants, store, vault)
        .await
        .map(Some)
}
