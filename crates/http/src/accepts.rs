//! What a client's `Accept` header allows: JSON, an SSE stream, or both.

use http::{HeaderMap, header};

/// What the client's `Accept` header allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepts {
    /// `application/json` is acceptable.
    pub json: bool,
    /// `text/event-stream` is acceptable.
    pub sse: bool,
}

impl Accepts {
    /// Read every `Accept` header (RFC 9110 §12.5.1). A type is acceptable
    /// when the most specific range naming it (`application/json` before
    /// `application/*` before `*/*`) has a weight above 0; without any
    /// `Accept` header, everything is.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut json = Best::default();
        let mut sse = Best::default();
        let mut seen = false;
        for value in headers.get_all(header::ACCEPT) {
            for item in value.to_str().unwrap_or("").split(',') {
                seen = true;
                let mut parts = item.split(';');
                let range = parts.next().unwrap_or("").trim();
                let acceptable = parts.all(|p| !is_zero_weight(p));
                json.offer(range, "application/json", acceptable);
                sse.offer(range, "text/event-stream", acceptable);
            }
        }
        if !seen {
            // No Accept header at all means anything is acceptable (RFC 9110).
            return Accepts {
                json: true,
                sse: true,
            };
        }
        Accepts {
            json: json.acceptable,
            sse: sse.acceptable,
        }
    }
}

/// The most specific media range seen so far that names one type.
#[derive(Default)]
struct Best {
    /// 0: none yet; 1: `*/*`; 2: `type/*`; 3: the type itself.
    specificity: u8,
    acceptable: bool,
}

impl Best {
    /// `range` as sent (media types compare without regard to case),
    /// `media` in lower case.
    fn offer(&mut self, range: &str, media: &str, acceptable: bool) {
        let specificity = if range.eq_ignore_ascii_case(media) {
            3
        } else if range.strip_suffix("/*").is_some_and(|t| {
            media
                .split('/')
                .next()
                .is_some_and(|m| t.eq_ignore_ascii_case(m))
        }) {
            2
        } else if range == "*/*" {
            1
        } else {
            return;
        };
        // Equally specific ranges: the type is acceptable if any allows it.
        if specificity > self.specificity {
            *self = Best {
                specificity,
                acceptable,
            };
        } else if specificity == self.specificity {
            self.acceptable |= acceptable;
        }
    }
}

/// Whether a media-range parameter is a weight of zero (`q=0`, `q=0.000`).
fn is_zero_weight(param: &str) -> bool {
    let Some((name, value)) = param.split_once('=') else {
        return false;
    };
    let value = value.trim();
    name.trim().eq_ignore_ascii_case("q")
        && value.starts_with('0')
        && value[1..]
            .strip_prefix('.')
            .unwrap_or(&value[1..])
            .bytes()
            .all(|b| b == b'0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn accept_parsing() {
        let a = Accepts::from_headers(&headers(&[(
            "accept",
            "application/json, text/event-stream",
        )]));
        assert_eq!(
            a,
            Accepts {
                json: true,
                sse: true
            }
        );
        let a = Accepts::from_headers(&headers(&[("accept", "text/event-stream;q=0.9")]));
        assert_eq!(
            a,
            Accepts {
                json: false,
                sse: true
            }
        );
        let a = Accepts::from_headers(&headers(&[("accept", "text/html")]));
        assert_eq!(
            a,
            Accepts {
                json: false,
                sse: false
            }
        );
        let a = Accepts::from_headers(&headers(&[]));
        assert_eq!(
            a,
            Accepts {
                json: true,
                sse: true
            }
        );
    }

    #[test]
    fn media_ranges_compare_without_regard_to_case() {
        let both = Accepts {
            json: true,
            sse: true,
        };
        for accept in [
            "Application/JSON, TEXT/Event-Stream",
            "APPLICATION/*, Text/*",
            "application/Json;Q=1, text/event-stream",
        ] {
            assert_eq!(
                Accepts::from_headers(&headers(&[("accept", accept)])),
                both,
                "{accept}"
            );
        }
        let json_only =
            Accepts::from_headers(&headers(&[("accept", "Application/Json, TEXT/*;q=0")]));
        assert_eq!(
            json_only,
            Accepts {
                json: true,
                sse: false
            }
        );
    }

    #[test]
    fn a_zero_weight_excludes_a_type() {
        let accepts = |v: &str| {
            let a = Accepts::from_headers(&headers(&[("accept", v)]));
            (a.json, a.sse)
        };
        assert_eq!(
            accepts("application/json;q=0, text/event-stream"),
            (false, true)
        );
        assert_eq!(accepts("application/json; q=0.000, */*"), (false, true));
        assert_eq!(accepts("*/*;q=0, text/event-stream"), (false, true));
        assert_eq!(accepts("text/*;q=0, */*"), (true, false));
        assert_eq!(
            accepts("application/json;q=0.5, text/event-stream;q=0.1"),
            (true, true)
        );
        assert_eq!(
            accepts("application/json;q=0, application/json"),
            (true, false)
        );
        assert_eq!(accepts("*/*;Q=0"), (false, false));
    }
}
