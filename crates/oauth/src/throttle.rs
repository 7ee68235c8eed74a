//! Limits on what anyone can ask of the authorization server without a
//! credential, per node (GCRA, `switchboard-limits`): sign-in attempts
//! per user name (a password guesser gets ten tries per ten minutes per
//! name), new authorization requests (each is kept in the store for
//! `login_secs`), and registrations.

use std::time::Duration;

use switchboard_limits::{Decision, MemoryRateLimiter, Rate, RateLimiter};

use crate::error::OAuthError;

/// What is limited.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// Sign-in attempts of one user name.
    SignIn,
    /// Authorization requests kept for a sign-in.
    Authorize,
    /// Client registrations.
    Register,
}

impl Kind {
    fn rate(self) -> Rate {
        let (per_second, burst) = match self {
            Kind::SignIn => (10.0 / 600.0, 10),
            Kind::Authorize => (20.0, 200),
            Kind::Register => (1.0, 20),
        };
        Rate::new(per_second, burst).expect("a positive rate")
    }

    fn name(self) -> &'static str {
        match self {
            Kind::SignIn => "sign-in attempts for this name",
            Kind::Authorize => "authorization requests",
            Kind::Register => "client registrations",
        }
    }
}

/// The node's counts.
#[derive(Debug, Default)]
pub(crate) struct Throttle(MemoryRateLimiter);

impl Throttle {
    /// Take one of `kind` for `key`; refused with when to retry.
    pub(crate) async fn take(&self, kind: Kind, key: &str) -> Result<(), OAuthError> {
        let key = format!("{kind:?}:{key}");
        match self.0.check(&key, kind.rate()).await {
            Ok(Decision::Allowed { .. }) => Ok(()),
            Ok(Decision::Limited { retry_after }) => Err(OAuthError::too_many(format!(
                "too many {}; retry in {} s",
                kind.name(),
                retry_after.max(Duration::from_secs(1)).as_secs()
            ))),
            // The memory limiter does not fail; if it did, let the request go.
            Err(_) => Ok(()),
        }
    }
}
