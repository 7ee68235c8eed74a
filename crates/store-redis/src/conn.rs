//! One shared Redis connection with a bounded wait on every call.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, RedisResult};
use switchboard_store::StoreError;

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
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "switchboard".to_owned(),
            timeout: Duration::from_millis(250),
        }
    }
}

/// A connection to Redis shared by the backends: one multiplexed connection
/// that pipelines every caller's commands and reconnects by itself.
#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    /// For the dedicated connections pub/sub needs (`RedisBus`).
    pub(crate) client: redis::Client,
    pub(crate) keys: Arc<Keys>,
    timeout: Duration,
}

impl std::fmt::Debug for Redis {
    // The connection's own Debug shows the client's address and credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.keys.prefix())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The oldest Redis with every command used here (`XADD key … 0-*`).
const MIN_MAJOR_VERSION: u32 = 7;

impl Redis {
    /// Connect to `url` (`redis://[user:password@]host[:port][/db]` or
    /// `redis+unix:///path`) and check the server answers and is new enough.
    /// Error messages never contain the URL.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        let keys = Keys::new(&options.prefix).map_err(StoreError::Unavailable)?;
        let client = redis::Client::open(url).map_err(|e| {
            StoreError::Unavailable(format!("the Redis URL is not usable ({})", e.category()))
        })?;
        let t = options.timeout;
        // One attempt per (re)connection, no retry and no pause inside it:
        // while Redis is down every caller waiting on the reconnection gets
        // its error as soon as the attempt fails (a refused connection: at
        // once), and the next call starts another attempt.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(t))
            .set_response_timeout(Some(t))
            .set_number_of_retries(0);
        let connecting = ConnectionManager::new_with_config(client.clone(), config);
        let conn = match tokio::time::timeout(t * 2, connecting).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(unavailable("connect", &e)),
            Err(_) => return Err(late("connect", t)),
        };
        let redis = Self {
            conn,
            client,
            keys: Arc::new(keys),
            timeout: t,
        };
        redis.check_version().await?;
        Ok(redis)
    }

    async fn check_version(&self) -> Result<(), StoreError> {
        let info: String = self
            .bounded("INFO server", |mut c| async move {
                redis::cmd("INFO").arg("server").query_async(&mut c).await
            })
            .await?;
        let version = info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .map(str::trim)
            .unwrap_or("unknown");
        let major = version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok());
        match major {
            Some(m) if m >= MIN_MAJOR_VERSION => Ok(()),
            _ => Err(StoreError::Unavailable(format!(
                "Redis {version} is too old: Switchboard needs Redis {MIN_MAJOR_VERSION} or newer"
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
        F: FnOnce(ConnectionManager) -> Fut,
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

fn late(what: &str, t: Duration) -> StoreError {
    StoreError::Unavailable(format!(
        "Redis did not answer {what} within {} ms",
        t.as_millis()
    ))
}

pub(crate) fn unavailable(what: &str, e: &RedisError) -> StoreError {
    StoreError::Unavailable(format!("Redis {what} failed: {e}"))
}

/// Replies of the wrong shape or type mean the data under our keys is not
/// what we wrote: corrupt. Everything else (I/O, timeouts, a server that is
/// loading, read-only or out of memory) is the store being unavailable.
fn to_store_error(what: &str, e: &RedisError) -> StoreError {
    let wrong_type = e
        .clone()
        .into_server_errors()
        .is_some_and(|errs| errs.iter().any(|(_, s)| s.code() == "WRONGTYPE"));
    match e.kind() {
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType => {
            StoreError::Corrupt(format!("Redis {what}: {e}"))
        }
        _ if wrong_type => StoreError::Corrupt(format!("Redis {what}: {e}")),
        _ => unavailable(what, e),
    }
}
