//! Property tests of configuration loading: any TOML text, any value of
//! any key, and any environment are loaded or refused with the key named,
//! never a panic; durations read as the number of units they spell or are
//! refused; and a loaded configuration written out loads back to itself.

use proptest::prelude::*;

use crate::config::Config;
use crate::proptest_cases::cases;

/// Keys of every kind: counts, durations, strings, switches, lists, tables.
const KEYS: [&str; 16] = [
    "max_body_bytes",
    "keep_alive_secs",
    "sse_retry_ms",
    "session_idle_secs",
    "queue_deadline_ms",
    "page_size",
    "listen",
    "allowed_hosts",
    "store",
    "redis_prefix",
    "config_watch",
    "session_cap_policy",
    "sealing_key",
    "owner_lease_ms",
    "auth.anonymous",
    "admin.node_id",
];

/// Keys whose values are durations (a number of units, or text with one).
const DURATIONS: [(&str, u64); 5] = [
    ("keep_alive_secs", 1_000),
    ("session_idle_secs", 1_000),
    ("sse_retry_ms", 1),
    ("queue_deadline_ms", 1),
    ("owner_lease_ms", 1),
];

/// A TOML value of any type, as text.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| format!("\"{n}\"")),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("1.5".to_owned()),
        "[ -~]{0,12}".prop_map(|s| toml::Value::String(s).to_string()),
        (any::<u64>(), "(ms|s|m|h|d| s|x|)").prop_map(|(n, u)| format!("\"{n}{u}\"")),
        Just("[]".to_owned()),
        Just("[\"a\", 1]".to_owned()),
        Just("{ a = 1 }".to_owned()),
        Just("\"127.0.0.1:0\"".to_owned()),
        Just("\"memory\"".to_owned()),
        Just("\"reject\"".to_owned()),
    ]
}

/// A configuration file of known keys with values of any type.
fn config_text() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(KEYS.to_vec()), toml_value()), 0..6).prop_map(
        |pairs| {
            let (mut top, mut auth, mut admin) = (String::new(), String::new(), String::new());
            let mut seen = std::collections::HashSet::new();
            for (key, value) in pairs {
                if !seen.insert(key) {
                    continue; // a key twice is a TOML error of no interest here
                }
                match key.split_once('.') {
                    Some(("auth", k)) => auth.push_str(&format!("{k} = {value}\n")),
                    Some((_, k)) => admin.push_str(&format!("{k} = {value}\n")),
                    None => top.push_str(&format!("{key} = {value}\n")),
                }
            }
            format!("{top}[auth]\n{auth}[admin]\n{admin}")
        },
    )
}

proptest! {
    #![proptest_config(cases(2000))]

    /// Any text at all: a configuration or an error, never a panic.
    #[test]
    fn any_text_never_panics(text in "\\PC{0,64}") {
        let _ = Config::from_toml(&text);
    }

    /// Known keys with values of any type: a configuration or an error
    /// naming a key, never a panic; what loads writes out and loads back
    /// to itself.
    #[test]
    fn any_values_load_or_are_refused(text in config_text()) {
        let Ok(config) = Config::from_toml(&text) else { return Ok(()) };
        let written = toml::to_string(&config).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again = Config::from_toml(&written).map_err(TestCaseError::fail)?;
        prop_assert_eq!(toml::to_string(&again).ok(), Some(written));
        // Secrets write themselves out redacted; only an inline Redis URL
        // is shown differently (less its password).
        if config.redis_url.is_none() {
            prop_assert_eq!(config.redacted_toml(), toml::to_string(&config).unwrap_or_default());
        }
    }

    /// A duration is the number of units it spells, or an error: never a
    /// wrapped or panicking product.
    #[test]
    fn durations_are_exact_or_refused(
        key in prop::sample::select(DURATIONS.to_vec()),
        n in prop_oneof![0u64..100_000, any::<u64>()],
        unit in prop::sample::select(vec![("ms", 1u64), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]),
    ) {
        let ((name, unit_ms), (suffix, factor)) = (key, unit);
        let text = format!("{name} = \"{n}{suffix}\"");
        let got = Config::from_toml(&text).ok().map(|c| {
            let v: toml::Value = toml::from_str(&toml::to_string(&c).unwrap_or_default()).unwrap_or(toml::Value::Integer(-1));
            v.get(name).and_then(toml::Value::as_integer)
        });
        let want = n
            .checked_mul(factor)
            .filter(|ms| ms % unit_ms == 0)
            .map(|ms| ms / unit_ms)
            .filter(|v| *v > 0 || name == "sse_retry_ms" || name == "queue_deadline_ms")
            .and_then(|v| i64::try_from(v).ok());
        if let Some(got) = got {
            prop_assert_eq!(got, want, "{}", text);
        } else if name != "owner_lease_ms" {
            // Refused: it did not fit, or was zero where zero is refused.
            prop_assert_eq!(want, None, "{} refused", text);
        }
    }

    /// Any environment: a configuration or an error, never a panic.
    #[test]
    fn any_environment_never_panics(
        vars in prop::collection::vec((
            prop_oneof![
                prop::sample::select(KEYS.to_vec()).prop_map(|k| format!("SWITCHBOARD_{}", k.replace('.', "__").to_uppercase())),
                "SWITCHBOARD_[A-Z_]{0,12}",
                Just("MCP_MAX_CONNECTIONS".to_owned()),
            ],
            prop_oneof![toml_value(), "\\PC{0,12}"],
        ), 0..4),
    ) {
        let _ = crate::layers::load(None, vars);
    }
}
