//! The token vault: credentials sealed with an AEAD (ChaCha20-Poly1305)
//! before they go to the store, so the store — memory, the file or Redis —
//! holds only ciphertext, and any node with the keys can use what another
//! node put there.
//!
//! Each entry is sealed with the first configured key and names it; older
//! keys still open what they sealed, and an entry opened with an older key
//! is sealed again with the first (rotation: add a new key first, keep the
//! old ones until their entries have been read or have expired). The
//! entry's tenant and name are the associated data, so an entry copied
//! under another tenant or name does not open.

use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use switchboard_store::{EntryStore, StoreError};

/// The format version of a sealed entry.
const FORMAT: u8 = 1;
/// Nonce length (96 bits, random per entry).
const NONCE: usize = 12;

/// One vault key: its id (written into each entry it seals) and 32 bytes.
#[derive(Clone)]
pub struct VaultKey {
    /// Its id: 1–64 bytes.
    pub id: String,
    /// The key.
    pub key: [u8; 32],
}

impl std::fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Why the vault could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An entry sealed with a key that is not configured, or that does not
    /// open (tampered with, or moved): named, never shown.
    #[error("vault entry {0:?} cannot be opened with the configured keys")]
    Sealed(String),
}

/// Credentials, sealed, in a store.
pub struct Vault {
    store: Arc<dyn EntryStore>,
    /// The keys; the first seals.
    keys: Vec<(String, ChaCha20Poly1305)>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Vault")
            .field("store", &self.store)
            .field("keys", &ids)
            .finish()
    }
}

impl Vault {
    /// A vault over `store` with `keys` (at least one; ids unique).
    pub fn new(store: Arc<dyn EntryStore>, keys: &[VaultKey]) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("the vault needs at least one key".into());
        }
        let mut sealing = Vec::new();
        for k in keys {
            if k.id.is_empty() || k.id.len() > 64 {
                return Err(format!("vault key id {:?} must be 1-64 bytes", k.id));
            }
            if sealing.iter().any(|(id, _)| id == &k.id) {
                return Err(format!("vault key id {:?} is given twice", k.id));
            }
            let cipher = ChaCha20Poly1305::new_from_slice(&k.key)
                .map_err(|_| "a vault key must be 32 bytes".to_owned())?;
            sealing.push((k.id.clone(), cipher));
        }
        Ok(Self {
            store,
            keys: sealing,
        })
    }

    /// Seal `plain` and keep it as `tenant`'s entry `name`.
    pub async fn put(&self, tenant: &str, name: &str, plain: &[u8]) -> Result<(), VaultError> {
        let sealed = self.seal(tenant, name, plain)?;
        Ok(self.store.put(tenant, name, &sealed).await?)
    }

    /// `tenant`'s entry `name`, opened; sealed again with the first key if
    /// an older one sealed it.
    pub async fn get(&self, tenant: &str, name: &str) -> Result<Option<Vec<u8>>, VaultError> {
        let Some(sealed) = self.store.get(tenant, name).await? else {
            return Ok(None);
        };
        let (plain, current) = self.open(tenant, name, &sealed)?;
        if !current {
            self.put(tenant, name, &plain).await?;
        }
        Ok(Some(plain))
    }

    /// Remove `tenant`'s entry `name`; whether there was one.
    pub async fn delete(&self, tenant: &str, name: &str) -> Result<bool, VaultError> {
        Ok(self.store.delete(tenant, name).await?)
    }

    /// The names of `tenant`'s entries.
    pub async fn names(&self, tenant: &str) -> Result<Vec<String>, VaultError> {
        Ok(self.store.names(tenant).await?)
    }

    fn seal(&self, tenant: &str, name: &str, plain: &[u8]) -> Result<Vec<u8>, VaultError> {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce).map_err(|_| VaultError::Sealed(name.to_owned()))?;
        let aad = associated(tenant, name);
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Sealed(name.to_owned()))?;
        let mut out = Vec::with_capacity(2 + id.len() + NONCE + sealed.len());
        out.push(FORMAT);
        out.push(id.len() as u8);
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The plain bytes, and whether the first key sealed them.
    fn open(&self, tenant: &str, name: &str, sealed: &[u8]) -> Result<(Vec<u8>, bool), VaultError> {
        let bad = || VaultError::Sealed(name.to_owned());
        let [FORMAT, id_len, rest @ ..] = sealed else {
            return Err(bad());
        };
        let id_len = usize::from(*id_len);
        if rest.len() < id_len + NONCE {
            return Err(bad());
        }
        let (id, rest) = rest.split_at(id_len);
        let (nonce, body) = rest.split_at(NONCE);
        let at = self
            .keys
            .iter()
            .position(|(k, _)| k.as_bytes() == id)
            .ok_or_else(bad)?;
        let nonce: [u8; NONCE] = nonce.try_into().map_err(|_| bad())?;
        let aad = associated(tenant, name);
        let plain = self.keys[at]
            .1
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map_err(|_| bad())?;
        Ok((plain, at == 0))
    }
}

/// The associated data: the entry's place.
fn associated(tenant: &str, name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(tenant.len() + name.len() + 1);
    aad.extend_from_slice(tenant.as_bytes());
    aad.push(0);
    aad.extend_from_slice(name.as_bytes());
    aad
}

#[cfg(test)]
mod tests;
