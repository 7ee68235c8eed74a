//! The store backends `serve` builds from the configuration.

use std::sync::Arc;
use std::time::Duration;

use switchboard_server::{AppBuilder, ClusterEvents, Config, StoreKind, redact_url};
use switchboard_store::SessionBus;
use switchboard_store_file::{
    FileEntryStore, FileEventLog, FileSessionStore, FileStore, FileTaskStore,
};
use switchboard_store_redis::{
    Redis, RedisBus, RedisEntryStore, RedisEventLog, RedisOptions, RedisRateLimiter,
    RedisSessionOwners, RedisSessionStore, RedisTaskStore,
};

/// How long past a session's longest life its Redis keys may linger.
const TTL_MARGIN: Duration = Duration::from_secs(3600);

/// Room for a bus message's envelope around a client's answer.
const BUS_ENVELOPE_BYTES: usize = 4096;

/// The configured store, opened before the catalog is built because with
/// Redis the catalog's events travel on its bus.
pub(crate) enum Shared {
    Redis(RedisShared),
    File {
        sessions: FileSessionStore,
        log: FileEventLog,
        tasks: FileTaskStore,
        vault: FileEntryStore,
        pins: FileEntryStore,
        oauth: FileEntryStore,
        label: String,
    },
}

/// The connection to Redis and its session bus.
pub(crate) struct RedisShared {
    redis: Redis,
    label: String,
    bus: Arc<dyn SessionBus>,
}

impl Shared {
    /// The token vault on this store, if `[vault]` has keys (on the memory
    /// store when none is shared).
    pub(crate) fn vault(
        shared: Option<&Self>,
        config: &Config,
    ) -> Result<Option<Arc<switchboard_identity::Vault>>, String> {
        let keys = config
            .vault
            .keys()
            .map_err(|(key, e)| format!("{key}: {e}"))?;
        if keys.is_empty() {
            return Ok(None);
        }
        let store: Arc<dyn switchboard_store::EntryStore> = match shared {
            None => Arc::new(switchboard_store::MemoryEntryStore::new()),
            Some(Self::File { vault, .. }) => Arc::new(vault.clone()),
            Some(Self::Redis(r)) => Arc::new(RedisEntryStore::new(
                r.redis.clone(),
                switchboard_store::Space::Vault,
            )),
        };
        switchboard_identity::Vault::new(store, &keys).map(|v| Some(Arc::new(v)))
    }

    /// Where approved tool definitions are kept: on the shared store, so
    /// every node agrees (in memory when none is shared).
    pub(crate) fn pins(shared: Option<&Self>) -> Arc<dyn switchboard_store::EntryStore> {
        match shared {
            None => Arc::new(switchboard_store::MemoryEntryStore::new()),
            Some(Self::File { pins, .. }) => Arc::new(pins.clone()),
            Some(Self::Redis(r)) => Arc::new(RedisEntryStore::new(
                r.redis.clone(),
                switchboard_store::Space::Pins,
            )),
        }
    }

    /// Where the authorization server keeps its grants and registered
    /// clients: on the shared store, so any node completes a sign-in (in
    /// memory when none is shared).
    pub(crate) fn oauth(shared: Option<&Self>) -> Arc<dyn switchboard_store::EntryStore> {
        match shared {
            None => Arc::new(switchboard_store::MemoryEntryStore::new()),
            Some(Self::File { oauth, .. }) => Arc::new(oauth.clone()),
            Some(Self::Redis(r)) => Arc::new(RedisEntryStore::new(
                r.redis.clone(),
                switchboard_store::Space::OAuth,
            )),
        }
    }

    /// The catalog's event bus when nodes share the store: this node's and
    /// the other nodes' events.
    pub(crate) fn events(&self) -> Option<Arc<ClusterEvents>> {
        match self {
            Self::Redis(r) => Some(ClusterEvents::new(r.bus.clone())),
            Self::File { .. } => None,
        }
    }
}

/// Open the configured store, if any (memory needs nothing). An unreachable
/// Redis or an unusable file fails the start with a clear message.
pub(crate) async fn connect(config: &Config) -> Result<Option<Shared>, String> {
    match config.store {
        StoreKind::Memory => Ok(None),
        StoreKind::Redis => redis(config).await.map(|r| Some(Shared::Redis(r))),
        StoreKind::File => file(config).await.map(Some),
    }
}

/// Open (or create) the database file; a file another process holds open
/// is refused, so two nodes never share one by accident.
async fn file(config: &Config) -> Result<Shared, String> {
    let path = config.store_path.clone();
    let shown = path.display().to_string();
    let (events, bytes) = (config.event_log_events, config.event_log_bytes);
    let max_record = config.max_session_bytes;
    // Opening may repair the file after an unclean stop: off the runtime.
    let opened = tokio::task::spawn_blocking(move || {
        let file = FileStore::open(&path)?;
        Ok::<_, String>((
            file.sessions().with_max_record_bytes(max_record),
            file.event_log(events, bytes)?,
            file.tasks(),
            file.entries(switchboard_store::Space::Vault),
            file.entries(switchboard_store::Space::Pins),
            file.entries(switchboard_store::Space::OAuth),
        ))
    });
    let (sessions, log, tasks, vault, pins, oauth) = opened
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("store = \"file\": cannot open {shown}: {e}"))?;
    tracing::info!(path = %shown, "store: file");
    Ok(Shared::File {
        sessions,
        log,
        tasks,
        vault,
        pins,
        oauth,
        label: format!("file {shown}"),
    })
}

async fn redis(config: &Config) -> Result<RedisShared, String> {
    let url = config
        .redis_url
        .as_ref()
        .ok_or("store = \"redis\" needs redis_url")?;
    let shown = redact_url(url.expose());
    let options = RedisOptions {
        prefix: config.redis_prefix.clone(),
        timeout: config.redis_timeout(),
        cluster: config.redis_cluster,
    };
    let kind = if config.redis_cluster {
        "redis cluster"
    } else {
        "redis"
    };
    let cannot = |e| format!("store = \"redis\": cannot use Redis at {shown}: {e}");
    let redis = Redis::connect(url.expose(), options)
        .await
        .map_err(cannot)?;
    let bus = RedisBus::start(&redis, config.max_body_bytes + BUS_ENVELOPE_BYTES)
        .await
        .map_err(cannot)?;
    tracing::info!(url = %shown, prefix = %config.redis_prefix, "store: {kind}");
    Ok(RedisShared {
        redis,
        label: format!("{kind} at {shown}, prefix {}", config.redis_prefix),
        bus,
    })
}

/// Give `app` the store, event log, rate limiter, session bus and owner
/// records every node shares (`advertise`: this node's MCP URL as the
/// others reach it); returns a line for the banner.
pub(crate) fn attach(
    app: AppBuilder,
    config: &Config,
    shared: Option<Shared>,
    advertise: String,
) -> (AppBuilder, String) {
    match shared {
        None => (app, "memory".to_owned()),
        // Rate limits stay in memory (one node) and there is no bus.
        Some(Shared::File {
            sessions,
            log,
            tasks,
            label,
            ..
        }) => (
            app.store(Arc::new(sessions))
                .event_log(Arc::new(log))
                .task_store(Arc::new(tasks)),
            label,
        ),
        Some(Shared::Redis(redis)) => attach_redis(app, config, redis, advertise),
    }
}

fn attach_redis(
    app: AppBuilder,
    config: &Config,
    shared: RedisShared,
    advertise: String,
) -> (AppBuilder, String) {
    let redis = shared.redis;
    let lifetime = Duration::from_secs(config.session_max_lifetime_secs);
    let store = RedisSessionStore::new(redis.clone())
        .with_record_ttl(lifetime + TTL_MARGIN)
        .with_max_record_bytes(config.max_session_bytes);
    let limiter = RedisRateLimiter::new(redis.clone());
    let tasks = RedisTaskStore::new(redis.clone());
    let owners = RedisSessionOwners::new(redis.clone(), lifetime + TTL_MARGIN);
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
        .task_store(Arc::new(tasks))
        .session_bus(shared.bus)
        .owners(Arc::new(owners), advertise);
    (app, shared.label)
}
