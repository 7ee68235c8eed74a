//! Errors of configuring authentication (API keys, JWT issuers).

use std::path::PathBuf;

/// A configuration that cannot be used: the message names the setting and
/// what is wrong with it, never a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthConfigError {
    /// An API key entry is unusable (bad digest, empty id or tenant).
    #[error("api key {id:?} of tenant {tenant:?}: {reason}")]
    ApiKey {
        /// The tenant of the entry.
        tenant: String,
        /// The id of the entry.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// Two API key entries have the same digest (the same key).
    #[error("api keys {first:?} and {second:?} have the same sha256 (the same key)")]
    DuplicateApiKey {
        /// `tenant/id` of the first entry.
        first: String,
        /// `tenant/id` of the second entry.
        second: String,
    },
    /// A JWT issuer setting is missing or invalid.
    #[error("jwt {field}: {reason}")]
    Jwt {
        /// The setting, e.g. `issuer` or `jwks_url`.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The `jwks_file` could not be read.
    #[error("jwt jwks_file {}: {source}", path.display())]
    JwksFileRead {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The `jwks_file` is not a usable JWKS.
    #[error("jwt jwks_file {}: {reason}", path.display())]
    JwksFileInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl AuthConfigError {
    pub(crate) fn jwt(field: &'static str, reason: impl Into<String>) -> Self {
        AuthConfigError::Jwt {
            field,
            reason: reason.into(),
        }
    }
}
