//! `SessionOwners` on Redis: one hash per session, `<prefix>:own:{<id>}`
//! (`node`, `url`, `until` in ms on Redis's clock), changed only by Lua
//! scripts so a claim is a compare-and-set: two nodes never both win.
//! The hash outlives its lease (it expires with the session's records) so a
//! lapsed owner is still known and the next claim reports a takeover.

use std::time::Duration;

use redis::Script;
use switchboard_store::{Claim, SessionOwners, StoreError};

use crate::conn::Redis;

/// `KEYS[1]` the record; `ARGV` node, url, lease ms, key TTL ms.
/// Returns `{'new'}`, `{'mine'}`, `{'took', from}` or `{'other', node, url}`.
const CLAIM_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur = redis.call('HMGET', KEYS[1], 'node', 'url', 'until')
local function take()
  redis.call('HSET', KEYS[1], 'node', ARGV[1], 'url', ARGV[2], 'until', now + tonumber(ARGV[3]))
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
if cur[1] == ARGV[1] then take(); return {'mine'} end
if cur[1] and tonumber(cur[3] or '0') > now then return {'other', cur[1], cur[2] or ''} end
take()
if cur[1] then return {'took', cur[1]} end
return {'new'}
";

/// `KEYS[1]` the record; `ARGV` node, lease ms (0: release). 1 if still
/// the node's (and renewed or released), else 0.
const RENEW_LUA: &str = r"
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
local untl = 0
if lease > 0 then untl = now + lease end
redis.call('HSET', KEYS[1], 'until', untl)
return 1
";

/// Owner records shared by every node on one Redis and prefix.
#[derive(Debug, Clone)]
pub struct RedisSessionOwners {
    redis: Redis,
    claim: Script,
    /// How long a record outlives its last claim (the sessions' longest life).
    ttl: Duration,
}

impl RedisSessionOwners {
    /// Owner records on `redis`, each kept `ttl` past its last claim.
    pub fn new(redis: Redis, ttl: Duration) -> Self {
        Self {
            redis,
            claim: Script::new(CLAIM_LUA),
            ttl,
        }
    }

    fn key(&self, session: &str) -> String {
        format!("{}:own:{{{session}}}", self.redis.keys.prefix())
    }

    /// Renew (`lease_ms` > 0) or release (0) `sessions` held by `node`:
    /// one pipelined round trip per [`BATCH`] sessions. Returns those no
    /// longer `node`'s.
    async fn set_leases(
        &self,
        sessions: &[String],
        node: &str,
        lease_ms: u64,
    ) -> Result<Vec<String>, StoreError> {
        let mut lost = Vec::new();
        for chunk in sessions.chunks(BATCH) {
            // EVAL with the script's text, not EVALSHA after a SCRIPT LOAD:
            // on a Redis Cluster this pipeline is split per slot, and a
            // SCRIPT LOAD would reach one master only (or a master that
            // has just been replaced), leaving the others to answer
            // NOSCRIPT. The text is a few hundred bytes per session, once
            // per third of a lease.
            let mut pipe = redis::pipe();
            for s in chunk {
                pipe.cmd("EVAL")
                    .arg(RENEW_LUA)
                    .arg(1)
                    .arg(self.key(s))
                    .arg(node)
                    .arg(lease_ms);
            }
            let kept: Vec<i64> = self.redis.pipe("owner renew", &pipe).await?;
            lost.extend(
                chunk
                    .iter()
                    .zip(kept)
                    .filter(|(_, k)| *k != 1)
                    .map(|(s, _)| s.clone()),
            );
        }
        Ok(lost)
    }
}

/// Sessions renewed in one round trip.
const BATCH: usize = 256;

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait::async_trait]
impl SessionOwners for RedisSessionOwners {
    async fn claim(
        &self,
        session: &str,
        node: &str,
        url: &str,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        let mut call = self.claim.prepare_invoke();
        call.key(self.key(session))
            .arg(node)
            .arg(url)
            .arg(ms(lease))
            .arg(ms(self.ttl.max(lease)));
        let reply: Vec<String> = self
            .redis
            .bounded("owner claim", |mut c| async move {
                call.invoke_async(&mut c).await
            })
            .await?;
        let mut it = reply.into_iter();
        match (it.next().as_deref(), it.next(), it.next()) {
            (Some("new"), ..) => Ok(Claim::New),
            (Some("mine"), ..) => Ok(Claim::Mine),
            (Some("took"), Some(from), _) => Ok(Claim::TookOver { from }),
            (Some("other"), Some(node), Some(url)) => Ok(Claim::Other { node, url }),
            other => Err(StoreError::Corrupt(format!(
                "the owner claim answered {other:?}"
            ))),
        }
    }

    async fn renew(
        &self,
        sessions: &[String],
        node: &str,
        lease: Duration,
    ) -> Result<Vec<String>, StoreError> {
        self.set_leases(sessions, node, ms(lease)).await
    }

    async fn release(&self, sessions: &[String], node: &str) -> Result<(), StoreError> {
        self.set_leases(sessions, node, 0).await.map(drop)
    }
}
