//! Session ids: 192 bits from the operating system's CSPRNG, base64url;
//! and their short form for logs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A fresh, unguessable session id of visible ASCII characters. It encodes
/// nothing: it is only a key, and is bound to its principal in the store.
pub fn mint_session_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The first characters of a session id, for logs, metrics and the audit
/// line (never the whole id: it is the session's only key).
pub fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_visible_ascii_and_distinct() {
        let a = super::mint_session_id().unwrap();
        let b = super::mint_session_id().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| (0x21..=0x7e).contains(&c)));
    }

    #[test]
    fn short_ids_keep_eight_characters_at_most() {
        assert_eq!(super::short("abcdefghijkl"), "abcdefgh");
        assert_eq!(super::short("abc"), "abc");
    }
}
