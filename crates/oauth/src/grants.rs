//! What a sign-in leaves in the store, so any node can take the next step:
//! the pending authorization (until the user has signed in and
//! consented), the authorization code (until redeemed, once), and the
//! refresh token family (rotated on each use).
//!
//! Codes and refresh tokens are kept under their SHA-256, never as
//! themselves. A code or a refresh token is claimed by deleting its entry:
//! of two nodes redeeming the same one, only the one whose delete removed
//! it goes on. A redeemed code and a rotated-away refresh token leave a
//! mark naming their family, so presenting one again revokes the family
//! (RFC 9700 §4.14.2, OAuth 2.1 §4.3.1).

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use switchboard_store::EntryStore;

use crate::error::OAuthError;
use crate::hex;
use crate::now;
pub(crate) use crate::users::Grantee;

const PENDING: &str = "pending";
const CODES: &str = "codes";
const REDEEMED: &str = "redeemed";
const REFRESH: &str = "refresh";
const FAMILIES: &str = "families";
const REVOKED: &str = "revoked";

/// An authorization request waiting for the user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) state: Option<String>,
    pub(crate) challenge: String,
    pub(crate) resource: String,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) expires: u64,
    /// Who signed in, once they have.
    pub(crate) user: Option<Grantee>,
    /// The sign-in at the identity provider, once the browser was sent
    /// there.
    #[serde(default)]
    pub(crate) idp: Option<crate::oidc::Leg>,
}

/// An authorization code's grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Code {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) challenge: String,
    pub(crate) resource: String,
    pub(crate) grantee: Grantee,
    pub(crate) expires: u64,
    /// The refresh family its tokens start.
    pub(crate) family: String,
}

/// A refresh token family: one sign-in's grant, and which token is
/// current.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Family {
    pub(crate) client_id: String,
    pub(crate) resource: String,
    pub(crate) grantee: Grantee,
    pub(crate) expires: u64,
    /// The DPoP key a public client's refresh tokens are bound to.
    #[serde(default)]
    pub(crate) jkt: Option<String>,
}

/// A mark left by a used code or refresh token: its family.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Used {
    family: String,
    expires: u64,
}

/// What taking a refresh token found.
#[derive(Debug)]
pub(crate) enum Taken {
    /// It was current: its family's grant (the token is used up now).
    Current(String, Family),
    /// It was used before: its family is revoked.
    Reused,
    /// Unknown or expired.
    Unknown,
}

/// The grants in the store.
#[derive(Debug, Clone)]
pub(crate) struct Grants {
    store: Arc<dyn EntryStore>,
}

/// The store name of a secret value.
fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

impl Grants {
    pub(crate) fn new(store: Arc<dyn EntryStore>) -> Self {
        Self { store }
    }

    async fn put<T: Serialize>(&self, group: &str, name: &str, v: &T) -> Result<(), OAuthError> {
        let bytes = serde_json::to_vec(v).expect("grants serialize");
        Ok(self.store.put(group, name, &bytes).await?)
    }

    async fn read<T: DeserializeOwned>(
        &self,
        group: &str,
        name: &str,
    ) -> Result<Option<T>, OAuthError> {
        match self.store.get(group, name).await? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|_| OAuthError::unavailable("a stored grant is corrupt")),
        }
    }

    /// Keep `p`; its id (what the sign-in pages carry).
    pub(crate) async fn begin(&self, p: &Pending) -> Result<String, OAuthError> {
        let id = crate::random_id(24);
        self.put(PENDING, &id, p).await?;
        Ok(id)
    }

    /// The pending request `id`, unless it expired.
    pub(crate) async fn pending(&self, id: &str) -> Result<Option<Pending>, OAuthError> {
        if id.is_empty() || id.len() > 64 {
            return Ok(None);
        }
        Ok(self
            .read::<Pending>(PENDING, id)
            .await?
            .filter(|p| p.expires > now()))
    }

    /// Replace the pending request `id` (the user has signed in).
    pub(crate) async fn update(&self, id: &str, p: &Pending) -> Result<(), OAuthError> {
        self.put(PENDING, id, p).await
    }

    /// Finish the pending request `id`: it is gone, whoever asks again.
    /// Whether it was still there.
    pub(crate) async fn finish(&self, id: &str) -> Result<bool, OAuthError> {
        Ok(self.store.delete(PENDING, id).await?)
    }

    /// Issue a code for `c`.
    pub(crate) async fn issue_code(&self, c: &Code) -> Result<String, OAuthError> {
        let code = crate::random_id(32);
        self.put(CODES, &digest(&code), c).await?;
        Ok(code)
    }

    /// Redeem `code`: its grant if it is good and this is its first use.
    /// A second use revokes what the first was given.
    pub(crate) async fn redeem(&self, code: &str) -> Result<Code, OAuthError> {
        let name = digest(code);
        let Some(c) = self.read::<Code>(CODES, &name).await? else {
            if let Some(used) = self.read::<Used>(REDEEMED, &name).await? {
                self.revoke_family(&used.family).await?;
                tracing::warn!(
                    "oauth: an authorization code was used twice; its tokens are revoked"
                );
                return Err(OAuthError::grant("the code was already used"));
            }
            return Err(OAuthError::grant("unknown or expired code"));
        };
        // The mark first: whoever comes second finds it.
        let mark = Used {
            family: c.family.clone(),
            expires: c.expires + 3600,
        };
        self.put(REDEEMED, &name, &mark).await?;
        if !self.store.delete(CODES, &name).await? {
            self.revoke_family(&c.family).await?;
            return Err(OAuthError::grant("the code was already used"));
        }
        if c.expires <= now() {
            return Err(OAuthError::grant("the code expired"));
        }
        Ok(c)
    }

    /// Start family `id` and issue its first refresh token.
    pub(crate) async fn start_family(&self, id: &str, f: &Family) -> Result<String, OAuthError> {
        self.put(FAMILIES, id, f).await?;
        // Its code may have been used again meanwhile.
        if self.store.get(REVOKED, id).await?.is_some() {
            self.store.delete(FAMILIES, id).await?;
            return Err(OAuthError::grant("the code was already used"));
        }
        self.issue_refresh(id, f.expires).await
    }

    /// A new refresh token of `family`.
    pub(crate) async fn issue_refresh(
        &self,
        family: &str,
        expires: u64,
    ) -> Result<String, OAuthError> {
        let token = format!("sbr_{}", crate::random_id(32));
        let mark = Used {
            family: family.to_owned(),
            expires,
        };
        self.put(REFRESH, &digest(&token), &mark).await?;
        Ok(token)
    }

    /// Take refresh `token` for one use.
    pub(crate) async fn take_refresh(&self, token: &str) -> Result<Taken, OAuthError> {
        let name = digest(token);
        if let Some(cur) = self.read::<Used>(REFRESH, &name).await? {
            self.put(REDEEMED, &name, &cur).await?;
            if !self.store.delete(REFRESH, &name).await? {
                self.revoke_family(&cur.family).await?;
                return Ok(Taken::Reused);
            }
            return Ok(match self.read::<Family>(FAMILIES, &cur.family).await? {
                Some(f) if f.expires > now() => Taken::Current(cur.family, f),
                _ => Taken::Unknown,
            });
        }
        if let Some(used) = self.read::<Used>(REDEEMED, &name).await? {
            self.revoke_family(&used.family).await?;
            tracing::warn!("oauth: a refresh token was used twice; its family is revoked");
            return Ok(Taken::Reused);
        }
        Ok(Taken::Unknown)
    }

    /// Revoke a family: no refresh token of it works again.
    pub(crate) async fn revoke_family(&self, family: &str) -> Result<(), OAuthError> {
        let mark = Used {
            family: family.to_owned(),
            expires: now() + 24 * 3600,
        };
        self.put(REVOKED, family, &mark).await?;
        self.store.delete(FAMILIES, family).await?;
        Ok(())
    }

    /// Revoke the family of refresh `token` (RFC 7009), if `client_id`'s.
    pub(crate) async fn revoke_refresh(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<(), OAuthError> {
        let name = digest(token);
        let Some(cur) = self.read::<Used>(REFRESH, &name).await? else {
            return Ok(());
        };
        if let Some(f) = self.read::<Family>(FAMILIES, &cur.family).await?
            && f.client_id != client_id
        {
            return Err(OAuthError::unauthorized_client(
                "the token is another client's",
            ));
        }
        self.store.delete(REFRESH, &name).await?;
        self.revoke_family(&cur.family).await
    }

    /// Remove what has expired; how many entries.
    pub(crate) async fn sweep(&self) -> Result<usize, OAuthError> {
        let now = now();
        let mut gone = 0;
        for group in [PENDING, CODES, REDEEMED, REFRESH, FAMILIES, REVOKED] {
            for (name, bytes) in self.store.entries(group).await? {
                let expires = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("expires").and_then(serde_json::Value::as_u64))
                    .unwrap_or(0);
                if expires <= now && self.store.delete(group, &name).await? {
                    gone += 1;
                }
            }
        }
        Ok(gone)
    }
}

/// Whether `verifier` is the PKCE S256 verifier of `challenge` (RFC 7636
/// §4.6): 43-128 unreserved characters whose SHA-256, base64url, is the
/// challenge.
pub(crate) fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    use base64::Engine;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    well_formed && subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce() {
        // RFC 7636 appendix B.
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches(
            v,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            v,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cX"
        ));
        assert!(!pkce_matches(
            "short",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }
}
