//! What a transaction on the file can fail with, and its `StoreError`.

use switchboard_store::StoreError;

/// A failure inside a transaction (redb's error boxed: it is large).
#[derive(Debug)]
pub(crate) enum Fail {
    Db(Box<redb::Error>),
    Corrupt(String),
    Exists,
}

impl From<Fail> for StoreError {
    fn from(f: Fail) -> Self {
        match f {
            Fail::Db(e) => StoreError::Unavailable(format!("file store: {e}")),
            Fail::Corrupt(m) => StoreError::Corrupt(m),
            Fail::Exists => StoreError::Exists,
        }
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Db(e) => write!(f, "{e}"),
            Fail::Corrupt(m) => write!(f, "corrupt data: {m}"),
            Fail::Exists => write!(f, "exists"),
        }
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Fail {
            fn from(e: $t) -> Self {
                Fail::Db(Box::new(e.into()))
            }
        }
    )*};
}

from_redb!(
    redb::Error,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
