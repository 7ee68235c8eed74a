//! Durations given as a number (of the field's unit) or as text with a
//! unit: `500ms`, `30s`, `15m`, `4h`, `1d`.

use serde::{Deserialize, Deserializer, de::Error};

#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Number(u64),
    Text(String),
}

fn parse<'de, D: Deserializer<'de>>(d: D, unit_ms: u64) -> Result<u64, D::Error> {
    let text = match Raw::deserialize(d)? {
        Raw::Number(n) => return Ok(n),
        Raw::Text(t) => t,
    };
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let factor_ms: Option<u64> = match unit.trim() {
        "ms" => Some(1),
        "s" => Some(1_000),
        "m" => Some(60_000),
        "h" => Some(3_600_000),
        "d" => Some(86_400_000),
        _ => None,
    };
    let value = digits
        .parse::<u64>()
        .ok()
        .zip(factor_ms)
        .and_then(|(n, f)| n.checked_mul(f))
        .filter(|ms| ms % unit_ms == 0)
        .map(|ms| ms / unit_ms)
        // No more than a TOML number can say, so it can be written back.
        .filter(|v| i64::try_from(*v).is_ok());
    value.ok_or_else(|| {
        D::Error::custom(format!(
            "invalid duration {text:?}: expected a number or a value like 500ms, 30s, 15m, 4h"
        ))
    })
}

pub(crate) fn secs<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    parse(d, 1_000)
}

pub(crate) fn millis<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    parse(d, 1)
}
