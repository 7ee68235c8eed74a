//! `RedisVaultStore`: the vault's sealed entries, one hash per tenant
//! (`<p>:vault:{<hex of tenant>}`, entry name → sealed bytes), so every
//! operation is one command on one key (one slot of a cluster).

use async_trait::async_trait;
use switchboard_store::{StoreError, VaultStore};

use crate::Redis;

/// The vault's entries in Redis.
#[derive(Debug, Clone)]
pub struct RedisVaultStore {
    redis: Redis,
}

impl RedisVaultStore {
    /// The vault on `redis`, under its key prefix.
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }
}

#[async_trait]
impl VaultStore for RedisVaultStore {
    async fn put(&self, tenant: &str, name: &str, sealed: &[u8]) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(self.redis.keys.vault(tenant)).arg(name).arg(sealed);
        self.redis
            .bounded("vault put", |mut c| async move {
                cmd.query_async::<()>(&mut c).await
            })
            .await
    }

    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("HGET");
        cmd.arg(self.redis.keys.vault(tenant)).arg(name);
        self.redis
            .bounded("vault get", |mut c| async move {
                cmd.query_async::<Option<Vec<u8>>>(&mut c).await
            })
            .await
    }

    async fn delete(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(self.redis.keys.vault(tenant)).arg(name);
        let removed: u64 = self
            .redis
            .bounded("vault delete", |mut c| async move {
                cmd.query_async(&mut c).await
            })
            .await?;
        Ok(removed > 0)
    }

    async fn names(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        let mut cmd = redis::cmd("HKEYS");
        cmd.arg(self.redis.keys.vault(tenant));
        let mut names: Vec<String> = self
            .redis
            .bounded("vault names", |mut c| async move {
                cmd.query_async(&mut c).await
            })
            .await?;
        names.sort();
        Ok(names)
    }
}
