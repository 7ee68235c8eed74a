//! An upstream's lanes, one per credential set: the upstream's own (unless
//! `credentials = "per_tenant"`) and one for each tenant with credentials
//! of its own. Each lane has its pool of processes or upstream sessions,
//! its crash-loop backoff and its circuit breaker, so a process or an
//! upstream session never carries two tenants' credentials, and one
//! tenant's revoked key neither opens the circuit nor holds back starts
//! for the others.
//!
//! What the lanes share: the upstream's lists, limits and era (in the
//! provider), the tenants' process counts, and in `per_session` mode the
//! `max_processes` slots (the cap is the upstream's); in `shared` mode each
//! lane has its own `processes`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use switchboard_identity::Identity;
use switchboard_limits::{Breaker, BreakerConfig, BreakerState};
use switchboard_secret::Secret;
use tokio::sync::Semaphore;

use super::config::{Credentials, PoolMode, UpstreamConfig, UpstreamKind, UpstreamProtocol};
use super::connection::Starter;
use super::pool::{Common, Pool};
use crate::http::H1Pool;
use crate::{HttpSpec, StdioSpec};

/// One credential set's connections, and its tokens from an identity
/// provider if the upstream takes them.
#[derive(Debug)]
pub(crate) struct Lane {
    pub(crate) pool: Arc<Pool>,
    pub(crate) breaker: Breaker,
    pub(crate) identity: Option<Identity>,
}

/// Every lane of one upstream.
#[derive(Debug)]
pub(crate) struct Lanes {
    /// The upstream's own credentials; `None` with `per_tenant`.
    own: Option<Lane>,
    /// Tenants' own, by tenant id.
    tenants: HashMap<String, Lane>,
    /// The lane a probe uses: the upstream's own, else the first tenant's.
    probing: Option<String>,
}

impl Lanes {
    pub(crate) fn new(config: &UpstreamConfig, common: &Common) -> Self {
        let http = HttpParts::new(config);
        let per_session = Arc::new(Semaphore::new(config.max_processes));
        let lane = |tenant: Option<&str>| {
            let (slots, max) = match config.mode {
                PoolMode::PerSession => (per_session.clone(), config.max_processes),
                PoolMode::Shared => (Arc::new(Semaphore::new(config.processes)), config.processes),
            };
            Lane {
                pool: Arc::new(Pool::new(
                    starter(config, tenant, &http),
                    slots,
                    max,
                    Duration::from_millis(config.pool_wait_ms),
                    common.clone(),
                )),
                breaker: breaker(config),
                identity: config.auth_for(tenant).map(|auth| {
                    Identity::new(&config.name, auth)
                        .for_url(&config.url)
                        .with_vault(common.vault.clone(), tenant.unwrap_or(""))
                }),
            }
        };
        let own = (config.credentials == Credentials::Upstream).then(|| lane(None));
        let tenants: HashMap<String, Lane> = config
            .tenants
            .keys()
            .map(|t| (t.clone(), lane(Some(t))))
            .collect();
        let probing = match own {
            Some(_) => None,
            None => config.tenants.keys().next().cloned(),
        };
        Self {
            own,
            tenants,
            probing,
        }
    }

    /// The lane `tenant`'s requests take; `None` if the upstream needs
    /// credentials of its own from the tenant and it has none.
    pub(crate) fn for_tenant(&self, tenant: &str) -> Option<&Lane> {
        self.tenants.get(tenant).or(self.own.as_ref())
    }

    /// The upstream's own lane, if it has one.
    pub(crate) fn own(&self) -> Option<&Lane> {
        self.own.as_ref()
    }

    /// The lane a probe at start-up uses.
    pub(crate) fn probing(&self) -> &Lane {
        match &self.probing {
            Some(t) => &self.tenants[t],
            None => self
                .own
                .as_ref()
                .expect("an upstream has at least one lane"),
        }
    }

    /// The tenant whose lane probes, if not the upstream's own.
    pub(crate) fn probing_tenant(&self) -> Option<&str> {
        self.probing.as_deref()
    }

    /// Every lane.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Lane> {
        self.own.iter().chain(self.tenants.values())
    }

    /// Tenants' lanes.
    pub(crate) fn tenant_lanes(&self) -> impl Iterator<Item = &Lane> {
        self.tenants.values()
    }

    /// The breaker state health reports: the worst of the lanes'.
    pub(crate) fn breaker_state(&self) -> BreakerState {
        let rank = |s: BreakerState| match s {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        };
        self.all()
            .map(|l| l.breaker.state())
            .max_by_key(|s| rank(*s))
            .unwrap_or(BreakerState::Closed)
    }
}

fn breaker(config: &UpstreamConfig) -> Breaker {
    Breaker::new(BreakerConfig {
        failures: config.breaker_failures.max(1),
        cool_down: Duration::from_secs(config.breaker_cool_down_secs),
        ..BreakerConfig::default()
    })
}

/// An HTTP upstream's client and connection pool, shared by its lanes
/// (headers are set per request, so connections carry no credential).
struct HttpParts {
    client: reqwest::Client,
    pool: Option<Arc<H1Pool>>,
}

impl HttpParts {
    fn new(config: &UpstreamConfig) -> Option<Self> {
        if config.kind != UpstreamKind::Http {
            return None;
        }
        let idle = config.pool_size.unwrap_or(64);
        // No redirects: an upstream's own credentials stay with it.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(idle)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let pool = crate::http::connections(&HttpSpec::new(&config.name, &config.url), idle);
        Some(Self { client, pool })
    }
}

/// Names and values of secrets, for the spec a connection starts from
/// (which prints only names).
fn exposed(map: BTreeMap<String, Secret>) -> Vec<(String, String)> {
    map.into_iter()
        .map(|(k, v)| (k, v.expose().to_owned()))
        .collect()
}

/// How `tenant`'s connections start (`None`: the upstream's own).
fn starter(config: &UpstreamConfig, tenant: Option<&str>, http: &Option<HttpParts>) -> Starter {
    match http {
        Some(parts) => {
            let mut spec = HttpSpec::new(&config.name, &config.url);
            spec.headers = exposed(config.headers_for(tenant));
            spec.max_body_bytes = config.max_line_bytes;
            spec.handshake = config.protocol != UpstreamProtocol::Stateless;
            Starter::Http(spec, parts.client.clone(), parts.pool.clone())
        }
        None => {
            let mut spec = StdioSpec::new(&config.name, &config.command);
            spec.args = config.args.clone();
            spec.env = exposed(config.env_for(tenant));
            spec.cwd = config.cwd.clone();
            spec.max_line_bytes = config.max_line_bytes;
            spec.handshake = config.protocol != UpstreamProtocol::Stateless;
            Starter::Stdio(spec)
        }
    }
}
