//! One shared Redis connection with a bounded wait on every call: to a
//! single Redis (a `ConnectionManager`) or to a Redis Cluster (a
//! `ClusterConnection`, see [`Conn`]), the same to every caller.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::RedisResult;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use switchboard_store::StoreError;

pub(crate) use crate::cluster::Conn;
use crate::error::{late, to_store_error, unavailable};
use crate::keys::Keys;

/// How the backends reach Redis.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Prepended to every key (`<prefix>:…`); lets several deployments or
    /// tests share one Redis. No `{` or `}`. Default `switchboard`.
    pub prefix: String,
    /// The longest wait for one call (connecting included); past it the
    /// call fails with `StoreError::Unavailable`. Default 250 ms: a request
    /// that needs Redis while it is down gets its 503 within that.
    pub timeout: Duration,
    /// Whether the URL names the nodes of a Redis Cluster (several seed
    /// URLs, comma-separated; any one reachable master suffices, the rest
    /// of the cluster is discovered). Default false: one Redis.
    pub cluster: bool,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "switchboard".to_owned(),
            timeout: Duration::from_millis(250),
            cluster: false,
        }
    }
}

/// A connection to Redis shared by the backends: one multiplexed connection
/// that pipelines every caller's commands and reconnects by itself.
#[derive(Clone)]
pub struct Redis {
    conn: Conn,
    /// For the dedicated connections pub/sub needs (`RedisBus`): the one
    /// Redis, or each seed node of a cluster (tried in turn).
    pub(crate) clients: Arc<[redis::Client]>,
    pub(crate) keys: Arc<Keys>,
    timeout: Duration,
}

impl std::fmt::Debug for Redis {
    // The connection's own Debug shows the client's address and credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.keys.prefix())
            .field("timeout", &self.timeout)
            .field("cluster", &matches!(self.conn, Conn::Cluster(_)))
            .finish_non_exhaustive()
    }
}

/// The oldest Redis with every command used here (`XADD key … 0-*`).
const MIN_MAJOR_VERSION: u32 = 7;

impl Redis {
    /// Connect to `url` (`redis://[user:password@]host[:port][/db]` or
    /// `redis+unix:///path`; with `options.cluster`, one or more
    /// comma-separated `redis://` URLs of cluster nodes) and check the
    /// server answers and is new enough. Error messages never contain the
    /// URL.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        let keys = Keys::new(&options.prefix).map_err(StoreError::Unavailable)?;
        let urls: Vec<&str> = if options.cluster {
            url.split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .collect()
        } else {
            vec![url]
        };
        let clients = urls
            .iter()
            .map(|u| redis::Client::open(*u))
            .collect::<RedisResult<Vec<_>>>()
            .map_err(|e| {
                StoreError::Unavailable(format!("the Redis URL is not usable ({})", e.category()))
            })?;
        if clients.is_empty() {
            return Err(StoreError::Unavailable("no Redis URL".to_owned()));
        }
        let t = options.timeout;
        let conn = if options.cluster {
            crate::cluster::connect(&urls, t).await?
        } else {
            Conn::Single(single(clients[0].clone(), t).await?)
        };
        let redis = Self {
            conn,
            clients: clients.into(),
            keys: Arc::new(keys),
            timeout: t,
        };
        redis.check_version().await?;
        Ok(redis)
    }

    async fn check_version(&self) -> Result<(), StoreError> {
        // A cluster answers once per master: every one must be new enough.
        let info: redis::Value = self
            .bounded("INFO server", |mut c| async move {
                redis::cmd("INFO").arg("server").query_async(&mut c).await
            })
            .await?;
        let mut texts = Vec::new();
        crate::cluster::texts(&info, &mut texts);
        let versions: Vec<&str> = texts
            .iter()
            .flat_map(|t| t.lines())
            .filter_map(|l| l.strip_prefix("redis_version:"))
            .map(str::trim)
            .collect();
        let too_old = |v: &str| {
            v.split('.')
                .next()
                .and_then(|m| m.parse::<u32>().ok())
                .is_none_or(|m| m < MIN_MAJOR_VERSION)
        };
        match versions.iter().find(|v| too_old(v)) {
            None if !versions.is_empty() => Ok(()),
            found => Err(StoreError::Unavailable(format!(
                "Redis {} is too old: Switchboard needs Redis {MIN_MAJOR_VERSION} or newer",
                found.unwrap_or(&"unknown")
            ))),
        }
    }

    /// The longest wait for one call.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Run `call` on a clone of the shared connection, waiting at most the
    /// configured timeout; Redis errors become `StoreError`s.
    pub(crate) async fn bounded<T, F, Fut>(&self, what: &str, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        match tokio::time::timeout(self.timeout, call(self.conn.clone())).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(to_store_error(what, &e)),
            Err(_) => Err(late(what, self.timeout)),
        }
    }

    /// A pipeline's replies, within the timeout.
    pub(crate) async fn pipe<T: redis::FromRedisValue>(
        &self,
        what: &str,
        pipe: &redis::Pipeline,
    ) -> Result<T, StoreError> {
        self.bounded(what, |mut c| async move { pipe.query_async(&mut c).await })
            .await
    }
}

/// A connection manager to one Redis: two attempts of `t` each (and the
/// pause between them) to connect.
/// One attempt per (re)connection, no retry and no pause inside it: while
/// Redis is down every caller waiting on the reconnection gets its error as
/// soon as the attempt fails (a refused connection: at once), and the next
/// call starts another attempt.
async fn single(client: redis::Client, t: Duration) -> Result<ConnectionManager, StoreError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(t))
        .set_response_timeout(Some(t))
        .set_number_of_retries(0);
    let connecting = ConnectionManager::new_with_config(client, config);
    match tokio::time::timeout(t * 2, connecting).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(unavailable("connect", &e)),
        Err(_) => Err(late("connect", t)),
    }
}
