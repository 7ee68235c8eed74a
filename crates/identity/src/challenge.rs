//! A resource server's `WWW-Authenticate` challenge (RFC 9110 §11.6.1):
//! the `Bearer` challenge's parameters an OAuth client acts on — where the
//! protected-resource metadata is (`resource_metadata`, RFC 9728 §5.1),
//! the scope the request needs (`scope`, RFC 6750 §3) and the error
//! (`invalid_token`, `insufficient_scope`).

/// What a `Bearer` (or `DPoP`) challenge says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    /// `resource_metadata`: the protected-resource metadata's URL.
    pub resource_metadata: Option<String>,
    /// `scope`, split on spaces.
    pub scope: Vec<String>,
    /// `error`.
    pub error: Option<String>,
}

impl Challenge {
    /// The `Bearer` challenge among `header`'s (several may be given,
    /// comma-separated), or else a `DPoP` one; `None` if there is neither
    /// or the header does not parse.
    pub fn parse(header: &str) -> Option<Self> {
        let challenges = parse_all(header)?;
        let pick = |scheme: &str| {
            challenges
                .iter()
                .find(|(s, _)| s.eq_ignore_ascii_case(scheme))
        };
        let (_, params) = pick("bearer").or_else(|| pick("dpop"))?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        Some(Self {
            resource_metadata: get("resource_metadata").filter(|v| !v.is_empty()),
            scope: get("scope")
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            error: get("error").filter(|v| !v.is_empty()),
        })
    }

    /// Whether `header` has a `DPoP` challenge whose error is
    /// `use_dpop_nonce`: the resource server wants its nonce in the proof
    /// (RFC 9449 §9).
    pub fn asks_dpop_nonce(header: &str) -> bool {
        parse_all(header).is_some_and(|all| {
            all.iter().any(|(scheme, params)| {
                scheme.eq_ignore_ascii_case("dpop")
                    && params
                        .iter()
                        .any(|(k, v)| k.eq_ignore_ascii_case("error") && v == "use_dpop_nonce")
            })
        })
    }

    /// Whether the token lacks a scope the request needs (RFC 6750 §3.1).
    pub fn insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }
}

type Params = Vec<(String, String)>;

/// Every challenge: its scheme and its auth-params (a token68 is kept
/// under the name `""`).
fn parse_all(header: &str) -> Option<Vec<(String, Params)>> {
    let mut p = Parser {
        text: header.as_bytes(),
        at: 0,
    };
    let mut found: Vec<(String, Params)> = Vec::new();
    loop {
        p.skip_separators();
        if p.done() {
            return Some(found);
        }
        let word = p.token()?;
        p.skip_spaces();
        if p.peek() == Some(b'=') && !found.is_empty() {
            // name=value of the current challenge.
            p.at += 1;
            p.skip_spaces();
            let value = if p.peek() == Some(b'"') {
                p.quoted()?
            } else {
                p.token68()?
            };
            found.last_mut()?.1.push((word.to_ascii_lowercase(), value));
            continue;
        }
        // A new challenge: its scheme, then a token68 or params.
        found.push((word, Vec::new()));
        p.skip_spaces();
        let save = p.at;
        if let Some(t) = p.token68() {
            let mut look = p.clone();
            look.skip_spaces();
            if look.peek() == Some(b'=') {
                // It was a parameter name: read it as one.
                p.at = save;
            } else if !t.is_empty() && t.ends_with('=') {
                found.last_mut()?.1.push((String::new(), t));
            } else {
                p.at = save;
            }
        }
    }
}

#[derive(Clone)]
struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.at >= self.text.len()
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.at += 1;
        }
    }

    /// An RFC 9110 token.
    fn token(&mut self) -> Option<String> {
        let start = self.at;
        while let Some(c) = self.peek() {
            let tchar = c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
            if !tchar {
                break;
            }
            self.at += 1;
        }
        (self.at > start).then(|| String::from_utf8_lossy(&self.text[start..self.at]).into_owned())
    }

    /// A token68 (a token, and `/`, `=` at its end), or a plain token.
    fn token68(&mut self) -> Option<String> {
        let start = self.at;
        while let Some(c) = self.peek() {
            let ok = c.is_ascii_alphanumeric() || b"-._~+/!#$%&'*^`|".contains(&c);
            if !ok {
                break;
            }
            self.at += 1;
        }
        while self.peek() == Some(b'=') {
            // A trailing `=` of a token68, unless it starts a parameter's
            // value (`name=` then a value): a token68 ends the challenge.
            let mut look = self.clone();
            look.at += 1;
            look.skip_spaces();
            if matches!(look.peek(), None | Some(b',' | b'=')) {
                self.at += 1;
            } else {
                break;
            }
        }
        (self.at > start).then(|| String::from_utf8_lossy(&self.text[start..self.at]).into_owned())
    }

    /// A quoted-string, unescaped.
    fn quoted(&mut self) -> Option<String> {
        if self.peek() != Some(b'"') {
            return None;
        }
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.at += 1;
                    out.push(self.peek()?);
                    self.at += 1;
                }
                c => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_challenge_s_parameters() {
        let c = Challenge::parse(
            r#"Bearer error="invalid_token", error_description="Missing Authorization header", scope="mcp:basic mcp:read", resource_metadata="http://localhost:3000/.well-known/oauth-protected-resource/mcp""#,
        )
        .unwrap();
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        assert_eq!(c.scope, ["mcp:basic", "mcp:read"]);
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("http://localhost:3000/.well-known/oauth-protected-resource/mcp")
        );
        assert!(!c.insufficient_scope());
    }

    #[test]
    fn insufficient_scope_tokens_quotes_and_escapes() {
        let c = Challenge::parse(
            r#"bearer scope="mcp:write", resource_metadata="https://r.example/m", error=insufficient_scope, error_description="say \"please\"""#,
        )
        .unwrap();
        assert!(c.insufficient_scope());
        assert_eq!(c.scope, ["mcp:write"]);
        assert_eq!(c.resource_metadata.as_deref(), Some("https://r.example/m"));
    }

    #[test]
    fn the_bearer_one_of_several_challenges() {
        let c = Challenge::parse(
            r#"Basic realm="x", DPoP algs="ES256", Bearer realm="mcp", scope="a""#,
        )
        .unwrap();
        assert_eq!(c.scope, ["a"]);
        let dpop = Challenge::parse(r#"DPoP algs="ES256 PS256", scope="b""#).unwrap();
        assert_eq!(dpop.scope, ["b"]);
        assert!(Challenge::asks_dpop_nonce(
            r#"Bearer realm="x", DPoP error="use_dpop_nonce", resource_metadata="https://r/m""#
        ));
        assert!(!Challenge::asks_dpop_nonce(
            r#"Bearer error="use_dpop_nonce""#
        ));
        assert!(!Challenge::asks_dpop_nonce(r#"DPoP error="invalid_token""#));
        let token68 = Challenge::parse("Negotiate abc123==, Bearer scope=\"c\"").unwrap();
        assert_eq!(token68.scope, ["c"]);
        assert_eq!(Challenge::parse(r#"Basic realm="x""#), None);
        assert_eq!(
            Challenge::parse("Bearer"),
            Some(Challenge::default()),
            "a bare scheme"
        );
        assert_eq!(Challenge::parse(r#"Bearer scope="unterminated"#), None);
    }
}
