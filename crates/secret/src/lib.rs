//! Secrets in the configuration: where a credential comes from, and a
//! value that is never printed.
//!
//! Wherever a credential goes in Switchboard's configuration (an upstream's
//! `headers` and `env`, a JWT issuer's `hs256_secret`, the Redis URL, the
//! sealing key, the admin and metrics token digests) it may be written in
//! one of three forms:
//!
//! ```toml
//! Authorization = "Bearer inline-value"                  # inline
//! Authorization = { env = "GITHUB_TOKEN", prefix = "Bearer " }
//! Authorization = { file = "/run/secrets/github", prefix = "Bearer " }
//! ```
//!
//! A reference is resolved when the configuration is read, so a reload
//! reads the variable or the file again (a rotated secret file takes
//! effect on the next reload). A file's trailing line break is dropped, as
//! orchestrators' secret files often end with one; an empty value, a
//! missing variable and an unreadable or oversized file are errors naming
//! the variable or the path, never the value.
//!
//! Nothing prints a [`Secret`]: `Debug` shows where it came from, and
//! serializing one writes the reference (`{ env = "GITHUB_TOKEN" }`) or,
//! for an inline value, `"<redacted>"`, so a configuration written out
//! (`switchboard check-config`) shows no secret. Two secrets are equal
//! when they come from the same place and hold the same value, so a reload
//! notices a rotated value behind an unchanged reference.

#![warn(missing_docs)]

mod client_token;
mod reference;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use client_token::ClientToken;
pub use reference::{MAX_FILE_BYTES, Reference};

/// What an inline secret is written out as.
pub const REDACTED: &str = "<redacted>";

/// A credential: its value, and where the configuration said to find it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    from: Option<Reference>,
    value: Arc<str>,
}

impl Secret {
    /// An inline secret.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self {
            from: None,
            value: value.into(),
        }
    }

    /// Resolve `reference` now: read its variable or file.
    pub fn resolve(reference: Reference) -> Result<Self, String> {
        let value = reference.read()?;
        Ok(Self {
            from: Some(reference),
            value: value.into(),
        })
    }

    /// The value itself: for the code that uses the credential, never for
    /// output.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// The reference it was read from; `None` for an inline secret.
    pub fn reference(&self) -> Option<&Reference> {
        self.from.as_ref()
    }

    /// Whether it was written inline in the configuration.
    pub fn is_inline(&self) -> bool {
        self.from.is_none()
    }

    /// The variable named by an `env` reference.
    pub fn env_name(&self) -> Option<&str> {
        self.from.as_ref()?.env.as_deref()
    }

    /// The path named by a `file` reference.
    pub fn file_path(&self) -> Option<&Path> {
        self.from.as_ref()?.file.as_deref()
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.from {
            None => f.write_str(REDACTED),
            Some(r) => write!(f, "Secret({r})"),
        }
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.from {
            None => serializer.serialize_str(REDACTED),
            Some(r) => r.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, or a table with `env` or `file` (and an optional `prefix`)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
        if v == REDACTED {
            return Err(E::custom(
                "`<redacted>` stands for a secret that was not written out; give the value or a reference",
            ));
        }
        Ok(Secret::new(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Secret, A::Error> {
        let reference = Reference::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Secret::resolve(reference).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
