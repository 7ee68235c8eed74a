//! Why a JWT was not accepted.

/// Why a JWT was not accepted. Neither the messages nor
/// [`description`](JwtError::description) ever contain the token; strings
/// taken from the token (an algorithm name, a `kid`) are cut short and
/// reduced to harmless characters.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Not a well-formed compact JWS / JWT.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header's `alg` is not accepted here (including `none`), or does
    /// not fit the key the `kid` names.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// No key for the token (the `kid`, or `(no kid)`), even after
    /// refetching the JWKS.
    #[error("unknown signing key: {0}")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// `exp` is past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` names none of the configured audiences.
    #[error("wrong audience")]
    WrongAudience,
    /// A required claim is missing or not of the right type.
    #[error("missing or invalid claim: {0}")]
    MissingClaim(&'static str),
    /// The JWKS could not be fetched: a problem on the server's side.
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
}

impl JwtError {
    /// Short text for `WWW-Authenticate`'s `error_description`: no secrets,
    /// no token, no `"` or `\`.
    pub fn description(&self) -> String {
        match self {
            JwtError::KeysUnavailable(_) => "signing keys unavailable".to_owned(),
            other => other.to_string(),
        }
    }

    /// Whether the failure is the server's (the JWKS could not be fetched):
    /// answer 503 rather than 401.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, JwtError::KeysUnavailable(_))
    }

    pub(crate) fn malformed(reason: &str) -> Self {
        JwtError::Malformed(reason.to_owned())
    }
}

/// A string from a token made safe to log and to quote in a header: at most
/// 64 characters of `[A-Za-z0-9._~:/+=@-]`, anything else as `?`.
pub(crate) fn clean(text: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = text
        .chars()
        .take(MAX)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._~:/+=@-".contains(c) {
                c
            } else {
                '?'
            }
        })
        .collect();
    if text.chars().count() > MAX {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_safe() {
        assert_eq!(clean("key-1"), "key-1");
        assert_eq!(clean("a\"b\\c\r\nd é"), "a?b?c??d??");
        assert_eq!(clean(&"x".repeat(100)).len(), 67);
        let e = JwtError::KeysUnavailable("http://user:pw@idp/ connect refused".into());
        assert_eq!(e.description(), "signing keys unavailable");
        assert!(e.is_unavailable());
        assert!(!JwtError::Expired.is_unavailable());
        assert_eq!(
            JwtError::MissingClaim("tenant").description(),
            "missing or invalid claim: tenant"
        );
        assert_eq!(
            JwtError::UnsupportedAlgorithm("none".into()).description(),
            "unsupported algorithm: none"
        );
    }
}
