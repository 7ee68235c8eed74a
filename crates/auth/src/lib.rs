//! Authentication for Switchboard: who a bearer token names.
//!
//! API keys are kept only as SHA-256 digests and compared in constant time;
//! JWTs are verified against keys from a JWKS file or URL (cached, refreshed
//! on an unknown `kid`, rate-limited). Nothing here knows about HTTP routing
//! or tenants' policies: the server maps a verified identity to a tenant.
