//! Starting the process, feeding its stdin, and waiting for it to end.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop, ProcessGroup};
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::shared::{Phase, Shared};
use crate::{StdioSpec, UpstreamError};

/// How long the reader may take to deliver what the process wrote before it
/// died.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Start the process in a process group of its own, with piped stdio.
///
/// Where util-linux's `setpriv` is at hand, the program runs under
/// `setpriv --pdeathsig KILL`, so the kernel kills it even if Switchboard
/// itself is killed with SIGKILL (when nothing of ours runs to kill it).
pub(crate) fn spawn(spec: &StdioSpec) -> Result<Box<dyn ChildWrapper>, UpstreamError> {
    let program = resolve(&spec.command).ok_or_else(|| {
        UpstreamError::Spawn(format!(
            "{}: {}: program not found",
            spec.name, spec.command
        ))
    })?;
    let mut command = match SETPRIV.as_deref() {
        Some(setpriv) => {
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--"]).arg(&program);
            c
        }
        None => Command::new(&program),
    };
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    let mut command = CommandWrap::from(command);
    command.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
    command
        .spawn()
        .map_err(|e| UpstreamError::Spawn(format!("{}: {}: {e}", spec.name, spec.command)))
}

/// `setpriv`, if the system has it.
static SETPRIV: std::sync::LazyLock<Option<std::path::PathBuf>> =
    std::sync::LazyLock::new(|| resolve("setpriv"));

/// The path of `program`: as given if it names a path, else found on
/// `PATH`.
fn resolve(program: &str) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        let p = std::path::PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Write queued lines to stdin, one whole line at a time.
pub(crate) async fn write_stdin(
    name: String,
    mut stdin: ChildStdin,
    mut rx: mpsc::Receiver<String>,
) {
    while let Some(mut line) = rx.recv().await {
        // Raw JSON may hold line breaks, but only as whitespace between
        // tokens (inside strings they must be escaped): a space does as well.
        if line.contains(['\n', '\r']) {
            line = line.replace(['\n', '\r'], " ");
        }
        line.push('\n');
        if let Err(e) = stdin.write_all(line.as_bytes()).await {
            tracing::debug!(upstream = %name, "stdin closed: {e}");
            return;
        }
    }
}

/// Wait for the process to exit (or kill its group when told to), reap it,
/// then fail whatever is still waiting.
pub(crate) async fn supervise(
    mut child: Box<dyn ChildWrapper>,
    shared: Arc<Shared>,
    mut reader: JoinHandle<()>,
) {
    let kill = shared.kill.clone();
    let status = tokio::select! {
        status = child.wait() => {
            // Members of the group left behind go too. The leader was reaped
            // just now, without an await in between: its id cannot have been
            // handed to a new group yet.
            let _ = child.start_kill();
            status
        }
        () = kill.cancelled() => {
            if let Err(e) = child.start_kill() {
                tracing::warn!(upstream = %shared.name, "killing the process group failed: {e}");
            }
            child.wait().await
        }
    };
    let status = match status {
        Ok(status) => status.to_string(),
        Err(e) => format!("waiting for it failed: {e}"),
    };
    tracing::info!(upstream = %shared.name, %status, "upstream process ended");
    shared.phase.send_replace(Phase::Reaped(status.clone()));

    // Answers written just before the end are still delivered.
    if tokio::time::timeout(DRAIN_GRACE, &mut reader)
        .await
        .is_err()
    {
        tracing::warn!(upstream = %shared.name, "stdout still open after the process ended");
        reader.abort();
    }
    let cause = match shared.misbehaving.get() {
        Some(reason) => UpstreamError::Misbehaving(reason.clone()),
        None => UpstreamError::Exited(status.clone()),
    };
    shared.table.lock().close(cause);
    shared.phase.send_replace(Phase::Done(status));
}
