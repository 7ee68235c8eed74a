//! The one reader of OAuth parameters, for query strings and form bodies
//! alike: `application/x-www-form-urlencoded` pairs, where a parameter
//! given twice is an error to whoever asks for it (RFC 6749 §3.1, §3.2),
//! bounded in count and size.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Most parameters read from one request.
const MAX_PARAMS: usize = 64;

/// The parameters of one request.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Parse `input`; too many parameters is an error.
    pub(crate) fn parse(input: &[u8]) -> Result<Self, String> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(input)
            .take(MAX_PARAMS + 1)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.len() > MAX_PARAMS {
            return Err(format!("more than {MAX_PARAMS} parameters"));
        }
        Ok(Self(pairs))
    }

    /// The value of `name`: none if absent or empty (RFC 6749 §3.1: an
    /// empty parameter is treated as omitted), an error if given twice.
    pub(crate) fn get(&self, name: &str) -> Result<Option<&str>, String> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(format!("{name} is given more than once"));
        }
        Ok(first.map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()))
    }
}

/// The client id and secret of an `Authorization: Basic` header (RFC 6749
/// §2.3.1: each form-urlencoded), if there is one; an error if malformed.
pub(crate) fn basic_credentials(
    headers: &http::HeaderMap,
) -> Result<Option<(String, String)>, String> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| "Authorization is not text")?;
    let Some((scheme, rest)) = text.split_once(' ') else {
        return Err("malformed Authorization header".into());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD
        .decode(rest.trim())
        .map_err(|_| "Basic credentials are not base64")?;
    let decoded = String::from_utf8(decoded).map_err(|_| "Basic credentials are not UTF-8")?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or("Basic credentials have no ':'")?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_empty() {
        let p = Params::parse(b"a=1&b=&c=2&c=3").unwrap();
        assert_eq!(p.get("a").unwrap(), Some("1"));
        assert_eq!(p.get("b").unwrap(), None);
        assert!(p.get("c").is_err());
        assert_eq!(p.get("d").unwrap(), None);
        let many = (0..100)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join("&");
        assert!(Params::parse(many.as_bytes()).is_err());
    }

    #[test]
    fn basic() {
        let mut h = http::HeaderMap::new();
        let v = STANDARD.encode("my%20client:s%3Acret");
        h.insert(
            http::header::AUTHORIZATION,
            format!("Basic {v}").parse().unwrap(),
        );
        assert_eq!(
            basic_credentials(&h).unwrap(),
            Some(("my client".into(), "s:cret".into()))
        );
        h.insert(http::header::AUTHORIZATION, "Basic !!".parse().unwrap());
        assert!(basic_credentials(&h).is_err());
        h.insert(http::header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert_eq!(basic_credentials(&h).unwrap(), None);
    }
}
