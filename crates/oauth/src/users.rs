//! The local user list: names, argon2 password hashes (PHC strings), and
//! the tenant and scopes each user's tokens carry.

use std::collections::HashMap;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::{Argon2, PasswordHasher};

use crate::config::UserConfig;

/// Longest password looked at, in bytes.
pub(crate) const MAX_PASSWORD: usize = 1024;

/// A hash checked for unknown names, so the time taken does not tell
/// which names exist (argon2id of a random password).
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3dpdGNoYm9hcmRkZWNveQ$0kCBH7T1gfA6wZkRz3xPpU9Ybq6b1oJYvF0q9V5yqyg";

/// Whom a grant is for, and what it gives: who signed in (at the
/// identity provider or from the user list) and the scopes granted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Grantee {
    pub(crate) subject: String,
    pub(crate) tenant: String,
    pub(crate) scopes: Vec<String>,
}

/// Who signed in: the token's subject, tenant and the scopes they may
/// grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub(crate) subject: String,
    pub(crate) tenant: String,
    pub(crate) scopes: Vec<String>,
}

/// The configured users.
#[derive(Debug, Default)]
pub(crate) struct Users {
    by_name: HashMap<String, (Arc<str>, User)>,
}

impl Users {
    pub(crate) fn new(users: &[UserConfig]) -> Self {
        let by_name = users
            .iter()
            .map(|u| {
                let user = User {
                    subject: u.name.clone(),
                    tenant: u.tenant.clone(),
                    scopes: u.scopes.clone(),
                };
                (u.name.clone(), (Arc::from(u.password_hash.expose()), user))
            })
            .collect();
        Self { by_name }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The user `name`, if `password` is theirs. Slow on purpose (argon2):
    /// run it off the async threads.
    pub(crate) fn check(&self, name: &str, password: &str) -> Option<User> {
        if password.len() > MAX_PASSWORD {
            return None;
        }
        let (hash, user) = match self.by_name.get(name) {
            Some((hash, user)) => (&**hash, Some(user)),
            None => (DECOY, None),
        };
        let ok = PasswordHash::new(hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
        user.filter(|_| ok).cloned()
    }
}

/// The argon2id hash (PHC string) of `password`, with a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt_bytes: [u8; 16] = crate::random_bytes();
    let salt =
        argon2::password_hash::SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_secret::Secret;

    #[test]
    fn passwords() {
        let hash = hash_password("correct horse").unwrap();
        crate::config::check_hash(&hash).unwrap();
        assert!(crate::config::check_hash("plain").is_err());
        crate::config::check_hash(DECOY).unwrap();
        let users = Users::new(&[UserConfig {
            name: "alice".into(),
            password_hash: Secret::new(hash),
            tenant: "acme".into(),
            scopes: vec!["tools".into()],
        }]);
        assert_eq!(
            users.check("alice", "correct horse").unwrap().tenant,
            "acme"
        );
        assert!(users.check("alice", "wrong").is_none());
        assert!(users.check("bob", "correct horse").is_none());
    }
}
