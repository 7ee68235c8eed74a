//! `RedisSessionStore`: a record per session, sorted-set indexes for the
//! questions asked of all sessions at once.

use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use switchboard_store::{
    Admitted, DEFAULT_MAX_RECORD_BYTES, Expiry, Page, Quota, SessionRecord, SessionStore,
    StoreError, Updated,
};

use crate::conn::Redis;

/// Sessions removed by one `expire` call per rule at most; the next sweep
/// takes the rest. Keeps the script (which blocks Redis) short.
const EXPIRE_BATCH: usize = 1000;

/// Takes the sessions a rule covers out of every index at once and returns
/// their ids: the script runs atomically, so when several nodes sweep at the
/// same time each expired session is returned to exactly one of them.
/// KEYS: seen, created, uninit, tethered, ids (one hash slot: the `{idx}`
/// tag). ARGV: idle_before, created_before, uninitialized_before,
/// untethered_before, batch.
const EXPIRE_LUA: &str = r"
local out, taken = {}, {}
for i = 1, 4 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[i], 'LIMIT', 0, ARGV[5])
  for _, id in ipairs(ids) do
    if not taken[id] then
      taken[id] = true
      out[#out + 1] = id
    end
  end
end
for _, id in ipairs(out) do
  for i = 1, 5 do redis.call('ZREM', KEYS[i], id) end
end
return out
";

/// Renews tethered sessions: `last seen` and the tethered index moved
/// forward, for each session `seen` still holds.
/// KEYS: seen, tethered. ARGV: now, then the ids.
const RENEW_LUA: &str = r"
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'GT', ARGV[1], ARGV[i])
    redis.call('ZADD', KEYS[2], 'GT', ARGV[1], ARGV[i])
  end
end
";

/// What the quota scripts share: `prune` drops the members of a group's
/// set no longer live (out of `seen`, KEYS[1]: deleted, expired, evicted,
/// killed), so ending a session needs no step of its own and a node that
/// dies holds nothing; `held` sums a byte set's scores.
const QUOTA_LUA: &str = r"
local function prune(key)
  for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if not redis.call('ZSCORE', KEYS[1], m) then redis.call('ZREM', key, m) end
  end
end
local function held(key)
  local sum, r = 0, redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  for j = 2, #r, 2 do sum = sum + tonumber(r[j]) end
  return sum
end
";

/// Announces a new session in the indexes if every quota group has room,
/// and counts it in each (its id in the group's set, its size in the
/// group's byte set): atomically, so nodes admitting at once never pass a
/// quota together. A group at its cap or over its byte budget is first
/// pruned of the members no longer live, and checked again. Pruning costs
/// one `ZSCORE` per member, only when a group is full; a byte budget costs
/// a sum over the group's byte set at each admission. A group's keys
/// expire with the record TTL (renewed at each admission), so the sets of
/// an identity never seen again go with its last session.
/// KEYS: seen, created, uninit, ids, then per group its set and byte set.
/// ARGV: id, created, last seen, initialized (0/1), TTL ms (0: none),
/// record bytes, then per group its cap and byte budget (-1: none).
/// Returns 0 when admitted, else the 1-based index of the full group,
/// negated when it is its byte budget that is full.
const ADMIT_LUA: &str = r"
local id, bytes = ARGV[1], tonumber(ARGV[6])
local function full(g)
  if redis.call('ZCARD', KEYS[3 + 2 * g]) >= tonumber(ARGV[5 + 2 * g]) then return g end
  local budget = tonumber(ARGV[6 + 2 * g])
  if budget >= 0 and held(KEYS[4 + 2 * g]) + bytes > budget then return -g end
  return 0
end
for g = 1, (#KEYS - 4) / 2 do
  if full(g) ~= 0 then
    prune(KEYS[3 + 2 * g])
    prune(KEYS[4 + 2 * g])
    local still = full(g)
    if still ~= 0 then return still end
  end
end
for g = 1, (#KEYS - 4) / 2 do
  local set, sizes = KEYS[3 + 2 * g], KEYS[4 + 2 * g]
  redis.call('ZADD', set, ARGV[2], id)
  redis.call('ZADD', sizes, bytes, id)
  if ARGV[5] ~= '0' then
    redis.call('PEXPIRE', set, ARGV[5])
    redis.call('PEXPIRE', sizes, ARGV[5])
  end
end
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], id)
redis.call('ZADD', KEYS[4], 'NX', 0, id)
if ARGV[4] == '0' then redis.call('ZADD', KEYS[3], 'NX', ARGV[2], id) end
redis.call('ZADD', KEYS[1], 'NX', ARGV[3], id)
return 0
";

/// Counts a session record's new size in the byte set of each group it
/// was admitted to, if every group with a budget has room for its growth
/// (a group over its budget is pruned first, as at admission). A group
/// that does not count the session (admitted without it) is left alone.
/// KEYS: seen, then each group's byte set. ARGV: id, record bytes, then
/// each group's byte budget (-1: none).
/// Returns 0 when counted, else the 1-based index of the full group.
const RESIZE_LUA: &str = r"
local id, bytes = ARGV[1], tonumber(ARGV[2])
local function full(g)
  local old, budget = redis.call('ZSCORE', KEYS[g + 1], id), tonumber(ARGV[g + 2])
  if not old or budget < 0 or bytes <= tonumber(old) then return false end
  return held(KEYS[g + 1]) - tonumber(old) + bytes > budget
end
for g = 1, #KEYS - 1 do
  if full(g) then
    prune(KEYS[g + 1])
    if full(g) then return g end
  end
end
for g = 1, #KEYS - 1 do redis.call('ZADD', KEYS[g + 1], 'XX', bytes, id) end
return 0
";

/// Session records in Redis. Liveness is membership of the `seen` index:
/// `create` adds to it last, `delete` and `expire` take from it first, and
/// `load`, `touch` and `count` read it.
#[derive(Debug, Clone)]
pub struct RedisSessionStore {
    redis: Redis,
    record_ttl: Option<Duration>,
    max_record_bytes: usize,
    expire_script: Script,
    renew_script: Script,
    admit_script: Script,
    resize_script: Script,
}

impl RedisSessionStore {
    /// Session records on `redis`, under its key prefix: records of at most
    /// 64 KiB and no Redis TTL (see the `with_*` methods). Sends nothing
    /// to Redis until used.
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            record_ttl: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            expire_script: Script::new(EXPIRE_LUA),
            renew_script: Script::new(RENEW_LUA),
            admit_script: Script::new(&format!("{QUOTA_LUA}{ADMIT_LUA}")),
            resize_script: Script::new(&format!("{QUOTA_LUA}{RESIZE_LUA}")),
        }
    }

    /// Keep no record over `max` bytes ([`SessionRecord::stored_bytes`]:
    /// the length of the JSON value written). Default 64 KiB.
    pub fn with_max_record_bytes(mut self, max: usize) -> Self {
        self.max_record_bytes = max;
        self
    }

    /// Give each record a Redis TTL (longer than the longest session life),
    /// so a record whose index entries were lost (a node died between the
    /// two steps of `create`) still disappears. Default: none.
    pub fn with_record_ttl(mut self, ttl: Duration) -> Self {
        self.record_ttl = Some(ttl);
        self
    }

    fn encode(&self, record: &SessionRecord) -> Result<Vec<u8>, StoreError> {
        record.encode_within(self.max_record_bytes)
    }

    /// The stored record with `last_seen_ms` from the `seen` index.
    fn decode(id: &str, json: &str, seen: f64) -> Result<SessionRecord, StoreError> {
        let mut record: SessionRecord = serde_json::from_str(json)
            .map_err(|e| StoreError::Corrupt(format!("session record {id}: {e}")))?;
        if !seen.is_finite() || seen < 0.0 {
            return Err(StoreError::Corrupt(format!(
                "session {id}: last seen {seen}"
            )));
        }
        record.last_seen_ms = record.last_seen_ms.max(seen as u64);
        Ok(record)
    }

    /// First step of `create`: the record, if no session has this id.
    async fn put_new(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let mut set = redis::cmd("SET");
        set.arg(self.redis.keys.session(&record.id))
            .arg(self.encode(record)?)
            .arg("NX");
        if let Some(ttl) = self.record_ttl {
            set.arg("PX").arg(ttl.as_millis() as u64);
        }
        let created: Option<String> = self
            .redis
            .bounded(
                "create",
                |mut c| async move { set.query_async(&mut c).await },
            )
            .await?;
        created.map(drop).ok_or(StoreError::Exists)
    }

    /// Records of `ids` that are still live, in the order given.
    async fn load_many(&self, ids: &[String]) -> Result<Vec<SessionRecord>, StoreError> {
        self.load_pipe(ids, None).await
    }

    /// Records of `ids` that are still live, in the order given, in one
    /// pipeline; with `touch`, each one's `last seen` is first moved
    /// forward to it (`ZADD XX GT`, as in `touch`), in the same pipeline.
    async fn load_pipe(
        &self,
        ids: &[String],
        touch: Option<u64>,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let k = &self.redis.keys;
        let mut pipe = redis::pipe();
        for id in ids {
            if let Some(now_ms) = touch {
                pipe.cmd("ZADD")
                    .arg(k.seen())
                    .arg("XX")
                    .arg("GT")
                    .arg(now_ms)
                    .arg(id)
                    .ignore();
            }
            pipe.cmd("GET").arg(k.session(id));
            pipe.cmd("ZSCORE").arg(k.seen()).arg(id);
        }
        let replies: Vec<(Option<String>, Option<f64>)> = self.redis.pipe("load", &pipe).await?;
        let mut out = Vec::with_capacity(ids.len());
        for (id, reply) in ids.iter().zip(replies) {
            if let (Some(json), Some(seen)) = reply {
                out.push(Self::decode(id, &json, seen)?);
            }
        }
        Ok(out)
    }
}

/// A quota's byte budget as the scripts take it (-1: none).
fn budget(q: &Quota) -> i64 {
    q.max_bytes
        .map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX))
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn held(&self, ids: &[String]) -> Result<Vec<bool>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Membership of `seen` is what makes a session live.
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("ZSCORE").arg(self.redis.keys.seen()).arg(id);
        }
        let scores: Vec<Option<f64>> = self.redis.pipe("held", &pipe).await?;
        Ok(scores.into_iter().map(|s| s.is_some()).collect())
    }

    async fn create(&self, record: SessionRecord) -> Result<(), StoreError> {
        self.put_new(&record).await?;
        let k = &self.redis.keys;
        let id = record.id.as_str();
        // Second step: announce the session in the indexes (one slot, so
        // one transaction). `seen` goes last: from then on it is live.
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("ZADD")
            .arg(k.created())
            .arg("NX")
            .arg(record.created_at_ms)
            .arg(id);
        pipe.cmd("ZADD").arg(k.ids()).arg("NX").arg(0).arg(id);
        if !record.initialized {
            pipe.cmd("ZADD")
                .arg(k.uninit())
                .arg("NX")
                .arg(record.created_at_ms)
                .arg(id);
        }
        if record.tethered {
            pipe.cmd("ZADD")
                .arg(k.tethered())
                .arg("NX")
                .arg(record.last_seen_ms)
                .arg(id);
        }
        pipe.cmd("ZADD")
            .arg(k.seen())
            .arg("NX")
            .arg(record.last_seen_ms)
            .arg(id);
        self.redis.pipe::<()>("create", &pipe).await
    }

    async fn create_within(
        &self,
        record: SessionRecord,
        quotas: &[Quota],
    ) -> Result<Admitted, StoreError> {
        if quotas.is_empty() {
            return self.create(record).await.map(|()| Admitted::Yes);
        }
        self.put_new(&record).await?;
        let k = &self.redis.keys;
        let mut call = self.admit_script.prepare_invoke();
        call.key(k.seen())
            .key(k.created())
            .key(k.uninit())
            .key(k.ids());
        call.arg(&record.id)
            .arg(record.created_at_ms)
            .arg(record.last_seen_ms)
            .arg(u8::from(record.initialized))
            .arg(self.record_ttl.map_or(0, |t| t.as_millis() as u64))
            .arg(record.stored_bytes());
        for q in quotas {
            call.key(k.quota(&q.group))
                .key(k.quota_bytes(&q.group))
                .arg(q.max)
                .arg(budget(q));
        }
        let full: i64 = self
            .redis
            .bounded(
                "admit",
                |mut c| async move { call.invoke_async(&mut c).await },
            )
            .await?;
        if full == 0 {
            if record.tethered {
                self.renew(std::slice::from_ref(&record.id), record.last_seen_ms)
                    .await?;
            }
            return Ok(Admitted::Yes);
        }
        // Refused: the record no index names goes (its TTL would take it).
        let key = k.session(&record.id);
        self.redis
            .bounded("admit", |mut c| async move {
                redis::cmd("DEL").arg(key).query_async::<()>(&mut c).await
            })
            .await?;
        let group = full.unsigned_abs() as usize - 1;
        Ok(if full > 0 {
            Admitted::Refused(group)
        } else {
            Admitted::OverBytes(group)
        })
    }

    async fn load(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.load_many(&[id.to_owned()]).await?.pop())
    }

    async fn load_and_touch(
        &self,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        // The hot path when a refresh is due: still one round trip. The
        // score read after `ZADD XX` says whether the session is live.
        Ok(self.load_pipe(&[id.to_owned()], Some(now_ms)).await?.pop())
    }

    async fn update(&self, record: &SessionRecord) -> Result<bool, StoreError> {
        let k = &self.redis.keys;
        let id = record.id.as_str();
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(k.session(id))
            .arg(self.encode(record)?)
            .arg("XX")
            .arg("KEEPTTL");
        // XX: never brings an index entry back for a session gone meanwhile.
        pipe.cmd("ZADD")
            .arg(k.seen())
            .arg("XX")
            .arg("GT")
            .arg(record.last_seen_ms)
            .arg(id)
            .ignore();
        if record.initialized {
            pipe.cmd("ZREM").arg(k.uninit()).arg(id).ignore();
        }
        let (replaced,): (Option<String>,) = self.redis.pipe("update", &pipe).await?;
        Ok(replaced.is_some())
    }

    async fn update_within(
        &self,
        record: &SessionRecord,
        quotas: &[Quota],
    ) -> Result<Updated, StoreError> {
        // The bound first: a record refused for its size counts nowhere.
        record.check_size(self.max_record_bytes)?;
        if !quotas.is_empty() {
            let k = &self.redis.keys;
            let mut call = self.resize_script.prepare_invoke();
            call.key(k.seen())
                .arg(&record.id)
                .arg(record.stored_bytes());
            for q in quotas {
                call.key(k.quota_bytes(&q.group)).arg(budget(q));
            }
            let full: usize = self
                .redis
                .bounded(
                    "resize",
                    |mut c| async move { call.invoke_async(&mut c).await },
                )
                .await?;
            if full > 0 {
                return Ok(Updated::OverBytes(full - 1));
            }
        }
        // Counted first, written second (the record and the groups are on
        // different slots): a write that finds the session gone leaves a
        // size on a member the next pruning drops.
        Ok(if self.update(record).await? {
            Updated::Yes
        } else {
            Updated::Gone
        })
    }

    async fn touch(&self, id: &str, now_ms: u64) -> Result<bool, StoreError> {
        // The hot path: one round trip. XX GT moves `last seen` forward only,
        // and only for a session still in the index; the score says whether
        // it is.
        let seen = self.redis.keys.seen();
        let mut pipe = redis::pipe();
        pipe.cmd("ZADD")
            .arg(seen)
            .arg("XX")
            .arg("GT")
            .arg(now_ms)
            .arg(id)
            .ignore();
        pipe.cmd("ZSCORE").arg(seen).arg(id);
        let (score,): (Option<f64>,) = self.redis.pipe("touch", &pipe).await?;
        Ok(score.is_some())
    }

    async fn renew(&self, ids: &[String], now_ms: u64) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        // One round trip, one slot. The script adds a session to the
        // tethered index only while `seen` holds it, so a renewal racing a
        // delete brings nothing back.
        let k = &self.redis.keys;
        let mut call = self.renew_script.prepare_invoke();
        call.key(k.seen()).key(k.tethered()).arg(now_ms);
        for id in ids {
            call.arg(id);
        }
        self.redis
            .bounded("renew", |mut c| async move {
                call.invoke_async::<()>(&mut c).await
            })
            .await
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let k = &self.redis.keys;
        let mut pipe = redis::pipe();
        pipe.cmd("ZREM").arg(k.seen()).arg(id);
        for index in [k.created(), k.uninit(), k.tethered(), k.ids()] {
            pipe.cmd("ZREM").arg(index).arg(id).ignore();
        }
        pipe.cmd("DEL").arg(k.session(id)).ignore();
        let (removed,): (u32,) = self.redis.pipe("delete", &pipe).await?;
        Ok(removed > 0)
    }

    async fn scan(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<SessionRecord>, StoreError> {
        if limit == 0 {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        // The cursor is the last id returned; ids are paged in byte order,
        // so a scan is stable while sessions come and go.
        let from = cursor.map_or_else(|| "-".to_owned(), |c| format!("({c}"));
        let ids_key = self.redis.keys.ids().to_owned();
        let mut ids: Vec<String> = self
            .redis
            .bounded("scan", |mut c| async move {
                redis::cmd("ZRANGEBYLEX")
                    .arg(ids_key)
                    .arg(from)
                    .arg("+")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit + 1)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let next = if ids.len() > limit {
            ids.truncate(limit);
            ids.last().cloned()
        } else {
            None
        };
        let items = if ids.is_empty() {
            Vec::new()
        } else {
            self.load_many(&ids).await?
        };
        Ok(Page { items, next })
    }

    async fn expire(&self, rule: Expiry) -> Result<Vec<String>, StoreError> {
        let k = &self.redis.keys;
        let mut call = self.expire_script.prepare_invoke();
        call.key(k.seen())
            .key(k.created())
            .key(k.uninit())
            .key(k.tethered())
            .key(k.ids());
        call.arg(rule.idle_before_ms)
            .arg(rule.created_before_ms)
            .arg(rule.uninitialized_before_ms)
            .arg(rule.untethered_before_ms)
            .arg(EXPIRE_BATCH);
        let expired: Vec<String> = self
            .redis
            .bounded(
                "expire",
                |mut c| async move { call.invoke_async(&mut c).await },
            )
            .await?;
        if !expired.is_empty() {
            // The sessions are already gone (out of every index); their
            // records are left to their TTL if this fails.
            let mut pipe = redis::pipe();
            for id in &expired {
                pipe.cmd("DEL").arg(k.session(id)).ignore();
            }
            if let Err(e) = self.redis.pipe::<()>("expire", &pipe).await {
                tracing::warn!(error = %e, count = expired.len(), "expired session records not deleted");
            }
        }
        Ok(expired)
    }

    async fn count(&self) -> Result<usize, StoreError> {
        let seen = self.redis.keys.seen().to_owned();
        self.redis
            .bounded("count", |mut c| async move {
                redis::cmd("ZCARD").arg(seen).query_async(&mut c).await
            })
            .await
    }

    async fn longest_idle(&self, idle_before_ms: u64) -> Result<Option<String>, StoreError> {
        let seen = self.redis.keys.seen().to_owned();
        let ids: Vec<String> = self
            .redis
            .bounded("longest_idle", |mut c| async move {
                redis::cmd("ZRANGEBYSCORE")
                    .arg(seen)
                    .arg("-inf")
                    .arg(format!("({idle_before_ms}"))
                    .arg("LIMIT")
                    .arg(0)
                    .arg(1)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(ids.into_iter().next())
    }
}
