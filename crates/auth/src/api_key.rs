//! API keys, known only by their SHA-256 digests.
//!
//! A key is `sb_` followed by 43 base64url characters (32 random bytes), so
//! an unsalted SHA-256 is enough to store it: the key cannot be guessed from
//! its digest. A presented key is hashed and compared in constant time
//! against every configured digest.

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::AuthConfigError;

/// Prefix of keys made by [`new_api_key`].
pub const API_KEY_PREFIX: &str = "sb_";

/// One configured API key: who it belongs to and the digest of the key.
#[derive(Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyEntry {
    /// The tenant the key authenticates as.
    pub tenant: String,
    /// The key's name within its tenant (the principal's subject).
    pub id: String,
    /// Lowercase hex SHA-256 of the key.
    pub sha256: String,
}

impl fmt::Debug for ApiKeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix: String = self.sha256.chars().take(8).collect();
        f.debug_struct("ApiKeyEntry")
            .field("tenant", &self.tenant)
            .field("id", &self.id)
            .field("sha256", &format_args!("{prefix}…"))
            .finish()
    }
}

/// The configured API keys, ready to check presented keys against.
pub struct ApiKeys {
    entries: Vec<ApiKeyEntry>,
    digests: Vec<[u8; 32]>,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field("count", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl ApiKeys {
    /// Check and compile the entries: every digest must be 64 hex
    /// characters, ids and tenants non-empty, and no two entries may have
    /// the same digest.
    pub fn new(entries: Vec<ApiKeyEntry>) -> Result<Self, AuthConfigError> {
        let mut digests = Vec::with_capacity(entries.len());
        let mut seen: HashMap<[u8; 32], usize> = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let bad = |reason: &str| AuthConfigError::ApiKey {
                tenant: e.tenant.clone(),
                id: e.id.clone(),
                reason: reason.to_owned(),
            };
            if e.id.is_empty() {
                return Err(bad("the id is empty"));
            }
            if e.tenant.is_empty() {
                return Err(bad("the tenant is empty"));
            }
            let digest = parse_digest(&e.sha256)
                .ok_or_else(|| bad("sha256 must be 64 hexadecimal characters"))?;
            if let Some(&first) = seen.get(&digest) {
                let f = &entries[first];
                return Err(AuthConfigError::DuplicateApiKey {
                    first: format!("{}/{}", f.tenant, f.id),
                    second: format!("{}/{}", e.tenant, e.id),
                });
            }
            seen.insert(digest, i);
            digests.push(digest);
        }
        Ok(Self { entries, digests })
    }

    /// Which entry the presented key matches: SHA-256 of `token`, compared
    /// in constant time (`subtle::ConstantTimeEq`) against every entry (no
    /// early exit).
    pub fn verify(&self, token: &str) -> Option<&ApiKeyEntry> {
        let presented = sha256(token);
        let mut found = u64::MAX;
        for (i, digest) in self.digests.iter().enumerate() {
            let hit = digest.ct_eq(&presented);
            found = u64::conditional_select(&found, &(i as u64), hit);
        }
        usize::try_from(found)
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// How many keys are configured.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A fresh key: `"sb_"` + base64url (no padding) of 32 random bytes from the
/// operating system, and its lowercase-hex SHA-256 digest (what goes into
/// the configuration).
///
/// # Panics
///
/// If the operating system's random number generator fails.
pub fn new_api_key() -> (String, String) {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    let key = format!("{API_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let digest = digest_hex(&key);
    (key, digest)
}

/// Lowercase hex SHA-256 of `key`: the form API keys are configured in.
pub fn digest_hex(key: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in sha256(key) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The 32 bytes of a 64-character hex digest (either case).
fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from((hi << 4) | lo).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tenant: &str, id: &str, sha256: &str) -> ApiKeyEntry {
        ApiKeyEntry {
            tenant: tenant.into(),
            id: id.into(),
            sha256: sha256.into(),
        }
    }

    #[test]
    fn verify_matches_the_right_entry() {
        let (k1, d1) = new_api_key();
        let (k2, d2) = new_api_key();
        let keys = ApiKeys::new(vec![entry("a", "one", &d1), entry("b", "two", &d2)]).unwrap();
        assert_eq!(keys.len(), 2);
        assert!(!keys.is_empty());
        assert_eq!(keys.verify(&k1).map(|e| e.id.as_str()), Some("one"));
        assert_eq!(keys.verify(&k2).map(|e| e.tenant.as_str()), Some("b"));
        assert!(keys.verify("sb_nope").is_none());
        assert!(keys.verify("").is_none());
        assert!(keys.verify(&d1).is_none(), "the digest itself is not a key");
    }

    #[test]
    fn new_api_key_roundtrip() {
        let (key, digest) = new_api_key();
        assert!(key.starts_with("sb_"));
        assert_eq!(key.len(), 3 + 43);
        assert!(
            key[3..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(digest, digest_hex(&key));
        assert_eq!(digest.len(), 64);
        assert!(
            digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_ne!(new_api_key().0, key);
    }

    #[test]
    fn digest_hex_known_value() {
        assert_eq!(
            digest_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn uppercase_digest_accepted() {
        let (key, digest) = new_api_key();
        let keys = ApiKeys::new(vec![entry("a", "k", &digest.to_uppercase())]).unwrap();
        assert!(keys.verify(&key).is_some());
    }

    #[test]
    fn bad_config_refused() {
        let (_, d) = new_api_key();
        for bad in [
            "",
            "abc",
            &d[..63],
            &format!("{d}0"),
            &format!("{}g", &d[..63]),
        ] {
            let err = ApiKeys::new(vec![entry("a", "k", bad)]).unwrap_err();
            assert!(matches!(err, AuthConfigError::ApiKey { .. }), "{bad:?}");
            assert!(err.to_string().contains("64 hexadecimal"), "{err}");
        }
        let err = ApiKeys::new(vec![entry("a", "", &d)]).unwrap_err();
        assert!(err.to_string().contains("id is empty"), "{err}");
        let err = ApiKeys::new(vec![entry("", "k", &d)]).unwrap_err();
        assert!(err.to_string().contains("tenant is empty"), "{err}");
        let err = ApiKeys::new(vec![
            entry("a", "k1", &d),
            entry("b", "k2", &d.to_uppercase()),
        ])
        .unwrap_err();
        assert!(matches!(err, AuthConfigError::DuplicateApiKey { .. }));
        assert!(err.to_string().contains("a/k1") && err.to_string().contains("b/k2"));
        assert!(!err.to_string().contains(&d), "no digest in the message");
    }

    #[test]
    fn debug_does_not_leak_digests() {
        let (_, d1) = new_api_key();
        let (_, d2) = new_api_key();
        let keys = ApiKeys::new(vec![entry("a", "k1", &d1), entry("a", "k2", &d2)]).unwrap();
        let text = format!("{keys:?}");
        assert!(text.contains("count: 2"), "{text}");
        assert!(
            !text.contains(&d1[..16]) && !text.contains(&d2[..16]),
            "{text}"
        );
        let text = format!(
            "{:?}",
            keys.verify("x").cloned().unwrap_or(entry("a", "k", &d1))
        );
        assert!(!text.contains(&d1), "{text}");
        let empty = ApiKeys::new(Vec::new()).unwrap();
        assert!(empty.is_empty() && empty.verify("sb_x").is_none());
    }
}
