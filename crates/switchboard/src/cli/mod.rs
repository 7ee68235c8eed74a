//! The `switchboard` command line: each subcommand's arguments and the
//! few lines that hand them to the library (or to the admin API client,
//! the key generator, the load generator). Their log lines keep the
//! targets they had before the library split (`switchboard::serve`,
//! `switchboard::nofile`), so `RUST_LOG` filters and log queries still
//! match.

pub(crate) mod accessline;
pub(crate) mod connect;
pub(crate) mod docs;
pub(crate) mod health;
pub(crate) mod import;
pub(crate) mod keys;
pub(crate) mod logwriter;
pub(crate) mod nofile;
pub(crate) mod oauth;
pub(crate) mod ops;
pub(crate) mod serve;
pub(crate) mod stdio;
