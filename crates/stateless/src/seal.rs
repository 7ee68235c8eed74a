//! Sealed `requestState` for `input_required` results: the client carries
//! the state between rounds, so any node with the same key can resume the
//! call. The state is authenticated (HMAC-SHA256), carries an expiry, and is
//! treated as attacker-controlled until its tag verifies.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::Sha256;
use switchboard_proto::params;

const VERSION: &str = "sb1";

/// What travels inside a `requestState`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestState {
    /// The method and target (`tools/call` + tool name) the state belongs to.
    pub method: String,
    /// The target: the tool or prompt name, or the resource URI ([`target_of`]).
    pub target: String,
    /// The principal the state was sealed for (tenant and subject): another
    /// caller cannot use it.
    pub principal: String,
    /// Every input response gathered in earlier rounds, by input key.
    pub responses: Map<String, Value>,
    /// Expiry, Unix milliseconds.
    pub expires_ms: u64,
}

/// Why a state was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not a state this server writes.
    #[error("requestState is malformed")]
    Malformed,
    /// The tag does not verify.
    #[error("requestState failed verification (tampered, or sealed with another key)")]
    BadTag,
    /// Past its expiry.
    #[error("requestState has expired")]
    Expired,
}

/// Seals and opens request states with one secret key.
#[derive(Clone)]
pub struct Sealer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    /// A sealer with `key` (the `sealing_key` every node shares).
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    /// A sealer with a fresh random key: its states open only in this
    /// process. Panics when the system has no randomness.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)
            .unwrap_or_else(|e| panic!("no randomness for the sealing key: {e}"));
        Self::new(&key)
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    /// `sb1.<payload>.<tag>`, both parts base64url.
    pub fn seal(&self, state: &RequestState) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(state).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(VERSION.as_bytes());
        mac.update(payload.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{VERSION}.{payload}.{tag}")
    }

    /// Verify and decode a state; the tag is checked in constant time before
    /// anything in the payload is looked at.
    pub fn open(&self, token: &str, now_ms: u64) -> Result<RequestState, SealError> {
        let mut parts = token.split('.');
        let (Some(VERSION), Some(payload), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Malformed);
        };
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| SealError::Malformed)?;
        let mut mac = self.mac();
        mac.update(VERSION.as_bytes());
        mac.update(payload.as_bytes());
        mac.verify_slice(&tag).map_err(|_| SealError::BadTag)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| SealError::Malformed)?;
        let state: RequestState =
            serde_json::from_slice(&bytes).map_err(|_| SealError::Malformed)?;
        if state.expires_ms < now_ms {
            return Err(SealError::Expired);
        }
        Ok(state)
    }
}

/// What a request state is bound to besides its method: the tool or prompt
/// name, or the resource URI.
pub fn target_of(method: &str, params: Option<&RawValue>) -> String {
    params::name_of(method, params).unwrap_or_default()
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> RequestState {
        let mut responses = Map::new();
        responses.insert("user_name".into(), serde_json::json!({"action": "accept"}));
        RequestState {
            method: "tools/call".into(),
            target: "t".into(),
            principal: "anonymous/anonymous".into(),
            responses,
            expires_ms: 2_000,
        }
    }

    #[test]
    fn round_trip_tamper_expiry_and_key() {
        let s = Sealer::new(b"0123456789abcdef0123456789abcdef");
        let token = s.seal(&state());
        assert_eq!(s.open(&token, 1_000).unwrap(), state());
        assert_eq!(s.open(&token, 3_000), Err(SealError::Expired));
        let other = Sealer::new(b"another key, also long enough....");
        assert_eq!(other.open(&token, 1_000), Err(SealError::BadTag));
        // Flip one character of the payload.
        let mut chars: Vec<char> = token.chars().collect();
        let i = token.find('.').unwrap() + 3;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(s.open(&tampered, 1_000), Err(SealError::BadTag));
        assert_eq!(s.open("garbage", 1_000), Err(SealError::Malformed));
        assert_eq!(s.open("sb1.a.b.c", 1_000), Err(SealError::Malformed));
    }
}
