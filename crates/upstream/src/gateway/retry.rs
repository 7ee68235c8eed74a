//! Which requests may be sent again after a transport failure, and how an
//! error is labelled for metrics. Only idempotent methods are retried
//! (lists and reads), once, when the connection failed under them (the
//! process exited, the HTTP upstream could not be reached) — never
//! `tools/call` or anything else that may have had an effect.

use serde_json::json;
use switchboard_proto::RpcError;
use switchboard_runtime::HandlerError;

use crate::UpstreamError;

/// Methods safe to send twice.
pub(crate) fn idempotent(method: &str) -> bool {
    matches!(
        method,
        "tools/list"
            | "prompts/list"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
    )
}

/// Whether `e` is a failure of the connection, not an answer.
pub(crate) fn transport(e: &UpstreamError) -> bool {
    matches!(e, UpstreamError::Exited(_) | UpstreamError::Closed)
}

/// The metric reason of an upstream failure (`None`: the upstream's own
/// JSON-RPC error, passed on as it is).
pub(crate) fn reason(e: &UpstreamError) -> Option<&'static str> {
    Some(match e {
        UpstreamError::Rpc(_) => return None,
        UpstreamError::Timeout => "timeout",
        UpstreamError::Exited(_) | UpstreamError::Closed => "exited",
        UpstreamError::Misbehaving(_) => "misbehaving",
        UpstreamError::Http(_) | UpstreamError::Unauthorized { .. } => "http",
        UpstreamError::Spawn(_) | UpstreamError::Init(_) => "unavailable",
    })
}

/// Mark a gateway error with its reason (in `data`), so the gateway can
/// tell a transport failure from an answer, and clients can too.
pub(crate) fn tag(e: RpcError, upstream: &str, reason: &'static str) -> RpcError {
    if e.data.is_some() {
        return e;
    }
    e.with_data(json!({"upstream": upstream, "reason": reason}))
}

/// The reason a request to `upstream` failed, for metrics: the tag the
/// gateway put on it, `circuit_open` for a refusal of the open breaker,
/// else `upstream` (the upstream's own error).
pub(crate) fn label(e: &HandlerError, upstream: &str) -> &'static str {
    let HandlerError::Rpc(e) = e else {
        return "other";
    };
    let tagged = e
        .data
        .as_ref()
        .filter(|d| d["upstream"] == upstream)
        .and_then(|d| d["reason"].as_str());
    match tagged {
        Some("timeout") => "timeout",
        Some("exited") => "exited",
        Some("misbehaving") => "misbehaving",
        Some("http") => "http",
        Some("unavailable") => "unavailable",
        Some("limited") => "limited",
        Some(_) => "other",
        None if e.message.starts_with(&format!(
            "upstream {upstream} is unavailable (circuit open)"
        )) =>
        {
            "circuit_open"
        }
        None => "upstream",
    }
}

/// Whether a failed request went down with its connection (worth one
/// retry if idempotent).
pub(crate) fn went_down(e: &HandlerError, upstream: &str) -> bool {
    label(e, upstream) == "exited"
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_proto::ErrorCode;

    #[test]
    fn only_lists_and_reads_are_idempotent() {
        for m in [
            "tools/list",
            "prompts/list",
            "resources/list",
            "resources/templates/list",
            "resources/read",
        ] {
            assert!(idempotent(m), "{m}");
        }
        for m in [
            "tools/call",
            "prompts/get",
            "completion/complete",
            "resources/subscribe",
            "logging/setLevel",
            "x",
        ] {
            assert!(!idempotent(m), "{m}");
        }
    }

    #[test]
    fn a_tagged_exit_is_a_transport_failure_and_an_upstream_error_is_not() {
        let exited = tag(RpcError::internal("upstream up exited"), "up", "exited");
        assert!(went_down(&HandlerError::Rpc(exited.clone()), "up"));
        assert!(!went_down(&HandlerError::Rpc(exited), "other"));
        let own =
            RpcError::new(ErrorCode::INVALID_PARAMS, "bad").with_data(json!({"reason": "exited"}));
        assert_eq!(label(&HandlerError::Rpc(own), "up"), "upstream");
        let open = RpcError::new(
            ErrorCode::SERVER_BUSY,
            "upstream up is unavailable (circuit open); retry in 3 s",
        );
        assert_eq!(label(&HandlerError::Rpc(open), "up"), "circuit_open");
        assert!(transport(&UpstreamError::Closed));
        assert!(!transport(&UpstreamError::Timeout));
    }
}
