//! `[telemetry]`: where traces go.

use serde::{Deserialize, Serialize};

/// `[telemetry]`: OpenTelemetry trace export (off unless an endpoint is set).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// The base URL of an OTLP/HTTP collector (e.g. `http://127.0.0.1:4318`);
    /// spans are posted as JSON to `{otlp_endpoint}/v1/traces`. Also
    /// `SWITCHBOARD_TELEMETRY__OTLP_ENDPOINT`. Default: none (no traces).
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the exported spans. Default `switchboard`.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "switchboard".into(),
        }
    }
}

impl TelemetryConfig {
    /// `otlp_endpoint` must be an http(s) URL.
    pub(crate) fn validate(&self) -> Result<(), (String, String)> {
        match &self.otlp_endpoint {
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => Err((
                "telemetry.otlp_endpoint".into(),
                format!("{url:?} is not an http:// or https:// URL"),
            )),
            _ => Ok(()),
        }
    }
}
