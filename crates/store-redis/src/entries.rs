//! `RedisEntryStore`: entries of one space, one hash per group
//! (`<p>:<space>:{<hex of group>}`, entry name → bytes: the vault's sealed
//! entries by tenant, pins by upstream), so every operation is one command
//! on one key (one slot of a cluster).

use async_trait::async_trait;
use switchboard_store::{EntryStore, Space, StoreError};

use crate::Redis;

/// Entries of one space in Redis.
#[derive(Debug, Clone)]
pub struct RedisEntryStore {
    redis: Redis,
    space: Space,
}

impl RedisEntryStore {
    /// The entries of `space` on `redis`, under its key prefix.
    pub fn new(redis: Redis, space: Space) -> Self {
        Self { redis, space }
    }

    fn key(&self, group: &str) -> String {
        self.redis.keys.entries(self.space, group)
    }
}

#[async_trait]
impl EntryStore for RedisEntryStore {
    async fn put(&self, tenant: &str, name: &str, sealed: &[u8]) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(self.key(tenant)).arg(name).arg(sealed);
        self.redis
            .bounded("entry put", |mut c| async move {
                cmd.query_async::<()>(&mut c).await
            })
            .await
    }

    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("HGET");
        cmd.arg(self.key(tenant)).arg(name);
        self.redis
            .bounded("entry get", |mut c| async move {
                cmd.query_async::<Option<Vec<u8>>>(&mut c).await
            })
            .await
    }

    async fn delete(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(self.key(tenant)).arg(name);
        let removed: u64 = self
            .redis
            .bounded("entry delete", |mut c| async move {
                cmd.query_async(&mut c).await
            })
            .await?;
        Ok(removed > 0)
    }

    async fn names(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        let mut cmd = redis::cmd("HKEYS");
        cmd.arg(self.key(tenant));
        let mut names: Vec<String> = self
            .redis
            .bounded("entry names", |mut c| async move {
                cmd.query_async(&mut c).await
            })
            .await?;
        names.sort();
        Ok(names)
    }

    async fn entries(&self, group: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(self.key(group));
        let mut all: Vec<(String, Vec<u8>)> = self
            .redis
            .bounded("entry list", |mut c| async move {
                cmd.query_async(&mut c).await
            })
            .await?;
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }
}
