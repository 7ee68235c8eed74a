//! `RedisTaskStore`: one hash per task (`v` version, `r` record JSON),
//! expiring with the task, and one sorted set per principal counting its
//! live tasks. Every script touches one key, so nothing spans two tasks
//! (or two hash slots on a Redis Cluster). A sorted set of the working
//! tasks by lease expiry (`tasks:{working}`) lets the orphan sweep find the
//! lapsed ones; it is written after each change, not atomically with it,
//! and `orphans` corrects what it finds stale.

use async_trait::async_trait;
use redis::Script;
use switchboard_store::{
    Admitted, Quota, StoreError, TaskRecord, TaskStatus, TaskStore, Versioned, now_ms,
};

use crate::conn::Redis;

/// Count a new task in its principal's set if there is room. Expired tasks
/// (score = expiry ms) leave the set first; the set expires with its
/// latest task. KEYS: the set. ARGV: id, expiry ms, now ms, cap.
/// Returns 1 when counted, 0 when full, 2 when the id is counted already.
const COUNT_LUA: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 2 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1
";

/// Store a new task at version 1 unless it exists.
/// KEYS: the task. ARGV: record JSON, expiry ms. Returns 1 when stored.
const CREATE_LUA: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', 1, 'r', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
";

/// Replace a task's record if it is at the expected version.
/// KEYS: the task. ARGV: version, record JSON, expiry ms.
/// Returns 1 when replaced.
const SWAP_LUA: &str = r"
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', tonumber(ARGV[1]) + 1, 'r', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
";

/// Task records in Redis, shared by every node with the same prefix.
#[derive(Debug, Clone)]
pub struct RedisTaskStore {
    redis: Redis,
    count: Script,
    create: Script,
    swap: Script,
}

impl RedisTaskStore {
    /// Task records on `redis`, under its key prefix. Sends nothing to
    /// Redis until used.
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            count: Script::new(COUNT_LUA),
            create: Script::new(CREATE_LUA),
            swap: Script::new(SWAP_LUA),
        }
    }

    fn encode(record: &TaskRecord) -> Result<String, StoreError> {
        serde_json::to_string(record)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode a task record: {e}")))
    }

    /// Keep the working index in line with `record` (best effort: a
    /// failure leaves it stale until a sweep corrects it).
    async fn index(&self, record: &TaskRecord) {
        let cmd = if record.status == TaskStatus::Working {
            let mut c = redis::cmd("ZADD");
            c.arg(self.redis.keys.tasks_working())
                .arg(record.lease_until_ms)
                .arg(&record.id);
            c
        } else {
            let mut c = redis::cmd("ZREM");
            c.arg(self.redis.keys.tasks_working()).arg(&record.id);
            c
        };
        let done = self
            .redis
            .bounded("index task", |mut c| async move {
                cmd.query_async::<()>(&mut c).await
            })
            .await;
        if let Err(e) = done {
            tracing::warn!(task = %record.id, error = %e, "cannot index the task for the orphan sweep");
        }
    }

    async fn unindex(&self, id: &str) {
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(self.redis.keys.tasks_working()).arg(id);
        let _ = self
            .redis
            .bounded("index task", |mut c| async move {
                cmd.query_async::<()>(&mut c).await
            })
            .await;
    }

    async fn run(&self, what: &str, call: redis::ScriptInvocation<'_>) -> Result<u8, StoreError> {
        self.redis
            .bounded(what, |mut c| async move { call.invoke_async(&mut c).await })
            .await
    }
}

#[async_trait]
impl TaskStore for RedisTaskStore {
    async fn create(&self, record: &TaskRecord, quota: &Quota) -> Result<Admitted, StoreError> {
        let k = &self.redis.keys;
        let json = Self::encode(record)?;
        let group = k.task_quota(&quota.group);
        let mut count = self.count.prepare_invoke();
        count
            .key(&group)
            .arg(&record.id)
            .arg(record.expires_ms())
            .arg(now_ms())
            .arg(quota.max);
        match self.run("task quota", count).await? {
            0 => return Ok(Admitted::Refused(0)),
            2 => return Err(StoreError::Exists),
            _ => {}
        }
        let mut create = self.create.prepare_invoke();
        create
            .key(k.task(&record.id))
            .arg(json)
            .arg(record.expires_ms());
        if self.run("create task", create).await? == 1 {
            self.index(record).await;
            return Ok(Admitted::Yes);
        }
        // Not ours: uncount it.
        let mut zrem = redis::cmd("ZREM");
        zrem.arg(group).arg(&record.id);
        self.redis
            .bounded("task quota", |mut c| async move {
                zrem.query_async::<()>(&mut c).await
            })
            .await?;
        Err(StoreError::Exists)
    }

    async fn load(&self, id: &str) -> Result<Option<Versioned>, StoreError> {
        let mut get = redis::cmd("HMGET");
        get.arg(self.redis.keys.task(id)).arg("v").arg("r");
        let (version, json): (Option<u64>, Option<String>) = self
            .redis
            .bounded(
                "load task",
                |mut c| async move { get.query_async(&mut c).await },
            )
            .await?;
        let (Some(version), Some(json)) = (version, json) else {
            return Ok(None);
        };
        let record: TaskRecord = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("task record {id}: {e}")))?;
        Ok((record.expires_ms() > now_ms()).then_some(Versioned { version, record }))
    }

    async fn swap(&self, version: u64, record: &TaskRecord) -> Result<bool, StoreError> {
        let mut swap = self.swap.prepare_invoke();
        swap.key(self.redis.keys.task(&record.id))
            .arg(version)
            .arg(Self::encode(record)?)
            .arg(record.expires_ms());
        let swapped = self.run("swap task", swap).await? == 1;
        if swapped {
            self.index(record).await;
        }
        Ok(swapped)
    }

    async fn orphans(&self, now: u64, max: usize) -> Result<Vec<String>, StoreError> {
        let mut range = redis::cmd("ZRANGEBYSCORE");
        range
            .arg(self.redis.keys.tasks_working())
            .arg("-inf")
            .arg(format!("({now}"))
            .arg("LIMIT")
            .arg(0)
            .arg(max);
        let ids: Vec<String> = self
            .redis
            .bounded("orphan tasks", |mut c| async move {
                range.query_async(&mut c).await
            })
            .await?;
        let mut found = Vec::new();
        for id in ids {
            match self.load(&id).await? {
                Some(v) if v.record.needs_runner(now) => found.push(id),
                Some(v) => self.index(&v.record).await,
                None => self.unindex(&id).await,
            }
        }
        Ok(found)
    }

    /// The principal's quota set names its live tasks (at most its cap).
    async fn list(
        &self,
        principal: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        let mut range = redis::cmd("ZRANGEBYSCORE");
        range
            .arg(self.redis.keys.task_quota(principal))
            .arg(format!("({}", now_ms()))
            .arg("+inf");
        let mut ids: Vec<String> = self
            .redis
            .bounded("list tasks", |mut c| async move {
                range.query_async(&mut c).await
            })
            .await?;
        ids.retain(|id| after.is_none_or(|a| id.as_str() > a));
        ids.sort();
        let mut found = Vec::new();
        for id in ids {
            if found.len() >= max {
                break;
            }
            if let Some(v) = self.load(&id).await?
                && v.record.principal == principal
            {
                found.push(v.record);
            }
        }
        Ok(found)
    }
}
