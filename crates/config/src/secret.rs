//! The sealing key's encodings (the [`Secret`] type itself lives in
//! `switchboard-secret`, below every crate that takes a credential).

pub use switchboard_secret::Secret;

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
