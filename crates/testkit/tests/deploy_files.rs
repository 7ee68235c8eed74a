//! The Grafana dashboard (`deploy/grafana/switchboard.json`) and the
//! Prometheus rules (`deploy/prometheus/alerts.yml`) name only metric series
//! a real server exposes: a gateway with an upstream serves some traffic,
//! and every `switchboard_…` name in both files must be a sample name of
//! its `/metrics`. So neither can silently rot when a family is renamed.
//!
//! The example node configuration (`deploy/switchboard-node.toml`) loads,
//! and docs/deployment.md quotes it and the load balancer config
//! (`deploy/nginx/switchboard.conf`) as they are: the page shows the files
//! `scripts/cluster.sh` runs.

use crate::fixture_upstream;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_server::{Config, Rules, StoreKind, TenantConfig};
use switchboard_testkit::TestServer;
use switchboard_upstream::gateway::StdioProvider;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `switchboard_…` identifier in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("switchboard_") {
        let before = rest[..at].chars().next_back();
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// The dashboard's queries, after checking its shape: panels with unique
/// ids, every non-row panel titled with at least one query.
fn dashboard_queries() -> Vec<String> {
    let d: Value = serde_json::from_str(&read("deploy/grafana/switchboard.json"))
        .expect("the dashboard is JSON");
    assert_eq!(d["uid"], "switchboard");
    let panels = d["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    let mut queries = Vec::new();
    for p in panels {
        assert!(
            ids.insert(p["id"].as_u64().expect("a panel id")),
            "ids unique"
        );
        assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()), "{p}");
        if p["type"] == "row" {
            continue;
        }
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{}", p["title"]);
        for t in targets {
            queries.push(t["expr"].as_str().expect("expr").to_owned());
        }
    }
    assert!(queries.len() >= 20, "{} queries", queries.len());
    queries
}

/// The alert rules' text, after a light check of its shape (a YAML parser
/// would be a dependency for one test): one group list, each rule named
/// with an expression, a duration and a severity.
fn alert_rules() -> String {
    let text = read("deploy/prometheus/alerts.yml");
    assert!(text.lines().any(|l| l == "groups:"));
    assert!(!text.contains('\t'), "YAML takes no tabs");
    let count = |key: &str| {
        text.lines()
            .filter(|l| l.trim_start().starts_with(key))
            .count()
    };
    let alerts = count("- alert: ");
    assert!(alerts >= 6, "{alerts} alerts");
    for key in ["expr: ", "for: ", "severity: ", "summary: "] {
        assert_eq!(count(key), alerts, "each alert has {key}");
    }
    text
}

/// The sample names of a `/metrics` scrape.
fn sample_names(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// A gateway with an upstream, a tenant that may not call one of its
/// tools, and traffic that makes every family show a sample.
async fn scrape_busy_server() -> String {
    let provider = Arc::new(StdioProvider::new(fixture_upstream::fixture("up")));
    provider.probe().await.expect("upstream starts");
    let config = Config {
        tenants: vec![TenantConfig {
            id: "anonymous".into(),
            tools: Rules {
                allow: vec!["*".into()],
                deny: vec!["up__hang".into()],
            },
            ..TenantConfig::default()
        }],
        ..Config::default()
    };
    let server = TestServer::with(
        config,
        switchboard_everything::everything().provider(provider),
    )
    .await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let stream = c.get().send().await.unwrap();
    assert_eq!(stream.status(), 200);
    c.call_tool("echo", json!({"message": "m"})).await;
    let counted = fixture_upstream::call(&c, "up__count", json!({})).await;
    assert!(counted.get("result").is_some(), "{counted}");
    // An upstream error, and a tool the tenant may not call.
    let unknown = fixture_upstream::call(&c, "up__no_such_tool", json!({})).await;
    assert!(unknown.get("error").is_some(), "{unknown}");
    let denied = fixture_upstream::call(&c, "up__hang", json!({})).await;
    assert!(denied.get("error").is_some(), "{denied}");
    let resp = reqwest::get(format!("http://{}/metrics", server.addr))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    drop(stream);
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_and_alerts_name_only_exposed_series() {
    let queries = dashboard_queries();
    let rules = alert_rules();
    let exposed = sample_names(&scrape_busy_server().await);
    let mut wanted = metric_names(&queries.join("\n"));
    let from_rules = metric_names(&rules);
    assert!(from_rules.contains("switchboard_capacity_ratio"));
    assert!(from_rules.contains("switchboard_upstream_breaker_state"));
    assert!(from_rules.contains("switchboard_ready"));
    wanted.extend(from_rules);
    let missing: Vec<&String> = wanted.iter().filter(|n| !exposed.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "named in deploy/ but not exposed: {missing:?}\nexposed: {exposed:?}"
    );
}

#[test]
fn names_are_found_whole() {
    let names = metric_names("rate(switchboard_requests_total{a=\"b\"}[5m]) / x_switchboard_no");
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        vec!["switchboard_requests_total"]
    );
}

/// Both example files appear whole, each as the body of a code block.
#[test]
fn the_deployment_page_quotes_the_example_files() {
    let page = read("docs/deployment.md");
    for file in [
        "deploy/switchboard-node.toml",
        "deploy/nginx/switchboard.conf",
    ] {
        let block = format!("\n{}```\n", read(file));
        assert!(
            page.contains(&block),
            "docs/deployment.md does not quote {file} as it is"
        );
    }
}

/// The node's file alone (no environment) is a valid Redis-backed node
/// with its tenant.
#[test]
fn the_example_node_config_loads() {
    let path = format!("{ROOT}/deploy/switchboard-node.toml");
    let config = Config::load(Some(std::path::Path::new(&path)), [])
        .unwrap_or_else(|e| panic!("deploy/switchboard-node.toml: {e}"));
    assert_eq!(config.store, StoreKind::Redis);
    assert!(config.redis_url.is_some());
    assert_eq!(config.allowed_hosts, ["mcp.example.com"]);
    assert_eq!(config.tenants.len(), 1);
    assert_eq!(config.tenants[0].api_keys.len(), 1);
}
