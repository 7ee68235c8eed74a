//! The store backends `serve` builds from the configuration.

use std::sync::Arc;
use std::time::Duration;

use switchboard_runtime::EventBus;
use switchboard_server::{AppBuilder, ClusterEvents, Config, StoreKind, redact_url};
use switchboard_store::SessionBus;
use switchboard_store_redis::{
    Redis, RedisBus, RedisEventLog, RedisOptions, RedisRateLimiter, RedisSessionStore,
};

/// How long past a session's longest life its Redis keys may linger.
const TTL_MARGIN: Duration = Duration::from_secs(3600);

/// Room for a bus message's envelope around a client's answer.
const BUS_ENVELOPE_BYTES: usize = 4096;

/// The connection to a shared store, made before the catalog is built
/// because the catalog's events travel on its bus.
pub(crate) struct Shared {
    redis: Redis,
    label: String,
    bus: Arc<dyn SessionBus>,
}

impl Shared {
    /// The catalog's event bus: this node's and the other nodes' events.
    pub(crate) fn events(&self) -> Arc<dyn EventBus> {
        ClusterEvents::new(self.bus.clone())
    }
}

/// Connect to the configured shared store, if any (memory needs nothing).
/// An unreachable Redis fails the start with a clear message.
pub(crate) async fn connect(config: &Config) -> Result<Option<Shared>, String> {
    match config.store {
        StoreKind::Memory => Ok(None),
        StoreKind::Redis => redis(config).await.map(Some),
        StoreKind::File => Err("store = \"file\" is not built yet".to_owned()),
    }
}

async fn redis(config: &Config) -> Result<Shared, String> {
    let url = config
        .redis_url
        .as_ref()
        .ok_or("store = \"redis\" needs redis_url")?;
    let shown = redact_url(&url.0);
    let options = RedisOptions {
        prefix: config.redis_prefix.clone(),
        timeout: config.redis_timeout(),
    };
    let cannot = |e| format!("store = \"redis\": cannot use Redis at {shown}: {e}");
    let redis = Redis::connect(&url.0, options).await.map_err(cannot)?;
    let bus = RedisBus::start(&redis, config.max_body_bytes + BUS_ENVELOPE_BYTES)
        .await
        .map_err(cannot)?;
    tracing::info!(url = %shown, prefix = %config.redis_prefix, "store: redis");
    Ok(Shared {
        redis,
        label: format!("redis at {shown}, prefix {}", config.redis_prefix),
        bus,
    })
}

/// Give `app` the store, event log, rate limiter and session bus every node
/// shares; returns a line for the banner.
pub(crate) fn attach(
    app: AppBuilder,
    config: &Config,
    shared: Option<Shared>,
) -> (AppBuilder, String) {
    let Some(shared) = shared else {
        return (app, "memory".to_owned());
    };
    let redis = shared.redis;
    let lifetime = Duration::from_secs(config.session_max_lifetime_secs);
    let store = RedisSessionStore::new(redis.clone()).with_record_ttl(lifetime + TTL_MARGIN);
    let limiter = RedisRateLimiter::new(redis.clone());
    let log = RedisEventLog::new(
        redis,
        config.event_log_events,
        config.event_log_bytes,
        lifetime + TTL_MARGIN,
    );
    let app = app
        .store(Arc::new(store))
        .event_log(Arc::new(log))
        .rate_limiter(Arc::new(limiter))
        .session_bus(shared.bus);
    (app, shared.label)
}
