//! Starting Switchboard's own authorization server (`[oauth]`) for a
//! configuration: the resources its tokens may be for (the endpoint and
//! each virtual server's) and every scope its tokens may carry.

use std::sync::Arc;

use switchboard_config::{Config, server_resource_url};
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
    let (Some(o), Some(base)) = (&config.oauth, config.resource_url()) else {
        return Ok(None);
    };
    let servers = config.servers.iter();
    let mut resources = vec![base.clone()];
    resources.extend(servers.map(|s| server_resource_url(&base, &s.name)));
    let scopes = config.scopes_supported();
    let tenants = config.tenants.iter().map(|t| t.id.clone()).collect();
    AuthorizationServer::start(o, resources, scopes, tenants, store, vault)
        .await
        .map(Some)
}
