//! The stdio front in-process: the server reading and writing two one-way
//! pipes, as stdin and stdout are, and a client speaking lines to it.

use std::sync::Arc;

use serde_json::Value;
use switchboard_runtime::Catalog;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines};
use tokio::task::JoinHandle;

/// Longest line the in-process server reads, in bytes.
const MAX_LINE: usize = 1 << 20;

/// A client of an in-process stdio front over `catalog`.
#[derive(Debug)]
pub struct StdioClient {
    write: DuplexStream,
    lines: Lines<BufReader<DuplexStream>>,
    server: JoinHandle<std::io::Result<()>>,
}

impl StdioClient {
    /// Start the stdio front over `catalog` on a task of its own.
    pub fn start(catalog: Arc<Catalog>) -> Self {
        let (write, server_read) = tokio::io::duplex(1 << 16);
        let (server_write, read) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(switchboard_server::serve_stdio(
            catalog,
            server_read,
            server_write,
            MAX_LINE,
        ));
        Self {
            write,
            lines: BufReader::new(read).lines(),
            server,
        }
    }

    /// Send one line (a newline is added).
    pub async fn send_line(&mut self, line: &str) {
        self.write
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("the stdio front's input is open");
    }

    /// Send one JSON message as a line.
    pub async fn send(&mut self, message: &Value) {
        self.send_line(&message.to_string()).await;
    }

    /// The next line the server wrote, as JSON; panics at the end of its
    /// output or on a line that is not JSON.
    pub async fn next(&mut self) -> Value {
        let line = self
            .lines
            .next_line()
            .await
            .expect("the stdio front's output is readable")
            .expect("the stdio front wrote a line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// End the input, as a client closing stdin does, and wait for the
    /// server to return; panics unless it returned cleanly.
    pub async fn finish(self) {
        drop(self.write);
        self.server
            .await
            .expect("the stdio front did not panic")
            .expect("the stdio front returned cleanly");
    }
}
