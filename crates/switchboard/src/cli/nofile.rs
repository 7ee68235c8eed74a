//! The open-file limit: `serve` and `bench` raise the soft `RLIMIT_NOFILE`
//! to the hard one at start (as most servers do), since every connection is
//! a descriptor; the server's connection caps are derived from the raised
//! limit. One log line says what happened.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Raise the soft open-file limit to the hard limit, and say so.
pub(crate) fn raise() {
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(limits) => limits,
        Err(e) => {
            tracing::warn!(target: "switchboard::nofile", error = %e, "cannot read the open-file limit");
            return;
        }
    };
    if soft >= hard {
        tracing::debug!(
            target: "switchboard::nofile",
            open_file_limit = soft,
            "open-file limit already at its maximum"
        );
        return;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => tracing::info!(
            target: "switchboard::nofile",
            from = soft,
            to = hard,
            "raised the open-file limit to its maximum"
        ),
        Err(e) => tracing::warn!(
            target: "switchboard::nofile",
            error = %e,
            open_file_limit = soft,
            hard_limit = hard,
            "cannot raise the open-file limit; the connection caps follow the current one"
        ),
    }
}
