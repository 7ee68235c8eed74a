//! One tenant's flood of server events costs another tenant none of its
//! own: while tenant `noisy` publishes resource updates without pause (its
//! GET streams never read), tenant `quiet`'s GET stream hears every update
//! of the resources it subscribed to, once each, in order. Counted, not
//! timed (`switchboard_testkit::flood`).

use switchboard_server::{AnonymousMode, ApiKeyConfig, Config, TenantConfig};
use switchboard_testkit::flood::{Flood, QUIET_EVENTS, doc, quiet_tenant_hears};
use switchboard_testkit::{McpClient, TestServer};

/// Sessions of the noisy tenant with a GET stream on the flooded resource.
const NOISY_SESSIONS: usize = 8;

fn tenant(id: &str, config: &mut Config) -> String {
    let (key, sha256) = switchboard_auth::new_api_key();
    config.tenants.push(TenantConfig {
        id: id.into(),
        api_keys: vec![ApiKeyConfig {
            id: "agent".into(),
            sha256,
        }],
        ..TenantConfig::default()
    });
    key
}

async fn session(url: &str, key: &str) -> McpClient {
    let mut c = McpClient::with_token(url, key);
    c.initialize(serde_json::json!({})).await;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_tenant_costs_a_quiet_one_no_event() {
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    let quiet_key = tenant("quiet", &mut config);
    let noisy_key = tenant("noisy", &mut config);
    let flood = Flood::default();
    let catalog = flood.catalog(switchboard_everything::everything());
    let server = TestServer::with(config, catalog).await;

    let quiet = session(&server.url(), &quiet_key).await;
    let mut noisy = Vec::new();
    for _ in 0..NOISY_SESSIONS {
        noisy.push(session(&server.url(), &noisy_key).await);
    }
    let flooder = session(&server.url(), &noisy_key).await;
    let heard = quiet_tenant_hears(&flood, &quiet, &server.url(), &noisy, flooder).await;

    let produced: Vec<String> = (0..QUIET_EVENTS).map(doc).collect();
    assert_eq!(
        heard.uris,
        produced,
        "the quiet stream heard {} of the {} events produced for it (the flood published {})",
        heard.uris.len(),
        produced.len(),
        heard.flood_events
    );
}
