//! `RedisBus` on a real redis-server: a message reaches the other nodes of
//! its prefix and not its sender or another prefix, oversized messages are
//! refused, and the bus hears again after Redis restarts.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use support::{RedisProcess, connect_prefix, unique_prefix};
use switchboard_store::{BusMessage, SessionBus};
use switchboard_store_redis::RedisBus;
use tokio::sync::broadcast::Receiver;

const MAX: usize = 4096;

async fn bus(server: &RedisProcess, prefix: &str) -> Arc<RedisBus> {
    let redis = connect_prefix(server, prefix).await;
    RedisBus::start(&redis, MAX).await.expect("bus")
}

fn cancel(id: u32) -> BusMessage {
    BusMessage::Cancel {
        session: "s".into(),
        id: id.to_string(),
    }
}

/// The next message, within a generous bound.
async fn next(rx: &mut Receiver<Arc<BusMessage>>) -> BusMessage {
    let m = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a message within 20 s")
        .expect("an open bus");
    (*m).clone()
}

#[tokio::test]
async fn messages_reach_the_other_nodes_of_the_prefix_only() {
    let server = RedisProcess::start();
    let (p, q) = (unique_prefix("bus"), unique_prefix("bus"));
    let (a, b) = (bus(&server, &p).await, bus(&server, &p).await);
    let (c, d) = (bus(&server, &q).await, bus(&server, &q).await);
    let (mut ra, mut rb, mut rd) = (a.subscribe(), b.subscribe(), d.subscribe());

    let answer = BusMessage::Answer {
        session: "s".into(),
        id: "\"x\"".into(),
        ok: false,
        body: r#"{"code":-1,"message":"no"}"#.into(),
    };
    assert!(a.publish(answer.clone()));
    assert_eq!(next(&mut rb).await, answer);
    // B answers after it heard A; A hears B's message first: not its own.
    assert!(b.publish(cancel(2)));
    assert_eq!(next(&mut ra).await, cancel(2));
    // The other prefix heard neither: D's first message is C's.
    assert!(c.publish(cancel(3)));
    assert_eq!(next(&mut rd).await, cancel(3));

    let huge = BusMessage::Server {
        method: "x".repeat(MAX),
        uri: None,
    };
    assert!(!a.publish(huge), "an oversized message was sent");
}

#[tokio::test]
async fn the_bus_hears_again_after_redis_restarts() {
    let mut server = RedisProcess::start();
    let p = unique_prefix("bus");
    let (a, b) = (bus(&server, &p).await, bus(&server, &p).await);
    let mut rb = b.subscribe();
    server.kill();
    let port = server.port;
    let _server = RedisProcess::start_on(port).expect("redis again on its port");
    // What is published while a node resubscribes is lost: publish until
    // one arrives (bounded).
    for i in 0..200u32 {
        a.publish(cancel(i));
        if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(100), rb.recv()).await {
            assert!(matches!(*m, BusMessage::Cancel { .. }), "{m:?}");
            return;
        }
    }
    panic!("the bus never heard again after the restart");
}
