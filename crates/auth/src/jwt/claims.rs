//! The claims of a verified token that Switchboard uses, and the checks of
//! `iss`, `aud`, `sub` and the tenant claim (`exp` and `nbf` are checked
//! with the signature).

use serde_json::{Map, Value};

use super::error::JwtError;

/// Who a verified token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The tenant claim's value.
    pub tenant: String,
    /// `sub`.
    pub subject: String,
    /// Scopes from `scope` (space-separated) or `scp` (array or
    /// space-separated string).
    pub scopes: Vec<String>,
    /// `exp`, in seconds since the Unix epoch.
    pub expires_at: u64,
    /// Every claim of the token, for policies that read them (`groups`,
    /// `email`, …).
    pub all: std::sync::Arc<Map<String, Value>>,
}

/// What the claims are checked against.
#[derive(Debug, Clone)]
pub(crate) struct Expect {
    pub(crate) issuer: String,
    pub(crate) audience: Vec<String>,
    pub(crate) tenant_claim: &'static str,
}

/// Check and extract the claims of a token whose signature, `exp` and `nbf`
/// are verified.
pub(crate) fn extract(claims: &Map<String, Value>, expect: &Expect) -> Result<Claims, JwtError> {
    match claims.get("iss") {
        None | Some(Value::Null) => return Err(JwtError::MissingClaim("iss")),
        Some(Value::String(iss)) if *iss == expect.issuer => {}
        Some(_) => return Err(JwtError::WrongIssuer),
    }
    let meant_for_us = |aud: &Value| {
        aud.as_str()
            .is_some_and(|a| expect.audience.iter().any(|ours| ours == a))
    };
    match claims.get("aud") {
        None | Some(Value::Null) => return Err(JwtError::MissingClaim("aud")),
        Some(aud @ Value::String(_)) if meant_for_us(aud) => {}
        Some(Value::Array(auds)) if auds.iter().any(meant_for_us) => {}
        Some(_) => return Err(JwtError::WrongAudience),
    }
    let text = |name: &'static str| match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(JwtError::MissingClaim(name)),
    };
    let subject = text("sub")?;
    let tenant = text(expect.tenant_claim)?;
    let expires_at = match claims.get("exp") {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .ok_or(JwtError::MissingClaim("exp"))?,
        _ => return Err(JwtError::MissingClaim("exp")),
    };
    Ok(Claims {
        tenant,
        subject,
        scopes: scopes(claims)?,
        expires_at,
        all: std::sync::Arc::new(claims.clone()),
    })
}

/// `scope` (RFC 8693 / RFC 9068: a space-separated string), else `scp` (an
/// array of strings, or a space-separated string).
fn scopes(claims: &Map<String, Value>) -> Result<Vec<String>, JwtError> {
    let split = |s: &str| s.split_whitespace().map(str::to_owned).collect();
    match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => Ok(split(s)),
        (Some(Value::Null) | None, Some(Value::String(s))) => Ok(split(s)),
        (Some(Value::Null) | None, Some(Value::Array(items))) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| JwtError::malformed("scp is not an array of strings")),
        (Some(Value::Null) | None, Some(Value::Null) | None) => Ok(Vec::new()),
        (Some(_), _) => Err(JwtError::malformed("scope is not a string")),
        (_, Some(_)) => Err(JwtError::malformed("scp is neither a string nor an array")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn expect() -> Expect {
        Expect {
            issuer: "https://idp".into(),
            audience: vec!["https://mcp".into(), "mcp".into()],
            tenant_claim: "org",
        }
    }

    fn run(v: Value) -> Result<Claims, JwtError> {
        extract(v.as_object().unwrap(), &expect())
    }

    fn good() -> Value {
        json!({"iss": "https://idp", "aud": "mcp", "sub": "alice", "org": "acme", "exp": 99})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = good();
        v[key] = value;
        v
    }

    fn without(key: &str) -> Value {
        let mut v = good();
        v.as_object_mut().unwrap().remove(key);
        v
    }

    #[test]
    fn accepts_and_extracts() {
        let c = run(good()).unwrap();
        assert_eq!(
            (c.tenant.as_str(), c.subject.as_str(), c.expires_at),
            ("acme", "alice", 99)
        );
        assert!(c.scopes.is_empty());
        let c = run(with("aud", json!(["other", "https://mcp"]))).unwrap();
        assert_eq!(c.subject, "alice");
        assert_eq!(run(with("exp", json!(99.7))).unwrap().expires_at, 99);
    }

    #[test]
    fn scopes_from_scope_or_scp() {
        let c = run(with("scope", json!(" read  write "))).unwrap();
        assert_eq!(c.scopes, ["read", "write"]);
        assert_eq!(
            run(with("scp", json!(["a", "b:c"]))).unwrap().scopes,
            ["a", "b:c"]
        );
        assert_eq!(run(with("scp", json!("x y"))).unwrap().scopes, ["x", "y"]);
        assert!(matches!(
            run(with("scp", json!([1]))),
            Err(JwtError::Malformed(_))
        ));
        assert!(matches!(
            run(with("scope", json!(["a"]))),
            Err(JwtError::Malformed(_))
        ));
    }

    #[test]
    fn rejects_with_the_exact_reason() {
        let e = |v| run(v).unwrap_err();
        assert!(matches!(e(without("iss")), JwtError::MissingClaim("iss")));
        assert!(matches!(
            e(with("iss", json!("https://idp/"))),
            JwtError::WrongIssuer
        ));
        assert!(matches!(
            e(with("iss", json!(["https://idp"]))),
            JwtError::WrongIssuer
        ));
        assert!(matches!(e(without("aud")), JwtError::MissingClaim("aud")));
        assert!(matches!(
            e(with("aud", json!("https://mcp/x"))),
            JwtError::WrongAudience
        ));
        assert!(matches!(e(with("aud", json!([]))), JwtError::WrongAudience));
        assert!(matches!(e(with("aud", json!(7))), JwtError::WrongAudience));
        assert!(matches!(e(without("sub")), JwtError::MissingClaim("sub")));
        assert!(matches!(
            e(with("sub", json!(""))),
            JwtError::MissingClaim("sub")
        ));
        assert!(matches!(e(without("org")), JwtError::MissingClaim("org")));
        assert!(matches!(
            e(with("org", json!(5))),
            JwtError::MissingClaim("org")
        ));
        assert!(matches!(e(without("exp")), JwtError::MissingClaim("exp")));
    }
}
