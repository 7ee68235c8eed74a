//! One client of the authorization server: its redirect URIs, how it
//! authenticates at the token endpoint, and whether it gets refresh tokens.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::ClientConfig;
use crate::error::OAuthError;
use crate::hex;

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method", content = "sha256")]
pub(crate) enum AuthMethod {
    /// A public client: PKCE only.
    None,
    /// `client_secret_basic` (or `_post`): the secret's SHA-256 (hex).
    ClientSecretBasic(String),
    /// `client_secret_post`.
    ClientSecretPost(String),
}

impl AuthMethod {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic(_) => "client_secret_basic",
            Self::ClientSecretPost(_) => "client_secret_post",
        }
    }

    fn digest(&self) -> Option<&str> {
        match self {
            Self::None => None,
            Self::ClientSecretBasic(d) | Self::ClientSecretPost(d) => Some(d),
        }
    }
}

/// One client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Client {
    pub(crate) id: String,
    /// What the consent page calls it.
    pub(crate) name: String,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) auth: AuthMethod,
    /// Whether it gets refresh tokens.
    pub(crate) refresh: bool,
    /// Whether it was described by a metadata document.
    #[serde(default)]
    pub(crate) from_document: bool,
}

impl Client {
    pub(crate) fn configured(c: &ClientConfig) -> Self {
        Self {
            id: c.id.clone(),
            name: c.name.clone().unwrap_or_else(|| c.id.clone()),
            redirect_uris: c.redirect_uris.clone(),
            auth: match &c.secret_sha256 {
                None => AuthMethod::None,
                Some(d) => AuthMethod::ClientSecretBasic(d.expose().to_owned()),
            },
            refresh: true,
            from_document: false,
        }
    }

    /// Whether it is a public client (no secret).
    pub(crate) fn is_public(&self) -> bool {
        self.auth == AuthMethod::None
    }

    /// Check the credential a token request carries for this client: none
    /// for a public client, its secret for a confidential one (by `Basic`
    /// or in the form, whichever it registered, or either for a configured
    /// one).
    pub(crate) fn authenticate(&self, secret: Option<&str>) -> Result<(), OAuthError> {
        match (self.auth.digest(), secret) {
            (None, None) => Ok(()),
            (None, Some(_)) => Err(OAuthError::client("this client has no secret")),
            (Some(_), None) => Err(OAuthError::client("client authentication required")),
            (Some(want), Some(got)) => {
                let got = hex(&Sha256::digest(got.as_bytes()));
                if bool::from(got.as_bytes().ct_eq(want.as_bytes())) {
                    Ok(())
                } else {
                    Err(OAuthError::client("client authentication failed"))
                }
            }
        }
    }
}
