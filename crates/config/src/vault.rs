//! `[vault]`: the keys that seal the token vault's entries.

use serde::{Deserialize, Serialize};
use switchboard_identity::VaultKey;

use crate::secret::Secret;

/// `[vault]`: without keys there is no vault (tokens from an identity
/// provider are kept in each node's memory only).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaultConfig {
    /// The keys, the one that seals first; the others still open what
    /// they sealed (rotation).
    pub keys: Vec<VaultKeyConfig>,
}

/// One vault key.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VaultKeyConfig {
    /// Its id, written into what it seals: 1-64 characters.
    pub id: String,
    /// 32 bytes as hex or base64, usually a reference
    /// (`{ file = "/run/secrets/vault-key" }`).
    pub key: Secret,
}

impl VaultConfig {
    /// The keys, decoded; the error names the key.
    pub fn keys(&self) -> Result<Vec<VaultKey>, (String, String)> {
        let mut keys: Vec<VaultKey> = Vec::new();
        for (i, k) in self.keys.iter().enumerate() {
            let at = |field: &str| format!("vault.keys[{i}].{field}");
            if k.id.is_empty() || k.id.len() > 64 {
                return Err((at("id"), "use 1-64 characters".into()));
            }
            if keys.iter().any(|other| other.id == k.id) {
                return Err((at("id"), format!("{:?} is given twice", k.id)));
            }
            let bytes = crate::secret::decode_key(k.key.expose())
                .map_err(|e| (at("key"), e.replace("sealing_key", "a vault key")))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| (at("key"), "a vault key must be exactly 32 bytes".into()))?;
            keys.push(VaultKey {
                id: k.id.clone(),
                key,
            });
        }
        Ok(keys)
    }
}
