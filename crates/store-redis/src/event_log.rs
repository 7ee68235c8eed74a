//! `RedisEventLog`: each SSE stream of a session is a Redis Stream whose
//! entry ids are `0-<seq>`, so Redis itself numbers the events of a stream
//! 1, 2, 3… (`XADD key … 0-*`) and `read_after` is one `XRANGE`.
//! Sessions with a standalone stream are registered in one sorted set on
//! the indexes' slot (`<p>:{idx}:gets`), read against `seen` so that only
//! live sessions are listed.
//!
//! Each stream is bounded by the configured event count and bytes; a
//! session keeps its standalone stream and its [`MAX_REQUEST_STREAMS`]
//! latest request streams (the memory store bounds a session's events as
//! a whole; without this, a long session's finished request streams would
//! pile up in Redis for as long as it lives).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use switchboard_store::{EventId, EventLog, STANDALONE_STREAM, StoreError, StoredEvent};

use crate::conn::Redis;

/// The field that holds an event's data in a stream entry.
const DATA: &str = "d";

/// Request streams (one per request answered as SSE) a session keeps
/// resumable in Redis; a new one beyond them drops the oldest. A client
/// resumes a request's stream while the request runs, or just after it
/// lost the connection: the latest streams are the ones that matter.
pub const MAX_REQUEST_STREAMS: usize = 32;

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
    /// A request stream began: drop the session's oldest ones beyond
    /// [`MAX_REQUEST_STREAMS`] (a rare second round trip, once per stream
    /// and only past the bound).
    async fn keep_latest(&self, session: &str) -> Result<(), StoreError> {
        let k = &self.redis.keys;
        let set = k.request_streams(session);
        let excess = -(MAX_REQUEST_STREAMS as i64) - 1;
        let set_key = set.clone();
        let old: Vec<u64> = self
            .redis
            .bounded("append", |mut c| async move {
                redis::cmd("ZRANGE")
                    .arg(set_key)
                    .arg(0)
                    .arg(excess)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        if old.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut del = redis::cmd("DEL");
        let mut rem = redis::cmd("ZREM");
        rem.arg(&set);
        let mut forget = redis::cmd("HDEL");
        forget.arg(k.stream_requests(session));
        for s in &old {
            del.arg(k.stream(session, *s));
            rem.arg(*s);
            forget.arg(*s);
        }
        pipe.add_command(del).ignore();
        pipe.add_command(rem).ignore();
        pipe.add_command(forget).ignore();
        let () = self.redis.pipe("append", &pipe).await?;
        Ok(())
    }

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

/// When a request stream began, in µs since the epoch on this node's
/// clock (its score: distinct for streams begun one after another, exact
/// in a double until 2255).
fn began_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
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
        let (key, set) = (k.stream(session, stream), k.request_streams(session));
        let ttl = self.ttl.as_millis() as u64;
        let request = stream != STANDALONE_STREAM;
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
        if request {
            pipe.cmd("ZADD")
                .arg(&set)
                .arg("NX")
                .arg(began_us())
                .arg(stream);
            pipe.cmd("PEXPIRE").arg(&set).arg(ttl).ignore();
        } else {
            // Something for the reply's second value.
            pipe.cmd("ECHO").arg(0);
        }
        let (entry, began): (String, u64) = self.redis.pipe("append", &pipe).await?;
        if began == 1 && request {
            self.keep_latest(session).await?;
        }
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
        let (set, old_set) = (k.request_streams(session), k.streams(session));
        let mut read = redis::pipe();
        read.cmd("ZRANGE").arg(&set).arg(0).arg(-1);
        read.cmd("SMEMBERS").arg(&old_set);
        let (streams, old): (Vec<u64>, Vec<u64>) = self.redis.pipe("drop_session", &read).await?;
        let mut del = redis::cmd("DEL");
        del.arg(&set).arg(&old_set).arg(k.stream_requests(session));
        del.arg(k.stream(session, STANDALONE_STREAM));
        for s in streams.into_iter().chain(old) {
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

    async fn note_request(&self, session: &str, stream: u64, id: &str) -> Result<(), StoreError> {
        let key = self.redis.keys.stream_requests(session);
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("HSET").arg(&key).arg(stream).arg(id).ignore();
        pipe.cmd("PEXPIRE")
            .arg(&key)
            .arg(self.ttl.as_millis() as u64)
            .ignore();
        let () = self.redis.pipe("note_request", &pipe).await?;
        Ok(())
    }

    async fn request_of(&self, session: &str, stream: u64) -> Result<Option<String>, StoreError> {
        let key = self.redis.keys.stream_requests(session);
        self.redis
            .bounded("request_of", |mut c| async move {
                redis::cmd("HGET")
                    .arg(key)
                    .arg(stream)
                    .query_async(&mut c)
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
