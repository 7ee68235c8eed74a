//! The error shape of the stateless era: where 2026-07-28 reports an error
//! differently from the session eras.

use switchboard_proto::{ErrorCode, RpcError};

/// 2026-07-28 reports an unknown resource as invalid params.
pub fn modern_error(mut e: RpcError) -> RpcError {
    if e.code == ErrorCode::RESOURCE_NOT_FOUND {
        e.code = ErrorCode::INVALID_PARAMS;
    }
    e
}
