//! What can keep an upstream from getting its token.

/// Why no token was had. Messages name the upstream and the provider's
/// answer, never a token.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Token exchange needs the caller's own JWT.
    #[error(
        "upstream {upstream} acts as the caller with a token exchanged for the caller's own; \
         only a caller authenticated with a JWT has one (not an API key, an anonymous caller or a task)"
    )]
    NoClientToken {
        /// The upstream.
        upstream: String,
    },
    /// The provider answered with an OAuth error (RFC 6749 §5.2).
    #[error("the identity provider refused a token for upstream {upstream}: {error}{description}")]
    Refused {
        /// The upstream.
        upstream: String,
        /// `error`.
        error: String,
        /// `: error_description`, if any.
        description: String,
    },
    /// The provider could not be reached, timed out, or failed.
    #[error("the identity provider for upstream {upstream} is unavailable: {reason}")]
    Unavailable {
        /// The upstream.
        upstream: String,
        /// What went wrong.
        reason: String,
    },
    /// The user has no grant for the upstream yet (or it was revoked):
    /// they sign in at `url` (Switchboard's connect page) first.
    #[error(
        "upstream {upstream} acts as you: sign in to it first at {url} (the link is yours alone and works once, for ten minutes), then call again"
    )]
    SignInRequired {
        /// The upstream.
        upstream: String,
        /// The connect page of the user's pending sign-in.
        url: String,
        /// The elicitation's id.
        id: String,
    },
    /// Too many failures in a row: not asked again until the cool-down
    /// ends.
    #[error(
        "the identity provider for upstream {upstream} is unavailable (circuit open); retry in {retry_secs} s"
    )]
    CircuitOpen {
        /// The upstream.
        upstream: String,
        /// Seconds until it is asked again.
        retry_secs: u64,
    },
}

impl IdentityError {
    /// The same error, naming `upstream`.
    pub(crate) fn for_upstream(self, name: &str) -> Self {
        let name = name.to_owned();
        match self {
            Self::NoClientToken { .. } => Self::NoClientToken { upstream: name },
            Self::Refused {
                error, description, ..
            } => Self::Refused {
                upstream: name,
                error,
                description,
            },
            Self::Unavailable { reason, .. } => Self::Unavailable {
                upstream: name,
                reason,
            },
            Self::CircuitOpen { retry_secs, .. } => Self::CircuitOpen {
                upstream: name,
                retry_secs,
            },
            Self::SignInRequired { url, id, .. } => Self::SignInRequired {
                upstream: name,
                url,
                id,
            },
        }
    }

    /// Whether the provider is at fault (unreachable, failing, circuit
    /// open), rather than the caller or the configuration.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::CircuitOpen { .. })
    }

    /// The audit trail's and metrics' short name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NoClientToken { .. } => "no_client_token",
            Self::Refused { .. } => "refused",
            Self::Unavailable { .. } => "unavailable",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::SignInRequired { .. } => "sign_in_required",
        }
    }
}
