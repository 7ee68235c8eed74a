//! Session ids: 192 bits from the operating system's CSPRNG, base64url.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A fresh, unguessable session id of visible ASCII characters. It encodes
/// nothing: it is only a key, and is bound to its principal in the store.
pub(crate) fn mint_session_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
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
}
