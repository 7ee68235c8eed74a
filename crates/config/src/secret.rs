//! Secrets in the configuration: a string `Debug` never shows, and the
//! sealing key's encodings.

use serde::{Deserialize, Serialize};

/// A secret string: read and written as itself, shown by `Debug` as
/// `<redacted>` so it never reaches a log by accident.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(
    /// The secret itself.
    pub String,
);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A key given as hex or base64 (standard or URL-safe), at least 32 bytes.
pub(crate) fn decode_key(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let text = text.trim();
    let hex = || -> Option<Vec<u8>> {
        (text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit())).then(|| {
            (0..text.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
                .collect()
        })
    };
    let bytes = hex()
        .or_else(|| STANDARD.decode(text).ok())
        .or_else(|| URL_SAFE_NO_PAD.decode(text).ok())
        .ok_or("sealing_key must be hex or base64")?;
    if bytes.len() < 32 {
        return Err(format!(
            "sealing_key must be at least 32 bytes, got {}",
            bytes.len()
        ));
    }
    Ok(bytes)
}
