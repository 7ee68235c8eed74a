//! Log lines to stderr without a write(2) per line: formatted lines are
//! appended to a shared buffer and a writer thread flushes it when it holds
//! 64 KiB or every 50 ms, and at exit. A line is never split; if stderr
//! cannot keep up and the buffer passes 8 MiB, further lines are dropped
//! and counted (a note says how many), so logging never blocks a request.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Flush at this many bytes without waiting for the tick.
const FLUSH_AT: usize = 64 << 10;
/// Drop lines past this many bytes waiting.
const MAX_PENDING: usize = 8 << 20;
const TICK: Duration = Duration::from_millis(50);

#[derive(Debug, Default)]
struct Pending {
    buf: Vec<u8>,
    dropped: u64,
}

#[derive(Debug, Default)]
struct Shared {
    pending: Mutex<Pending>,
    ready: Condvar,
    /// No writer thread could be started: each line is written at once.
    direct: std::sync::atomic::AtomicBool,
}

/// The `MakeWriter` of the log layers; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Buffered(Arc<Shared>);

/// Flushes what is left when dropped (at the end of `main`).
#[derive(Debug)]
pub(crate) struct FlushGuard(Arc<Shared>);

impl Buffered {
    /// The writer and the guard that flushes it at exit.
    pub(crate) fn start() -> (Self, FlushGuard) {
        let shared = Arc::new(Shared::default());
        let flusher = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || {
                loop {
                    let guard = lock(&flusher);
                    let (guard, _) = flusher
                        .ready
                        .wait_timeout(guard, TICK)
                        .unwrap_or_else(|p| p.into_inner());
                    drain(guard);
                }
            });
        if spawned.is_err() {
            shared
                .direct
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        (Self(shared.clone()), FlushGuard(shared))
    }
}

impl Buffered {
    /// A line to format, appended whole when dropped.
    pub(crate) fn line(&self) -> Line {
        Line {
            shared: self.0.clone(),
            line: Vec::with_capacity(256),
        }
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, Pending> {
    shared.pending.lock().unwrap_or_else(|p| p.into_inner())
}

/// Write out what is pending (outside the lock).
fn drain(mut guard: MutexGuard<'_, Pending>) {
    let mut out = std::mem::take(&mut guard.buf);
    let dropped = std::mem::take(&mut guard.dropped);
    drop(guard);
    if dropped > 0 {
        let _ = writeln!(
            out,
            "switchboard: {dropped} log lines dropped (stderr too slow)"
        );
    }
    if !out.is_empty() {
        let _ = std::io::stderr().lock().write_all(&out);
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        drain(lock(&self.0));
    }
}

/// One line being formatted; appended whole when dropped.
#[derive(Debug)]
pub(crate) struct Line {
    shared: Arc<Shared>,
    line: Vec<u8>,
}

impl Line {
    /// The line's bytes, to format into.
    pub(crate) fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.line
    }
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self
            .shared
            .direct
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            let _ = std::io::stderr().lock().write_all(&self.line);
            return;
        }
        let mut p = lock(&self.shared);
        if p.buf.len() + self.line.len() > MAX_PENDING {
            p.dropped += 1;
            return;
        }
        p.buf.extend_from_slice(&self.line);
        if p.buf.len() >= FLUSH_AT {
            self.shared.ready.notify_one();
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffered {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        self.line()
    }
}
