//! Tools from providers (the gateway's upstreams) merged into one
//! namespace: listed after the catalog's own, routed by name, filtered by
//! tenant policy, a failing provider left out of the list, and told when a
//! session ends.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use switchboard_runtime::{HandlerError, Provider, RequestContext, async_trait};
use switchboard_testkit::TestServer;

#[derive(Debug, Default)]
struct Fake {
    prefix: &'static str,
    fail: bool,
    ended: Mutex<Vec<String>>,
}

#[async_trait]
impl Provider for Fake {
    fn name(&self) -> &str {
        self.prefix
    }

    fn owns_tool(&self, tool: &str) -> bool {
        tool.starts_with(self.prefix)
    }

    async fn list_tools(&self, _ctx: &RequestContext) -> Result<Vec<Value>, String> {
        if self.fail {
            return Err("upstream down".into());
        }
        Ok(vec![json!({"name": format!("{}hello", self.prefix),
                       "inputSchema": {"type": "object"}})])
    }

    async fn call_tool(
        &self,
        tool: &str,
        params: Option<&serde_json::value::RawValue>,
        ctx: RequestContext,
    ) -> Result<Value, HandlerError> {
        let params: Value = serde_json::from_str(params.map_or("{}", |p| p.get())).unwrap();
        Ok(
            json!({"content": [{"type": "text", "text": format!("{tool} for {}", ctx.caller().tenant)}],
                  "structuredContent": {"arguments": params["arguments"]}}),
        )
    }

    async fn session_ended(&self, session: &str) {
        self.ended.lock().unwrap().push(session.to_owned());
    }
}

#[tokio::test]
async fn provider_tools_are_merged_routed_and_released() {
    let up = Arc::new(Fake {
        prefix: "up__",
        ..Fake::default()
    });
    let down = Arc::new(Fake {
        prefix: "down__",
        fail: true,
        ..Fake::default()
    });
    let catalog = switchboard_everything::everything()
        .provider(up.clone())
        .provider(down);
    let config = switchboard_server::Config {
        page_size: 1000,
        ..Default::default()
    };
    let server = TestServer::with(config, catalog).await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let (list, _) = c.call("tools/list", json!({})).await;
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"echo"), "the catalog's own tools stay");
    assert_eq!(
        names.last(),
        Some(&"up__hello"),
        "provider tools come after"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("down__")),
        "a failing provider is left out"
    );

    let (r, _) = c
        .call(
            "tools/call",
            json!({"name": "up__hello", "arguments": {"x": 1}}),
        )
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "up__hello for anonymous");
    assert_eq!(r["result"]["structuredContent"]["arguments"]["x"], 1);
    let (r, _) = c
        .call(
            "tools/call",
            json!({"name": "nobody__hello", "arguments": {}}),
        )
        .await;
    assert_eq!(r["error"]["message"], "unknown tool: nobody__hello");

    let sid = c.session.clone().unwrap();
    assert_eq!(c.delete().await, reqwest::StatusCode::OK);
    assert_eq!(*up.ended.lock().unwrap(), vec![sid]);
    server.stop().await;
}
