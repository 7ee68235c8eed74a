//! The keys access tokens are signed with: ES256 (P-256), generated here,
//! sealed in the token vault so every node signs and verifies with the
//! same set, and rotated.
//!
//! Rotation publishes ahead: a new key enters the set [`PUBLISH_AHEAD`]
//! before it signs, so every node (which reloads the set each
//! [`RELOAD_EVERY`]) knows it before a token signed with it arrives; a key
//! stays in the set until the last token it signed has expired.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use switchboard_auth::SharedKeys;
use switchboard_identity::Vault;

use crate::now;

/// The vault's group of the signing keys.
const GROUP: &str = "@oauth-signing-keys";
/// How long before it signs a new key is published.
pub(crate) const PUBLISH_AHEAD: u64 = 120;
/// How often a node reloads the key set from the vault.
pub(crate) const RELOAD_EVERY: Duration = Duration::from_secs(30);

/// One signing key as kept in the vault (sealed).
#[derive(Serialize, Deserialize)]
struct Stored {
    kid: String,
    /// The P-256 private scalar, base64url.
    d: String,
    /// When it was made, and from when it signs (Unix seconds).
    created: u64,
    not_before: u64,
}

/// A signing key ready to use.
struct Key {
    kid: String,
    created: u64,
    not_before: u64,
    encoding: EncodingKey,
    jwk: Value,
    /// The private scalar (for [`KeyRing::shared_secret`]).
    seed: Vec<u8>,
}

impl Key {
    fn from_stored(s: &Stored) -> Result<Self, String> {
        let d = URL_SAFE_NO_PAD
            .decode(&s.d)
            .map_err(|_| "key is not base64url")?;
        let secret = p256::SecretKey::from_slice(&d).map_err(|_| "not a P-256 key")?;
        let der = secret.to_pkcs8_der().map_err(|_| "cannot encode the key")?;
        let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
            &secret.public_key(),
            false,
        );
        let (x, y) = (&point.x().ok_or("no x")?[..], &point.y().ok_or("no y")?[..]);
        Ok(Self {
            kid: s.kid.clone(),
            created: s.created,
            not_before: s.not_before,
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            seed: d.clone(),
            jwk: json!({
                "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256",
                "kid": s.kid,
                "x": URL_SAFE_NO_PAD.encode(x),
                "y": URL_SAFE_NO_PAD.encode(y),
            }),
        })
    }
}

/// A new key, signing from `not_before`.
fn generate(now: u64, not_before: u64) -> Stored {
    loop {
        let d: [u8; 32] = crate::random_bytes();
        if p256::SecretKey::from_slice(&d).is_ok() {
            return Stored {
                kid: crate::random_id(12),
                d: URL_SAFE_NO_PAD.encode(d),
                created: now,
                not_before,
            };
        }
    }
}

/// The signing keys, and the verifiers' view of them.
pub(crate) struct KeyRing {
    vault: Option<Arc<Vault>>,
    keys: RwLock<Vec<Arc<Key>>>,
    /// Unsealed copies when there is no vault (one node, memory store).
    local: parking_lot::Mutex<Vec<Stored>>,
    shared: Arc<SharedKeys>,
    rotation_secs: u64,
    /// How long a key stays after the next one took over.
    retire_after: u64,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<String> = self.keys.read().iter().map(|k| k.kid.clone()).collect();
        f.debug_struct("KeyRing").field("kids", &kids).finish()
    }
}

impl KeyRing {
    pub(crate) fn new(vault: Option<Arc<Vault>>, rotation_secs: u64, token_secs: u64) -> Self {
        Self {
            vault,
            keys: RwLock::new(Vec::new()),
            local: parking_lot::Mutex::new(Vec::new()),
            shared: Arc::new(SharedKeys::new()),
            rotation_secs,
            retire_after: token_secs + 120,
        }
    }

    /// The set verifiers read.
    pub(crate) fn shared(&self) -> Arc<SharedKeys> {
        self.shared.clone()
    }

    /// Load the set, make the first key or the next one when due, and
    /// drop keys whose tokens have all expired.
    pub(crate) async fn refresh(&self) -> Result<(), String> {
        let now = now();
        let mut stored = self.load().await?;
        let newest = stored.iter().map(|s| s.created).max();
        match newest {
            None => self.add(&mut stored, generate(now, now)).await?,
            Some(c) if now >= c + self.rotation_secs => {
                self.add(&mut stored, generate(now, now + PUBLISH_AHEAD))
                    .await?
            }
            Some(_) => {}
        }
        self.retire(&mut stored, now).await?;
        let mut keys = stored
            .iter()
            .map(Key::from_stored)
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort_by_key(|k| (k.not_before, k.created));
        let jwks = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
        self.shared
            .replace(jwks.to_string().as_bytes())
            .map_err(|e| format!("signing keys: {e}"))?;
        *self.keys.write() = keys.into_iter().map(Arc::new).collect();
        Ok(())
    }

    async fn load(&self) -> Result<Vec<Stored>, String> {
        let Some(vault) = &self.vault else {
            return Ok(self
                .local
                .lock()
                .iter()
                .map(|s| Stored {
                    kid: s.kid.clone(),
                    d: s.d.clone(),
                    ..*s
                })
                .collect());
        };
        let mut out = Vec::new();
        for kid in vault.names(GROUP).await.map_err(|e| e.to_string())? {
            if let Some(bytes) = vault.get(GROUP, &kid).await.map_err(|e| e.to_string())? {
                out.push(serde_json::from_slice(&bytes).map_err(|e| e.to_string())?);
            }
        }
        Ok(out)
    }

    async fn add(&self, stored: &mut Vec<Stored>, key: Stored) -> Result<(), String> {
        match &self.vault {
            Some(vault) => {
                let bytes = serde_json::to_vec(&key).map_err(|e| e.to_string())?;
                vault
                    .put(GROUP, &key.kid, &bytes)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            None => self.local.lock().push(Stored {
                kid: key.kid.clone(),
                d: key.d.clone(),
                ..key
            }),
        }
        tracing::info!(kid = %key.kid, not_before = key.not_before, "oauth: new signing key");
        stored.push(key);
        Ok(())
    }

    /// Drop each key whose successor took over more than `retire_after`
    /// ago: every token it signed has expired.
    async fn retire(&self, stored: &mut Vec<Stored>, now: u64) -> Result<(), String> {
        stored.sort_by_key(|s| (s.not_before, s.created));
        let mut gone = Vec::new();
        for pair in stored.windows(2) {
            if pair[1].not_before + self.retire_after < now {
                gone.push(pair[0].kid.clone());
            }
        }
        for kid in &gone {
            match &self.vault {
                Some(vault) => {
                    vault.delete(GROUP, kid).await.map_err(|e| e.to_string())?;
                }
                None => self.local.lock().retain(|s| &s.kid != kid),
            }
        }
        stored.retain(|s| !gone.contains(&s.kid));
        Ok(())
    }

    /// Sign `claims` with the newest key that may sign now.
    pub(crate) fn sign(&self, claims: &Value) -> Result<String, String> {
        let now = now();
        let key = self
            .keys
            .read()
            .iter()
            .rev()
            .find(|k| k.not_before <= now)
            .cloned()
            .ok_or("no signing key yet")?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        header.typ = Some("at+jwt".to_owned());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| e.to_string())
    }

    /// A secret every node derives alike from the signing keys (the
    /// oldest one's): the key of DPoP nonces.
    pub(crate) fn shared_secret(&self) -> Option<Vec<u8>> {
        let keys = self.keys.read();
        let oldest = keys.iter().min_by_key(|k| (k.created, k.kid.clone()))?;
        Some(
            Sha256::new()
                .chain_update(b"switchboard dpop nonce")
                .chain_update(&oldest.seed)
                .finalize()
                .to_vec(),
        )
    }

    /// The public keys, as a JWKS.
    pub(crate) fn jwks(&self) -> Value {
        json!({"keys": self.keys.read().iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
    }
}
