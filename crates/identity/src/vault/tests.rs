use std::sync::Arc;

use switchboard_store::{EntryStore, MemoryEntryStore};

use super::*;

fn key(id: &str, byte: u8) -> VaultKey {
    VaultKey {
        id: id.into(),
        key: [byte; 32],
    }
}

#[tokio::test]
async fn what_is_stored_is_sealed_and_opens_only_in_its_place() {
    let store = Arc::new(MemoryEntryStore::new());
    let vault = Vault::new(store.clone(), &[key("k1", 1)]).unwrap();
    vault
        .put("acme", "alice\0web", b"refresh-token-9d3e")
        .await
        .unwrap();
    let raw = store.get("acme", "alice\0web").await.unwrap().unwrap();
    assert!(!raw.windows(5).any(|w| w == b"token"), "ciphertext only");
    assert_eq!(
        vault.get("acme", "alice\0web").await.unwrap().as_deref(),
        Some(&b"refresh-token-9d3e"[..])
    );
    // Moved to another tenant or name, or tampered with: it does not open.
    store.put("globex", "alice\0web", &raw).await.unwrap();
    store.put("acme", "bob\0web", &raw).await.unwrap();
    assert!(vault.get("globex", "alice\0web").await.is_err());
    assert!(vault.get("acme", "bob\0web").await.is_err());
    let mut flipped = raw.clone();
    *flipped.last_mut().unwrap() ^= 1;
    store.put("acme", "alice\0web", &flipped).await.unwrap();
    let e = vault.get("acme", "alice\0web").await.unwrap_err();
    assert!(!e.to_string().contains("refresh-token"), "{e}");
    store.put("acme", "alice\0web", b"").await.unwrap();
    assert!(vault.get("acme", "alice\0web").await.is_err());
}

#[tokio::test]
async fn a_new_first_key_seals_and_old_entries_are_sealed_again_when_read() {
    let store = Arc::new(MemoryEntryStore::new());
    let old = Vault::new(store.clone(), &[key("2026-06", 1)]).unwrap();
    old.put("acme", "alice\0web", b"grant").await.unwrap();
    let rotated = Vault::new(store.clone(), &[key("2026-12", 2), key("2026-06", 1)]).unwrap();
    assert_eq!(
        rotated.get("acme", "alice\0web").await.unwrap().as_deref(),
        Some(&b"grant"[..])
    );
    // Read once, it is sealed with the new key: the old one can go.
    let only_new = Vault::new(store.clone(), &[key("2026-12", 2)]).unwrap();
    assert_eq!(
        only_new.get("acme", "alice\0web").await.unwrap().as_deref(),
        Some(&b"grant"[..])
    );
    // Without the key that sealed it, an entry does not open.
    old.put("acme", "bob\0web", b"other").await.unwrap();
    assert!(only_new.get("acme", "bob\0web").await.is_err());
}

#[test]
fn keys_are_checked() {
    let store: Arc<dyn EntryStore> = Arc::new(MemoryEntryStore::new());
    assert!(Vault::new(store.clone(), &[]).is_err());
    assert!(Vault::new(store.clone(), &[key("a", 1), key("a", 2)]).is_err());
    assert!(Vault::new(store.clone(), &[key("", 1)]).is_err());
    let shown = format!("{:?}", Vault::new(store, &[key("k", 7)]).unwrap());
    assert!(
        shown.contains("\"k\"") && !shown.contains("7, 7"),
        "{shown}"
    );
}
