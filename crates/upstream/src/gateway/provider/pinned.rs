//! An upstream's pinned tool definitions (`pinning`): each listing is
//! reviewed against the approvals in the shared store; in `enforce` mode
//! a tool whose definition is not the approved one is hidden from lists
//! and refused when called, and connected clients hear that the list
//! changed whenever the set of held tools does.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;
use serde_json::Value;
use switchboard_proto::RpcError;
use switchboard_runtime::{
    EventBus, HandlerError, PinEvent, RequestContext, ServerEvent, UpstreamObserver,
};

use super::StdioProvider;
use crate::gateway::pins::{PinBook, PinMode};

/// The pins of one upstream, and the tools held back now.
#[derive(Debug)]
pub(super) struct Pinning {
    book: PinBook,
    mode: PinMode,
    first_sight: bool,
    /// Tools (merged names) whose definition is not the approved one.
    held: RwLock<HashSet<String>>,
    bus: Option<Arc<dyn EventBus>>,
    pub(super) observer: OnceLock<Arc<dyn UpstreamObserver>>,
}

impl Pinning {
    /// Pins for an upstream with `mode` (none when off).
    pub(super) fn new(
        mode: PinMode,
        first_sight: bool,
        book: PinBook,
        bus: Option<Arc<dyn EventBus>>,
    ) -> Option<Self> {
        (mode != PinMode::Off).then(|| Self {
            book,
            mode,
            first_sight,
            held: RwLock::default(),
            bus,
            observer: OnceLock::new(),
        })
    }
}

impl StdioProvider {
    /// `tools` (a `tools/list` listing, merged names) as the pins allow:
    /// reviewed against the approvals, changes recorded and reported, held
    /// tools taken out in `enforce` mode.
    pub(super) async fn pinned(&self, tools: Vec<Value>) -> Vec<Value> {
        let Some(pins) = &self.pins else {
            return tools;
        };
        let name_of = |d: &Value| d.get("name").and_then(Value::as_str).map(str::to_owned);
        let listed: Vec<(String, &Value)> = tools
            .iter()
            .filter_map(|d| Some((self.own_name(&name_of(d)?).to_owned(), d)))
            .collect();
        let upstream = &self.config.name;
        let held: HashSet<String> = match pins
            .book
            .review(upstream, &listed, pins.first_sight)
            .await
        {
            Ok(review) => {
                self.report_pins(pins, &review.recorded);
                for tool in &review.first_seen {
                    tracing::info!(upstream = %upstream, tool, "tool definition pinned on first sight");
                }
                review
                    .unapproved
                    .iter()
                    .map(|own| format!("{}{own}", self.prefix))
                    .collect()
            }
            Err(e) => {
                // Not knowing what was approved holds everything back in
                // `enforce` (the safe side) and nothing in `warn`.
                tracing::warn!(upstream = %upstream, error = %e, "cannot read the pinned tool definitions");
                match pins.mode {
                    PinMode::Enforce => tools.iter().filter_map(name_of).collect(),
                    _ => HashSet::new(),
                }
            }
        };
        let changed = *pins.held.read() != held;
        if changed {
            *pins.held.write() = held.clone();
            // Only `enforce` changes what clients see.
            if pins.mode == PinMode::Enforce
                && let Some(bus) = &pins.bus
            {
                bus.publish(ServerEvent::ToolsListChanged);
            }
        }
        match pins.mode {
            PinMode::Enforce => tools
                .into_iter()
                .filter(|d| name_of(d).is_none_or(|n| !held.contains(&n)))
                .collect(),
            _ => tools,
        }
    }

    fn report_pins(&self, pins: &Pinning, recorded: &[(String, &'static str)]) {
        let outcome = match pins.mode {
            PinMode::Enforce => "held",
            _ => "alerted",
        };
        for (tool, kind) in recorded {
            tracing::warn!(
                upstream = %self.config.name,
                tool,
                kind,
                outcome,
                "tool definition is not the approved one: an admin can review and approve it (admin API: /admin/v1/upstreams/{}/pins)",
                self.config.name
            );
            if let Some(observer) = pins.observer.get() {
                observer.pin(PinEvent {
                    upstream: &self.config.name,
                    tool,
                    kind,
                    outcome,
                });
            }
        }
    }

    /// Refuse a call of a tool held back (`enforce`): after a list change
    /// or a restart the listing is read again first, and a held tool's
    /// approval is looked up again (an admin may have approved it on
    /// another node).
    pub(super) async fn check_pinned(
        &self,
        tool: &str,
        ctx: &RequestContext,
    ) -> Result<(), HandlerError> {
        let Some(pins) = self.pins.as_ref().filter(|p| p.mode == PinMode::Enforce) else {
            return Ok(());
        };
        let stale = self.stale.load(std::sync::atomic::Ordering::Relaxed);
        if !stale && !pins.held.read().contains(tool) {
            return Ok(());
        }
        // Listing reviews the pins again (and fetches if stale).
        use switchboard_runtime::Provider;
        self.list("tools/list", ctx)
            .await
            .map_err(|e| RpcError::internal(format!("upstream {}: {e}", self.config.name)))?;
        if !pins.held.read().contains(tool) {
            return Ok(());
        }
        Err(RpcError::new(
            switchboard_proto::ErrorCode::POLICY_DENIED,
            format!(
                "tool {tool}: its definition changed upstream (or is new) and awaits an admin's approval"
            ),
        )
        .with_data(serde_json::json!({"policy": "pinning", "tool": tool}))
        .into())
    }
}
