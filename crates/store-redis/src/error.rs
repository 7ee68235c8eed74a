//! How Redis failures become [`StoreError`]s, the same for every backend
//! and for both kinds of connection.

use std::time::Duration;

use redis::{ErrorKind, RedisError};
use switchboard_store::StoreError;

/// The call `what` got no answer within `t`.
pub(crate) fn late(what: &str, t: Duration) -> StoreError {
    StoreError::Unavailable(format!(
        "Redis did not answer {what} within {} ms",
        t.as_millis()
    ))
}

/// The call `what` failed for a reason other than the data: the store is
/// unavailable.
pub(crate) fn unavailable(what: &str, e: &RedisError) -> StoreError {
    StoreError::Unavailable(format!("Redis {what} failed: {e}"))
}

/// Replies of the wrong shape or type mean the data under our keys is not
/// what we wrote: corrupt. Everything else (I/O, timeouts, a server that is
/// loading, read-only or out of memory) is the store being unavailable.
pub(crate) fn to_store_error(what: &str, e: &RedisError) -> StoreError {
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
