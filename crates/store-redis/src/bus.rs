//! `RedisBus`: the `SessionBus` on Redis pub/sub. Every node subscribes to
//! one channel (`<prefix>:bus`) on a connection of its own (a subscribed
//! connection can do nothing else) and publishes on the shared one.
//!
//! One channel for the whole cluster keeps membership free (no owner
//! records, no per-session SUBSCRIBE churn): each message reaches every
//! node, which looks the session up in its own registry and drops what it
//! does not hold. Nodes publish only what they could not deliver locally,
//! so the traffic is the cross-node misses times the number of nodes.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use switchboard_store::{BusMessage, SessionBus, StoreError};
use tokio::sync::{broadcast, mpsc};

use crate::conn::Redis;
use crate::error::unavailable;

/// Messages waiting to be published; past it `publish` drops and says so.
const OUTGOING: usize = 1024;
/// Messages from other nodes a slow receiver may fall behind by.
const INCOMING: usize = 1024;

/// A message on the wire: the node that sent it, then the message.
#[derive(Serialize, Deserialize)]
struct Wire {
    from: u64,
    #[serde(flatten)]
    message: BusMessage,
}

/// The session bus of one node on Redis pub/sub.
#[derive(Debug)]
pub struct RedisBus {
    node: u64,
    max_bytes: usize,
    outgoing: mpsc::Sender<String>,
    incoming: broadcast::Sender<Arc<BusMessage>>,
}

impl RedisBus {
    /// Subscribe (before returning, so this node hears everything published
    /// after) and start the tasks that publish and receive. Messages longer
    /// than `max_bytes` are neither sent nor accepted.
    pub async fn start(redis: &Redis, max_bytes: usize) -> Result<Arc<Self>, StoreError> {
        let channel = redis.keys.bus();
        let node = node_id();
        // Nodes spread their subscriptions over the seeds of a cluster.
        let first = (node % redis.clients.len() as u64) as usize;
        let subscribed = subscribe(redis, &channel, first).await?;
        let (outgoing, queue) = mpsc::channel(OUTGOING);
        let incoming = broadcast::channel(INCOMING).0;
        let bus = Arc::new(Self {
            node,
            max_bytes,
            outgoing,
            incoming: incoming.clone(),
        });
        tokio::spawn(publisher(redis.clone(), channel.clone(), queue));
        tokio::spawn(receiver(
            redis.clone(),
            channel,
            subscribed,
            bus.node,
            max_bytes,
            incoming,
        ));
        Ok(bus)
    }
}

impl SessionBus for RedisBus {
    fn publish(&self, message: BusMessage) -> bool {
        let wire = Wire {
            from: self.node,
            message,
        };
        let Ok(text) = serde_json::to_string(&wire) else {
            return false;
        };
        if text.len() > self.max_bytes {
            tracing::warn!(bytes = text.len(), "bus message too large; dropped");
            return false;
        }
        if self.outgoing.try_send(text).is_err() {
            tracing::warn!("bus outgoing queue full; message dropped");
            return false;
        }
        true
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<BusMessage>> {
        self.incoming.subscribe()
    }

    fn room(&self) -> usize {
        self.outgoing.capacity()
    }
}

/// A random node id, so a node can skip its own messages.
fn node_id() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

/// A fresh pub/sub connection subscribed to `channel`, within the
/// configured wait (connecting and subscribing each): to the one Redis, or
/// to the first cluster node that answers, starting at `first` (`PUBLISH`
/// reaches every node of a cluster, so any one will do). Returns the node's
/// position too, so that a resubscription starts at the next one.
async fn subscribe(
    redis: &Redis,
    channel: &str,
    first: usize,
) -> Result<(redis::aio::PubSub, usize), StoreError> {
    let n = redis.clients.len();
    let mut last = None;
    for at in (first..first + n).map(|i| i % n) {
        match subscribe_to(redis, &redis.clients[at], channel).await {
            Ok(p) => return Ok((p, at)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| StoreError::Unavailable("no Redis to subscribe to".to_owned())))
}

async fn subscribe_to(
    redis: &Redis,
    client: &redis::Client,
    channel: &str,
) -> Result<redis::aio::PubSub, StoreError> {
    let t = redis.timeout();
    let late = || StoreError::Unavailable(format!("Redis did not subscribe within {t:?}"));
    let mut pubsub = tokio::time::timeout(t, client.get_async_pubsub())
        .await
        .map_err(|_| late())?
        .map_err(|e| unavailable("subscribe", &e))?;
    tokio::time::timeout(t, pubsub.subscribe(channel))
        .await
        .map_err(|_| late())?
        .map_err(|e| unavailable("subscribe", &e))?;
    Ok(pubsub)
}

async fn publisher(redis: Redis, channel: String, mut queue: mpsc::Receiver<String>) {
    while let Some(text) = queue.recv().await {
        let ch = channel.clone();
        let sent = redis
            .bounded("publish", |mut c| async move {
                redis::cmd("PUBLISH")
                    .arg(ch)
                    .arg(text)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "bus message lost");
        }
    }
}

/// Forward other nodes' messages to the local receivers; after the
/// connection drops, subscribe again, on a cluster to the next node first
/// (what was published meanwhile is lost).
async fn receiver(
    redis: Redis,
    channel: String,
    (mut pubsub, mut at): (redis::aio::PubSub, usize),
    node: u64,
    max_bytes: usize,
    incoming: broadcast::Sender<Arc<BusMessage>>,
) {
    loop {
        let mut messages = pubsub.into_on_message();
        while let Some(msg) = messages.next().await {
            let bytes = msg.get_payload_bytes();
            if bytes.len() > max_bytes {
                continue;
            }
            match serde_json::from_slice::<Wire>(bytes) {
                Ok(w) if w.from != node => {
                    let _ = incoming.send(Arc::new(w.message));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "unreadable bus message"),
            }
        }
        tracing::warn!("bus connection lost; subscribing again");
        (pubsub, at) = resubscribe(&redis, &channel, at + 1).await;
    }
}

async fn resubscribe(redis: &Redis, channel: &str, first: usize) -> (redis::aio::PubSub, usize) {
    let mut pause = Duration::from_millis(50);
    loop {
        match subscribe(redis, channel, first).await {
            Ok(p) => return p,
            Err(e) => tracing::debug!(error = %e, "bus subscribe failed"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}
