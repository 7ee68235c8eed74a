//! What the vault keeps of a token: the token, when it expires, and which
//! token of the caller's it was exchanged for.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_secret::ClientToken;

use crate::cache::{self, Held};
use crate::endpoint::Issued;

/// A token as the vault keeps it (sealed).
#[derive(Serialize, Deserialize)]
pub(crate) struct Kept {
    token: String,
    /// Its expiry, in seconds since the Unix epoch.
    expires_at: u64,
    /// The digest of the caller's token it was exchanged for (none for
    /// client credentials).
    subject: Option<String>,
    /// The caller's token's own expiry.
    subject_expires_at: Option<u64>,
}

/// An issued token's lifetime when the provider does not say.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

impl Kept {
    pub(crate) fn new(issued: &Issued, subject: Option<&ClientToken>) -> Self {
        let lifetime = issued.expires_in.unwrap_or(DEFAULT_LIFETIME);
        Self {
            token: issued.token.expose().to_owned(),
            expires_at: cache::unix_now() + lifetime.as_secs(),
            subject: subject.map(|t| cache::digest(t.token.expose())),
            subject_expires_at: subject.map(|t| t.expires_at),
        }
    }

    /// Held again, if it was had for this same token of the caller's and
    /// has time left.
    pub(crate) fn held(self, subject: Option<&ClientToken>) -> Option<Held> {
        let now = subject.map(|t| cache::digest(t.token.expose()));
        if now != self.subject {
            return None;
        }
        let left = self.expires_at.checked_sub(cache::unix_now())?;
        let issued = Issued::kept(self.token, Duration::from_secs(left), None);
        Some(Held::new(issued, self.subject_expires_at))
    }
}
