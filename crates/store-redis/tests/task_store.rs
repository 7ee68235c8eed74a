//! `RedisTaskStore` against a real `redis-server`.

use crate::support;

use support::RedisProcess;
use switchboard_store_redis::RedisTaskStore;

#[tokio::test]
async fn passes_the_task_store_suite() {
    let server = RedisProcess::start();
    let store = RedisTaskStore::new(support::connect(&server, "tasks").await);
    switchboard_store::suite::task_store_suite(&store).await;
}
