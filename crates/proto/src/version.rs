//! MCP protocol versions and the negotiation rule.

use std::fmt;

/// A protocol revision this server can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// The original HTTP+SSE era.
    V2024_11_05,
    /// Streamable HTTP, sessions and JSON-RPC batches.
    V2025_03_26,
    /// Batches removed, `MCP-Protocol-Version` header, elicitation.
    V2025_06_18,
    /// The last session-based revision: SSE polling, priming events.
    V2025_11_25,
}

impl ProtocolVersion {
    /// Every session-era version, newest first.
    pub const SESSION_ERA: [ProtocolVersion; 4] = [
        Self::V2025_11_25,
        Self::V2025_06_18,
        Self::V2025_03_26,
        Self::V2024_11_05,
    ];

    /// The newest session-era version; the answer when a client asks for one we lack.
    pub const LATEST_SESSION: ProtocolVersion = Self::V2025_11_25;

    /// The version a Streamable HTTP request without a `MCP-Protocol-Version` header is taken to speak.
    pub const DEFAULT_HEADERLESS: ProtocolVersion = Self::V2025_03_26;

    /// The version as MCP writes it (`2025-11-25`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2024_11_05 => "2024-11-05",
            Self::V2025_03_26 => "2025-03-26",
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
        }
    }

    /// A session-era version from its name; `None` for one not supported.
    pub fn parse(s: &str) -> Option<Self> {
        Self::SESSION_ERA.into_iter().find(|v| v.as_str() == s)
    }

    /// Version negotiation: echo a supported requested version, else answer the latest.
    pub fn negotiate(requested: Option<&str>) -> Self {
        requested
            .and_then(Self::parse)
            .unwrap_or(Self::LATEST_SESSION)
    }

    /// JSON-RPC batches exist only in 2025-03-26.
    pub fn allows_batches(self) -> bool {
        self == Self::V2025_03_26
    }

    /// Priming events and `retry:` on POST streams came with 2025-11-25; older
    /// clients may choke on an event with empty data.
    pub fn wants_priming_event(self) -> bool {
        self >= Self::V2025_11_25
    }
}

/// The stateless revision (2026-07-28): no sessions, `_meta` on every request.
pub const MODERN: &str = "2026-07-28";

/// Every version this server speaks, newest first.
pub const ALL_SUPPORTED: [&str; 5] = [
    MODERN,
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
];

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_echoes_supported_and_falls_back_to_latest() {
        assert_eq!(
            ProtocolVersion::negotiate(Some("2025-06-18")),
            ProtocolVersion::V2025_06_18
        );
        assert_eq!(
            ProtocolVersion::negotiate(Some("2025-03-26")),
            ProtocolVersion::V2025_03_26
        );
        assert_eq!(
            ProtocolVersion::negotiate(Some("1999-01-01")),
            ProtocolVersion::V2025_11_25
        );
        assert_eq!(
            ProtocolVersion::negotiate(None),
            ProtocolVersion::V2025_11_25
        );
    }

    #[test]
    fn batches_only_in_2025_03_26() {
        for v in ProtocolVersion::SESSION_ERA {
            assert_eq!(v.allows_batches(), v == ProtocolVersion::V2025_03_26);
        }
    }

    #[test]
    fn round_trip() {
        for v in ProtocolVersion::SESSION_ERA {
            assert_eq!(ProtocolVersion::parse(v.as_str()), Some(v));
        }
        assert_eq!(ProtocolVersion::parse("2025-11-26"), None);
    }
}
