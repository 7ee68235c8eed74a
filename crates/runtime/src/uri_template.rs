//! Matching URIs against simple RFC 6570 templates (`{var}` expressions).

use std::collections::HashMap;

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    Var(String),
}

/// A parsed URI template of literal text and `{name}` variables; a variable
/// matches one or more characters other than `/`, the same ones wherever
/// it appears.
#[derive(Debug, Clone)]
pub(crate) struct UriTemplate {
    parts: Vec<Part>,
}

impl UriTemplate {
    pub(crate) fn parse(template: &str) -> Self {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            parts.push(Part::Var(rest[open + 1..open + close].to_owned()));
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Self { parts }
    }

    /// The variables of `uri` if it matches.
    pub(crate) fn matches(&self, uri: &str) -> Option<HashMap<String, String>> {
        let mut vars = HashMap::new();
        let mut rest = uri;
        let mut parts = self.parts.iter().peekable();
        while let Some(part) = parts.next() {
            match part {
                Part::Literal(l) => rest = rest.strip_prefix(l.as_str())?,
                Part::Var(name) => {
                    let end = match parts.peek() {
                        Some(Part::Literal(next)) => rest.find(next.as_str())?,
                        _ => rest.len(),
                    };
                    let value = &rest[..end];
                    if value.is_empty() || value.contains('/') {
                        return None;
                    }
                    // A variable used twice has one value (RFC 6570).
                    if let Some(earlier) = vars.insert(name.clone(), value.to_owned())
                        && earlier != value
                    {
                        return None;
                    }
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(vars)
    }
}

/// Whether `uri` matches the RFC 6570 template `template` (the subset the
/// catalog supports).
pub fn template_matches(template: &str, uri: &str) -> bool {
    UriTemplate::parse(template).matches(uri).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_vars() {
        let t = UriTemplate::parse("test://template/{id}/data");
        assert_eq!(t.matches("test://template/123/data").unwrap()["id"], "123");
        assert!(t.matches("test://template//data").is_none());
        assert!(t.matches("test://template/1/2/data").is_none());
        assert!(t.matches("test://template/1/datax").is_none());
        let t = UriTemplate::parse("x://{a}");
        assert_eq!(t.matches("x://hello").unwrap()["a"], "hello");
    }

    mod properties {
        //! Property tests: no panic on any template or URI; a match gives
        //! variables that expand the template back to exactly the URI; and
        //! every expansion whose values can be told apart from the text
        //! after them matches with those values. Case counts are for CI;
        //! `PROPTEST_CASES=<n>` runs `n` (docs/testing.md).

        use proptest::prelude::*;
        use proptest::test_runner::Config as ProptestConfig;

        use super::*;

        fn cases(n: u32) -> ProptestConfig {
            let from_env = std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|v| v.parse().ok());
            ProptestConfig {
                cases: from_env.unwrap_or(n),
                ..ProptestConfig::default()
            }
        }

        /// The template filled with `vars`.
        fn expand(t: &UriTemplate, vars: &HashMap<String, String>) -> Option<String> {
            t.parts
                .iter()
                .map(|p| match p {
                    Part::Literal(l) => Some(l.clone()),
                    Part::Var(name) => vars.get(name).cloned(),
                })
                .collect()
        }

        /// Text for templates and URIs, rich in the characters that matter.
        fn text(max: usize) -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop_oneof![
                    4 => prop::sample::select(vec!['a', 'b', '/', ':', '.', '-', '{', '}']),
                    1 => any::<char>(),
                ],
                0..max,
            )
            .prop_map(|c| c.into_iter().collect())
        }

        /// A template of literals and distinct variables (a literal between
        /// any two variables), and a value for each variable.
        fn template_and_values() -> impl Strategy<Value = (String, Vec<(String, String)>)> {
            let literal = "[a-z:/.-]{1,6}";
            let value = "[a-z.:-]{1,6}";
            (
                prop::option::of(literal),
                prop::collection::vec((value, literal), 1..4),
                prop::option::of(value),
            )
                .prop_map(|(head, pairs, tail_var)| {
                    let mut template = head.unwrap_or_default();
                    let mut values = Vec::new();
                    for (i, (v, lit)) in pairs.into_iter().enumerate() {
                        template.push_str(&format!("{{v{i}}}{lit}"));
                        values.push((format!("v{i}"), v));
                    }
                    if let Some(v) = tail_var {
                        template.push_str("{last}");
                        values.push(("last".to_owned(), v));
                    }
                    (template, values)
                })
        }

        /// A template whose variables may repeat (`{a}-{a}`), and a URI
        /// filled with a value per occurrence, equal or not.
        fn repeated_and_uri() -> impl Strategy<Value = (String, String)> {
            prop::collection::vec(
                (
                    "[a-z:/.-]{1,3}",
                    prop::sample::select(vec!["a", "b"]),
                    "[a-z.]{1,3}",
                ),
                1..4,
            )
            .prop_map(|parts| {
                let (mut template, mut uri) = (String::new(), String::new());
                for (lit, name, value) in parts {
                    template.push_str(&format!("{lit}{{{name}}}"));
                    uri.push_str(&format!("{lit}{value}"));
                }
                (template, uri)
            })
        }

        proptest! {
            #![proptest_config(cases(4000))]

            /// With repeated variables too, a match is an expansion: one
            /// value per name, so `{a}-{a}` matches `x-x`, never `x-y`.
            #[test]
            fn repeated_variables_match_only_equal_values((template, uri) in repeated_and_uri()) {
                let t = UriTemplate::parse(&template);
                if let Some(vars) = t.matches(&uri) {
                    prop_assert_eq!(expand(&t, &vars), Some(uri));
                }
            }

            /// A match is an expansion: the variables it gives fill the
            /// template back to exactly the URI.
            #[test]
            fn a_match_expands_back_to_the_uri(template in text(16), uri in text(16)) {
                let t = UriTemplate::parse(&template);
                if let Some(vars) = t.matches(&uri) {
                    prop_assert_eq!(expand(&t, &vars), Some(uri));
                }
            }

            /// Every expansion matches, with its own values, unless a value
            /// holds the literal that follows it (then the split is
            /// ambiguous, the first occurrence wins, and a match must still
            /// be an expansion).
            #[test]
            fn expansions_match_with_their_values((template, values) in template_and_values()) {
                let t = UriTemplate::parse(&template);
                let vars: HashMap<String, String> = values.iter().cloned().collect();
                let uri = expand(&t, &vars).expect("every variable has a value");
                let ambiguous = t.parts.windows(2).any(|w| match w {
                    [Part::Var(name), Part::Literal(next)] => {
                        let v = &vars[name];
                        format!("{v}{next}").find(next.as_str()) != Some(v.len())
                    }
                    _ => false,
                });
                match t.matches(&uri) {
                    // Ambiguous: any match must still be an expansion.
                    Some(got) if ambiguous => prop_assert_eq!(expand(&t, &got), Some(uri)),
                    None if ambiguous => {}
                    got => {
                        prop_assert_eq!(got, Some(vars));
                        prop_assert!(template_matches(&template, &uri));
                    }
                }
            }
        }
    }
}
