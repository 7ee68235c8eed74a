//! `RedisEventLog`: each SSE stream of a session is a Redis Stream whose
//! entry ids are `0-<seq>`, so Redis itself numbers the events of a stream
//! 1, 2, 3… (`XADD key … 0-*`) and `read_after` is one `XRANGE`.
//! Sessions with a standalone stream are registered in one sorted set on
//! the indexes' slot (`<p>:{idx}:gets`), read against `seen` so that only
//! live sessions are listed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use switchboard_store::{EventId, EventLog, StoreError, StoredEvent};

use crate::conn::Redis;

/// The field that holds an event's data in a stream entry.
const DATA: &str = "d";

/// KEYS: the registered set, `seen`. The registered sessions still live;
/// the others are removed (a session ended on a node that died before
/// `drop_session`).
const STANDALONE_LUA: &str = r#"
local live = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('ZSCORE', KEYS[2], id) then
    live[#live + 1] = id
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return live
"#;

/// Event logs in Redis Streams, bounded per stream by event count (and
/// approximately by bytes), with a TTL renewed on every append.
#[derive(Debug, Clone)]
pub struct RedisEventLog {
    redis: Redis,
    max_events: usize,
    max_bytes: usize,
    ttl: Duration,
    standalone_script: Arc<redis::Script>,
}

impl RedisEventLog {
    /// `max_events` and `max_bytes` bound each stream (see the crate docs
    /// for how closely); `ttl` is how long a stream outlives its last event,
    /// at least the longest life of a session.
    pub fn new(redis: Redis, max_events: usize, max_bytes: usize, ttl: Duration) -> Self {
        Self {
            redis,
            max_events: max_events.max(1),
            max_bytes: max_bytes.max(1),
            ttl: ttl.max(Duration::from_millis(1)),
            standalone_script: Arc::new(redis::Script::new(STANDALONE_LUA)),
        }
    }

    /// The `MAXLEN ~` threshold for a stream getting an event of `len`
    /// bytes: the event count, lowered so that that many events of this
    /// size stay within the byte bound.
    fn threshold(&self, len: usize) -> usize {
        let by_bytes = (self.max_bytes / len.max(1)).max(1);
        self.max_events.min(by_bytes)
    }
}

/// `0-<seq>` → seq.
fn parse_seq(entry: &str) -> Result<u64, StoreError> {
    entry
        .strip_prefix("0-")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("unexpected stream entry id {entry:?}")))
}

fn to_event(stream: u64, entry: (String, Vec<String>)) -> Result<StoredEvent, StoreError> {
    let (id, fields) = entry;
    let seq = parse_seq(&id)?;
    let data = match fields.as_slice() {
        [field, data] if field == DATA => data,
        _ => {
            return Err(StoreError::Corrupt(format!(
                "stream entry {id} has fields {fields:?}"
            )));
        }
    };
    Ok(StoredEvent {
        id: EventId { stream, seq },
        data: Arc::from(data.as_str()),
    })
}

#[async_trait]
impl EventLog for RedisEventLog {
    async fn append(
        &self,
        session: &str,
        stream: u64,
        data: Arc<str>,
    ) -> Result<EventId, StoreError> {
        let k = &self.redis.keys;
        let (key, set) = (k.stream(session, stream), k.streams(session));
        let ttl = self.ttl.as_millis() as u64;
        // Every key has the session's hash tag: one slot, one transaction.
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("XADD")
            .arg(&key)
            .arg("MAXLEN")
            .arg("~")
            .arg(self.threshold(data.len()))
            .arg("0-*")
            .arg(DATA)
            .arg(&*data);
        pipe.cmd("PEXPIRE").arg(&key).arg(ttl).ignore();
        pipe.cmd("SADD").arg(&set).arg(stream).ignore();
        pipe.cmd("PEXPIRE").arg(&set).arg(ttl).ignore();
        let (entry,): (String,) = self.redis.pipe("append", &pipe).await?;
        Ok(EventId {
            stream,
            seq: parse_seq(&entry)?,
        })
    }

    async fn read_after(
        &self,
        session: &str,
        after: EventId,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        if after.seq == u64::MAX {
            return Ok(Vec::new());
        }
        // Like the memory log: what is left after `after` — everything still
        // held if `after` was trimmed away, nothing for an unknown stream.
        let key = self.redis.keys.stream(session, after.stream);
        let from = format!("(0-{}", after.seq);
        let entries: Vec<(String, Vec<String>)> = self
            .redis
            .bounded("read_after", |mut c| async move {
                redis::cmd("XRANGE")
                    .arg(key)
                    .arg(from)
                    .arg("+")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        entries
            .into_iter()
            .map(|e| to_event(after.stream, e))
            .collect()
    }

    async fn drop_session(&self, session: &str) -> Result<(), StoreError> {
        let k = &self.redis.keys;
        let set = k.streams(session);
        let set_key = set.clone();
        let streams: Vec<u64> = self
            .redis
            .bounded("drop_session", |mut c| async move {
                redis::cmd("SMEMBERS")
                    .arg(set_key)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let mut del = redis::cmd("DEL");
        del.arg(&set);
        for s in streams {
            del.arg(k.stream(session, s));
        }
        self.redis
            .bounded("drop_session", |mut c| async move {
                del.query_async::<()>(&mut c).await
            })
            .await?;
        let (registered, id) = (k.standalone(), session.to_owned());
        self.redis
            .bounded("drop_session", |mut c| async move {
                redis::cmd("ZREM")
                    .arg(registered)
                    .arg(id)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }

    async fn register_standalone(&self, session: &str) -> Result<(), StoreError> {
        let (registered, id) = (self.redis.keys.standalone(), session.to_owned());
        let now = switchboard_store::now_ms();
        self.redis
            .bounded("register_standalone", |mut c| async move {
                redis::cmd("ZADD")
                    .arg(registered)
                    .arg("NX")
                    .arg(now)
                    .arg(id)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }

    async fn standalone_sessions(&self) -> Result<Vec<String>, StoreError> {
        let k = &self.redis.keys;
        let mut call = self.standalone_script.prepare_invoke();
        call.key(k.standalone()).key(k.seen());
        self.redis
            .bounded("standalone_sessions", |mut c| async move {
                call.invoke_async(&mut c).await
            })
            .await
    }

    async fn last_seq(&self, session: &str, stream: u64) -> Result<u64, StoreError> {
        let key = self.redis.keys.stream(session, stream);
        let last: Vec<(String, Vec<String>)> = self
            .redis
            .bounded("last_seq", |mut c| async move {
                redis::cmd("XREVRANGE")
                    .arg(key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        last.first().map_or(Ok(0), |(id, _)| parse_seq(id))
    }

    /// Not known on this node without a round trip: Redis holds the bytes
    /// (its `INFO memory` tells them). Always 0.
    fn bytes(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::parse_seq;

    #[test]
    fn entry_ids() {
        assert_eq!(parse_seq("0-7").ok(), Some(7));
        assert!(parse_seq("1700000000000-0").is_err());
        assert!(parse_seq("0-x").is_err());
    }
}
