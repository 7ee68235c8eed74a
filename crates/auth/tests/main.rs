//! JWT verification, JWKS sources and refresh, and the property tests of the
//! token parsers: one module per area, each a file of this directory, built
//! as one test binary.

mod common;

mod jwks_refresh;
mod jwt;
mod jwt_sources;
mod properties;
