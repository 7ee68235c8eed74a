//! Configuration files read whole: secrets and upstream credentials. One module
//! per area, built as one test binary.

mod secrets;
mod upstream_credentials;
