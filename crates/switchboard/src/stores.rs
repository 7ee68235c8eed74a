//! The store backends `serve` builds from the configuration.

use std::sync::Arc;
use std::time::Duration;

use switchboard_server::{AppBuilder, Config, StoreKind, redact_url};
use switchboard_store_redis::{
    Redis, RedisEventLog, RedisOptions, RedisRateLimiter, RedisSessionStore,
};

/// How long past a session's longest life its Redis keys may linger.
const TTL_MARGIN: Duration = Duration::from_secs(3600);

/// Give `app` the configured store, event log and, for Redis, the rate
/// limiter every node shares (memory needs nothing);
/// returns a line for the banner. Connects to Redis now, so an unreachable
/// Redis fails the start with a clear message.
pub(crate) async fn attach(
    app: AppBuilder,
    config: &Config,
) -> Result<(AppBuilder, String), String> {
    match config.store {
        StoreKind::Memory => Ok((app, "memory".to_owned())),
        StoreKind::Redis => redis(app, config).await,
        StoreKind::File => Err("store = \"file\" is not built yet".to_owned()),
    }
}

async fn redis(app: AppBuilder, config: &Config) -> Result<(AppBuilder, String), String> {
    let url = config
        .redis_url
        .as_ref()
        .ok_or("store = \"redis\" needs redis_url")?;
    let shown = redact_url(&url.0);
    let options = RedisOptions {
        prefix: config.redis_prefix.clone(),
        timeout: config.redis_timeout(),
    };
    let redis = Redis::connect(&url.0, options)
        .await
        .map_err(|e| format!("store = \"redis\": cannot use Redis at {shown}: {e}"))?;
    let lifetime = Duration::from_secs(config.session_max_lifetime_secs);
    let store = RedisSessionStore::new(redis.clone()).with_record_ttl(lifetime + TTL_MARGIN);
    let limiter = RedisRateLimiter::new(redis.clone());
    let log = RedisEventLog::new(
        redis,
        config.event_log_events,
        config.event_log_bytes,
        lifetime + TTL_MARGIN,
    );
    tracing::info!(url = %shown, prefix = %config.redis_prefix, "store: redis");
    let label = format!("redis at {shown}, prefix {}", config.redis_prefix);
    let app = app
        .store(Arc::new(store))
        .event_log(Arc::new(log))
        .rate_limiter(Arc::new(limiter));
    Ok((app, label))
}
