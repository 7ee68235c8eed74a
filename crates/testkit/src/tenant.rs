//! Tenants for tests that turn anonymous access off.

use switchboard_server::{ApiKeyConfig, TenantConfig};

/// A tenant `id` with one fresh API key named `key_id`: its configuration
/// entry (holding only the key's digest) and the key itself.
pub fn tenant_with_key(id: &str, key_id: &str) -> (TenantConfig, String) {
    let (key, sha256) = switchboard_auth::new_api_key();
    let config = TenantConfig {
        id: id.into(),
        api_keys: vec![ApiKeyConfig {
            id: key_id.into(),
            sha256,
        }],
        ..TenantConfig::default()
    };
    (config, key)
}
