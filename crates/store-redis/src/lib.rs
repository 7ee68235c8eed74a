//! Redis backends for Switchboard's state seams: [`RedisSessionStore`]
//! (a `SessionStore`), [`RedisTaskStore`] (a `TaskStore`), [`RedisEventLog`] (an `EventLog` on Redis Streams),
//! [`RedisRateLimiter`] (a `RateLimiter`, GCRA in one Lua script on
//! Redis's clock), sharing one [`Redis`] connection, and [`RedisBus`] (the
//! `SessionBus` between nodes, on pub/sub with a connection of its own).
//!
//! Every node configured with the same Redis and prefix sees the same
//! session records, event logs and rate-limit buckets, and hears the others
//! on the bus. Live streams and process ownership are not here.
//!
//! # Connection and failures
//!
//! One `ConnectionManager`: a single multiplexed connection that pipelines
//! every caller's commands and reconnects by itself after Redis comes back.
//! A reconnection is one attempt, shared by the callers waiting on it, with
//! no retry or back-off inside: while Redis is down (connections refused)
//! each call fails within about one connection attempt, and the next call
//! makes the next attempt. With [`RedisOptions::cluster`], one
//! `ClusterConnection` to a Redis Cluster sits behind the same wrapper (see
//! `cluster.rs`: non-atomic pipelines over several slots are split per slot).
//! Every call waits at most [`RedisOptions::timeout`] (connecting included)
//! and then fails with `StoreError::Unavailable`; Redis errors map to
//! `Unavailable` too, except replies that are not what this crate wrote
//! (wrong type, unparsable record, foreign stream entry), which are
//! `StoreError::Corrupt`. Needs Redis 7 or newer (checked on connect).
//!
//! # Key layout
//!
//! `<p>` is the prefix (default `switchboard`). Keys of one session carry
//! its id as a hash tag, so a Redis Cluster keeps them on one slot (and
//! spreads sessions over its masters); a rate bucket's key is tagged by the
//! bucket; the indexes and quota groups share the tag `{idx}`, one slot, so
//! that the admission and expiry scripts see them all at once (the cost:
//! one master takes every `touch`; docs/deployment.md, "Redis Cluster").
//!
//! | key | type | holds |
//! |---|---|---|
//! | `<p>:s:{<id>}` | string | the session record as JSON (optional TTL) |
//! | `<p>:{idx}:seen` | sorted set | id → last seen (ms); membership = the session is live |
//! | `<p>:{idx}:created` | sorted set | id → created (ms) |
//! | `<p>:{idx}:uninit` | sorted set | id → created (ms), until `initialize` completes |
//! | `<p>:{idx}:tethered` | sorted set | id → last renewed (ms): tethered sessions (2024-11-05 HTTP+SSE), renewed by their node at each sweep (`renew`) |
//! | `<p>:{idx}:ids` | sorted set | id at score 0, for `scan` in id order |
//! | `<p>:{idx}:q:<group>` | sorted set | id → created (ms): the sessions counted in one quota group (`create_within`), expiring like a record |
//! | `<p>:{idx}:qb:<group>` | sorted set | id → bytes of the record: the sizes counted against the group's byte budget (`create_within`, `update_within`), expiring with the group |
//! | `<p>:ev:{<id>}:<stream>` | stream | the events of one SSE stream, entry ids `0-<seq>` |
//! | `<p>:evz:{<id>}` | sorted set | stream number → when it began (µs): the session's request streams, at most [`MAX_REQUEST_STREAMS`] (the oldest dropped), for `drop_session` |
//! | `<p>:evr:{<id>}` | hash | stream number → the JSON text of the request id it answers, noted by the node writing it (`note_request`), for a node following it to answer the request if that node dies |
//! | `<p>:evs:{<id>}` | set | the stream numbers of a session, as nodes before `evz` kept them: only read and removed by `drop_session` |
//! | `<p>:{idx}:gets` | sorted set | id → registered (ms): sessions with a standalone (GET) stream, whose server events the producing node logs (read against `seen`; removed by `drop_session`) |
//! | `<p>:own:{<id>}` | hash | the owner of the session's stateful upstream processes: `node`, `url`, `until` (lease end, ms on Redis's clock; 0 once released), expiring like a record (`RedisSessionOwners`) |
//! | `<p>:bus` | pub/sub channel | the session bus: JSON `{"from": node, "t": kind, …}` |
//! | `<p>:task:{<id>}` | hash | a task: `v` (version, for compare-and-swap) and `r` (the record as JSON); expires with the task |
//! | `<p>:taskq:{<hex>}` | sorted set | id → expiry (ms): the live tasks of one principal (hex of its name), for its cap |
//! | `<p>:vault:{<hex>}` | hash | the token vault's entries of one tenant (hex of its id): name → sealed bytes (`RedisEntryStore`, `Space::Vault`; encrypted before they are sent) |
//! | `<p>:oauth:{<hex>}` | hash | the authorization server's grants of one kind (`pending`, `codes`, `refresh`, `families`, …) and its registered `clients`: name (a digest of a code or token, never the code or token) → JSON (`RedisEntryStore`, `Space::OAuth`) |
//! | `<p>:pins:{<hex>}` | hash | the pinned tool definitions of one upstream (hex of its name): tool → approved and pending definitions (`RedisEntryStore`, `Space::Pins`) |
//! | `<p>:rl:{<key>}` | string | a rate-limit bucket's TAT (ns since the epoch, decimal), expiring when it is no longer ahead |
//!
//! # Costs and guarantees
//!
//! - `load` is one pipelined round trip: `GET` of the record and `ZSCORE`
//!   on `seen`. `load_and_touch` (a request's session when its `last seen`
//!   is due for a refresh) puts `ZADD XX GT` on `seen` first in the same
//!   pipeline, so a request's session costs one round trip either way;
//!   `touch` alone is `ZADD XX GT` then `ZSCORE`, one round trip too.
//! - `create` is `SET NX` (atomic against duplicates) then one transaction
//!   on the indexes: two round trips. A node dying between them leaves a
//!   record no index names: invisible, and removed by its TTL if one is set.
//! - `create_within` (with quotas) is `SET NX` then one Lua script that
//!   checks every group (its count, and the sum of its byte set when it has
//!   a byte budget: one pass over the group's sessions), pruning a full one
//!   of ids no longer in `seen`, and adds to the groups and the indexes at
//!   once; a refusal deletes the record (a third round trip).
//! - `update_within` (with quotas) is one Lua script that checks the
//!   record's growth against each group's byte budget and records its new
//!   size, then `update`: two round trips.
//! - No record over the store's bound (`with_max_record_bytes`, 64 KiB by
//!   default) is written: `create`, `create_within`, `update` and
//!   `update_within` refuse it with `StoreError::TooLarge` before any call.
//! - `expire` is one Lua script over the indexes (one slot), so several
//!   nodes may sweep at once and each expired session is reported to exactly
//!   one of them; at most 1000 sessions per rule per call.
//! - `count`, `longest_idle` and `scan` read the indexes, never the keyspace.
//! - Event logs: `append` is one transaction (`XADD MAXLEN ~`, `PEXPIRE`,
//!   `SADD`). The bound is per stream, not per session as in the memory log.
//!   `MAXLEN ~` trims whole stream nodes, so a stream keeps at least the
//!   bound and at most one node more (a node holds at most 100 entries or
//!   4 KiB by default, `stream-node-max-entries`/`-bytes`). The byte bound is
//!   approximated by lowering the count bound to `max_bytes / size of the
//!   event being appended`, so it holds for events of similar size. The TTL
//!   is renewed on each append; a stream idle longer than the TTL is gone and
//!   a later append starts again at sequence 1, so the TTL must exceed the
//!   longest life of a session. `bytes()` is 0: Redis holds the bytes.
//! - The bus: `publish` queues (bounded) for a task that `PUBLISH`es on
//!   the shared connection; a dedicated connection `SUBSCRIBE`s and
//!   resubscribes after a drop (messages meanwhile are lost: pub/sub is at
//!   most once).
//! - Tasks (`RedisTaskStore`): `load` is one `HMGET`; `swap` one script on
//!   the task's key (compare the version, write, `PEXPIREAT`); `create` one
//!   script on the principal's set (prune expired, check the cap, count)
//!   then one on the task's key. No script spans two keys.
//! - Owners (`RedisSessionOwners`): a claim is one script call (`EVALSHA`:
//!   `TIME`, `HMGET`, and `HSET` + `PEXPIRE` when it takes the record);
//!   renewing or releasing is one pipelined round trip per 256 sessions.
//! - A rate check is one script call (`EVALSHA`): `TIME`, `GET`, and `SET PX`
//!   when the call is allowed. Limiter failures are
//!   `LimiterError::Unavailable`.

#![warn(missing_docs)]

mod bus;
mod cluster;
mod conn;
mod entries;
mod error;
mod event_log;
mod keys;
mod owner;
mod rate;
mod session;
mod task;

pub use bus::RedisBus;
pub use conn::{Redis, RedisOptions};
pub use entries::RedisEntryStore;
pub use event_log::{MAX_REQUEST_STREAMS, RedisEventLog};
pub use owner::RedisSessionOwners;
pub use rate::RedisRateLimiter;
pub use session::RedisSessionStore;
pub use task::RedisTaskStore;
