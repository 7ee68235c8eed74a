//! [`Conn`]: the connection every backend uses, to one Redis or to a Redis
//! Cluster, so that no backend cares which.
//!
//! A cluster connection (redis-rs `ClusterConnection`) routes each command
//! to the master of its key's slot, follows `MOVED`/`ASK` and rediscovers
//! the slots after a failover. It sends a pipeline whole to one node and
//! refuses one whose keys span slots, so [`Conn`] splits a non-atomic
//! pipeline by slot: the parts go concurrently, each to its node, and the
//! replies come back in the pipeline's order. Order holds within a slot,
//! not across slots; a transaction (`MULTI`) or a script must stay on one
//! slot, which the key layout ensures (hash tags) and Redis checks.
//!
//! redis-rs follows a `MOVED` for a single command, but not one inside a
//! pipeline's replies: after a failover a transaction fails as a whole
//! ("transaction aborted", each command `MOVED`). So a pipeline answered
//! `MOVED` is sent again to the node the redirection names (at most
//! [`REDIRECTS`] times; see `on_one_slot`). `ASK` (a slot being migrated
//! by resharding) is not followed for pipelines: the call fails.

use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::try_join_all;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{SingleNodeRoutingInfo, Slot};
use redis::{Arg, Cmd, Pipeline, RedisFuture, RedisResult, ServerError, Value};
use switchboard_store::StoreError;

use crate::error::{late, unavailable};

/// How many times a pipeline answered `MOVED` is sent again.
const REDIRECTS: usize = 3;

/// A connection to one Redis or to a cluster; cheap to clone (both are
/// multiplexed handles).
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Connect to the cluster that `seeds` belong to (any one reachable node
/// suffices; the others are discovered), within three waits of `t`.
pub(crate) async fn connect(seeds: &[&str], t: Duration) -> Result<Conn, StoreError> {
    let client = ClusterClientBuilder::new(seeds.to_vec())
        .connection_timeout(t)
        .response_timeout(t)
        .retries(3)
        .min_retry_wait(20)
        .max_retry_wait(t.as_millis() as u64)
        .build()
        .map_err(|e| {
            StoreError::Unavailable(format!("the Redis URLs are not usable ({})", e.category()))
        })?;
    match tokio::time::timeout(t * 3, client.get_async_connection()).await {
        Ok(Ok(conn)) => Ok(Conn::Cluster(conn)),
        Ok(Err(e)) => Err(unavailable("connect to the cluster", &e)),
        Err(_) => Err(late("connect to the cluster", t)),
    }
}

/// Every text in a reply (a cluster answers `INFO` once per node, as a map).
pub(crate) fn texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::BulkString(b) => out.push(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => out.push(s.clone()),
        Value::VerbatimString { text, .. } => out.push(text.clone()),
        Value::Array(items) | Value::Set(items) => items.iter().for_each(|v| texts(v, out)),
        Value::Map(pairs) => pairs.iter().for_each(|(_, v)| texts(v, out)),
        _ => {}
    }
}

/// The slot of a command's key: for a script (`EVAL`, `EVALSHA`, `FCALL`
/// and their `_RO` forms) its first key, after the script and the key
/// count (`None` without keys); for every other command this crate
/// pipelines, its first argument after the name. `None` for a command
/// without arguments.
fn slot(cmd: &Cmd) -> Option<Slot> {
    let mut args = cmd.args_iter();
    let name = match args.next()? {
        Arg::Simple(name) => name.to_ascii_uppercase(),
        _ => return None,
    };
    let script = matches!(
        name.as_slice(),
        b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" | b"FCALL_RO"
    );
    let key = if script {
        match args.nth(1)? {
            Arg::Simple(n) if n != b"0" => args.next()?,
            _ => return None,
        }
    } else {
        args.next()?
    };
    match key {
        Arg::Simple(key) => Some(Slot::for_key(key)),
        _ => None,
    }
}

/// The pipeline's commands grouped by slot, in order within each group,
/// with their positions in the pipeline.
fn by_slot(pipeline: &Pipeline) -> Vec<(Vec<usize>, Pipeline)> {
    let mut groups: Vec<(Option<Slot>, Vec<usize>, Pipeline)> = Vec::new();
    for (i, cmd) in pipeline.cmd_iter().enumerate() {
        let s = slot(cmd);
        let at = match groups.iter().position(|(g, _, _)| *g == s) {
            Some(at) => at,
            None => {
                groups.push((s, Vec::new(), Pipeline::new()));
                groups.len() - 1
            }
        };
        groups[at].1.push(i);
        groups[at].2.add_command(cmd.clone());
    }
    groups.into_iter().map(|(_, at, p)| (at, p)).collect()
}

/// Where a pipeline's outcome says its slot moved (`MOVED <slot> <host>:<port>`):
/// from a transaction aborted with redirections, or from its replies.
fn moved_to(outcome: &RedisResult<Vec<Value>>) -> Option<(String, u16)> {
    let errors: Vec<ServerError> = match outcome {
        Err(e) => e
            .clone()
            .into_server_errors()?
            .iter()
            .map(|(_, s)| s.clone())
            .collect(),
        // Replies of a non-atomic pipeline: sent again only if none of its
        // commands ran (every reply a redirection), so nothing is applied
        // twice (an XADD appended again, say).
        Ok(replies) => {
            let moved = |v: &Value| matches!(v, Value::ServerError(s) if s.code() == "MOVED");
            if replies.is_empty() || !replies.iter().all(moved) {
                return None;
            }
            replies
                .iter()
                .filter_map(|v| match v {
                    Value::ServerError(s) => Some(s.clone()),
                    _ => None,
                })
                .collect()
        }
    };
    let moved = errors.iter().find(|s| s.code() == "MOVED")?;
    let addr = moved.details()?.split_ascii_whitespace().nth(1)?;
    let (host, port) = addr.rsplit_once(':')?;
    Some((host.to_owned(), port.parse().ok()?))
}

/// One pipeline on one slot. Answered `MOVED` (redis-rs follows that for a
/// single command, not inside a pipeline's replies), it goes again to the
/// node named, and a keyed command on the slot makes redis-rs follow the
/// redirection too and rebuild its slot map for the next calls.
async fn on_one_slot(
    mut conn: ClusterConnection,
    pipeline: &Pipeline,
    offset: usize,
    count: usize,
) -> RedisResult<Vec<Value>> {
    let mut outcome = conn.req_packed_commands(pipeline, offset, count).await;
    for _ in 0..REDIRECTS {
        let Some((host, port)) = moved_to(&outcome) else {
            break;
        };
        tracing::debug!(%host, port, "a pipeline's slot moved; sending it there");
        let key = pipeline
            .cmd_iter()
            .find_map(|c| match c.args_iter().nth(1) {
                Some(Arg::Simple(k)) => Some(k.to_vec()),
                _ => None,
            });
        if let Some(key) = key {
            let _: RedisResult<Value> = redis::cmd("EXISTS").arg(key).query_async(&mut conn).await;
        }
        let there = SingleNodeRoutingInfo::ByAddress { host, port };
        outcome = conn
            .route_pipeline(pipeline.clone(), offset, count, there)
            .await;
    }
    outcome
}

/// A non-atomic pipeline over several slots: each slot's part on its node,
/// concurrently, and the replies put back in the pipeline's order.
async fn split(
    conn: ClusterConnection,
    pipeline: Vec<(Vec<usize>, Pipeline)>,
) -> RedisResult<Vec<Value>> {
    let count = pipeline.iter().map(|(at, _)| at.len()).sum();
    let parts = pipeline.into_iter().map(|(at, part)| {
        let conn = conn.clone();
        async move {
            let replies = on_one_slot(conn, &part, 0, part.len()).await?;
            Ok::<_, redis::RedisError>((at, replies))
        }
    });
    let mut out = vec![Value::Nil; count];
    for (at, replies) in try_join_all(parts).await? {
        for (i, reply) in at.into_iter().zip(replies) {
            out[i] = reply;
        }
    }
    Ok(out)
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => {
                if !pipeline.is_transaction() {
                    let groups = by_slot(pipeline);
                    if groups.len() > 1 {
                        return split(c.clone(), groups).boxed();
                    }
                }
                on_one_slot(c.clone(), pipeline, offset, count).boxed()
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::by_slot;

    #[test]
    fn pipelines_split_by_slot_keep_positions() {
        let mut p = redis::pipe();
        p.cmd("GET").arg("sb:s:{a}");
        p.cmd("ZSCORE").arg("sb:{idx}:seen").arg("a");
        p.cmd("GET").arg("sb:s:{b}");
        p.cmd("ZSCORE").arg("sb:{idx}:seen").arg("b");
        p.cmd("PEXPIRE").arg("sb:ev:{a}:1").arg(5);
        let groups: Vec<Vec<usize>> = by_slot(&p).into_iter().map(|(at, _)| at).collect();
        assert_eq!(groups, [vec![0, 4], vec![1, 3], vec![2]]);
    }

    #[test]
    fn a_script_call_goes_to_the_slot_of_its_first_key() {
        let mut p = redis::pipe();
        p.cmd("EVAL")
            .arg("return 1")
            .arg(1)
            .arg("sb:own:{a}")
            .arg("n");
        p.cmd("EVALSHA")
            .arg("0123abcd")
            .arg(1)
            .arg("sb:own:{b}")
            .arg("n");
        p.cmd("GET").arg("sb:s:{a}");
        p.cmd("evalsha")
            .arg("0123abcd")
            .arg(2)
            .arg("sb:x:{b}")
            .arg("sb:y:{b}");
        p.cmd("EVAL").arg("return 1").arg(0).arg("n");
        let groups: Vec<Vec<usize>> = by_slot(&p).into_iter().map(|(at, _)| at).collect();
        assert_eq!(groups, [vec![0, 2], vec![1, 3], vec![4]]);
    }
}
