//! The `switchboard` command line: each subcommand's arguments and the
//! few lines that hand them to the library (or to the admin API client,
//! the key generator, the load generator).

pub(crate) mod keys;
pub(crate) mod logwriter;
pub(crate) mod nofile;
pub(crate) mod ops;
pub(crate) mod serve;
pub(crate) mod stdio;
