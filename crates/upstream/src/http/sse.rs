//! A server-sent events parser (the WHATWG event stream format), fed the
//! body of a response chunk by chunk.
//!
//! Lines end with CRLF, LF or a lone CR (also across chunk boundaries); a
//! leading byte order mark is skipped; `:` starts a comment; `data` lines
//! accumulate; `id` sets the last event id (also for events that carry no
//! data, like MCP's priming events); `retry` takes only digits. Lines and
//! events are capped, so a server cannot make us buffer without end.

/// The UTF-8 byte order mark.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The last event id when the event was dispatched (ids persist).
    pub(crate) id: Option<String>,
    /// The event type; `message` when none was given.
    pub(crate) event: String,
    /// The data lines joined with `\n`.
    pub(crate) data: String,
}

/// Why a stream was given up on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SseError {
    /// A line (or an event's data) longer than the cap.
    #[error("an event larger than {0} bytes")]
    TooLarge(usize),
}

/// The parser's state between chunks.
#[derive(Debug)]
pub(crate) struct SseParser {
    max: usize,
    /// The unfinished line.
    line: Vec<u8>,
    /// The last chunk ended with CR: an LF starting the next is its pair.
    after_cr: bool,
    /// Still at the very start (a BOM may come).
    at_start: bool,
    data: String,
    has_data: bool,
    event: String,
    last_id: Option<String>,
    retry: Option<u64>,
}

impl SseParser {
    /// A parser refusing lines and events over `max` bytes.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            data: String::new(),
            has_data: false,
            event: String::new(),
            last_id: None,
            retry: None,
        }
    }

    /// A parser for a resumed stream: it starts with the last event id
    /// and the retry delay already known.
    pub(crate) fn resuming(max: usize, last_id: Option<String>, retry: Option<u64>) -> Self {
        Self {
            last_id,
            retry,
            ..Self::new(max)
        }
    }

    /// The id of the last event seen (what `Last-Event-ID` should carry).
    pub(crate) fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// The reconnection delay the server asked for, in milliseconds.
    pub(crate) fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// Feed a chunk; completed events are pushed onto `out`.
    pub(crate) fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if !self.at_start {
            return self.lines(chunk, out);
        }
        // Hold the first bytes back until it is known whether they are a BOM.
        let mut held = std::mem::take(&mut self.line);
        held.extend_from_slice(chunk);
        if held.len() < BOM.len() && BOM.starts_with(&held) {
            self.line = held;
            return Ok(());
        }
        self.at_start = false;
        self.lines(held.strip_prefix(&BOM).unwrap_or(&held), out)
    }

    fn lines(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if chunk.is_empty() {
            // Nothing to pair a pending CR with yet.
            return Ok(());
        }
        if std::mem::take(&mut self.after_cr) && chunk.first() == Some(&b'\n') {
            chunk = &chunk[1..];
        }
        while let Some(end) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.push(&chunk[..end])?;
            self.end_line(out)?;
            let crlf = chunk[end] == b'\r' && chunk.get(end + 1) == Some(&b'\n');
            if chunk[end] == b'\r' && end + 1 == chunk.len() {
                self.after_cr = true;
            }
            chunk = &chunk[end + if crlf { 2 } else { 1 }..];
        }
        self.push(chunk)
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len() + bytes.len() > self.max {
            return Err(SseError::TooLarge(self.max));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let line = std::mem::take(&mut self.line);
        let line = String::from_utf8_lossy(&line);
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = line.split_once(':').unwrap_or((&line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => {
                if self.data.len() + value.len() + 1 > self.max {
                    return Err(SseError::TooLarge(self.max));
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => value.clone_into(&mut self.event),
            "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = std::mem::take(&mut self.event);
        if !std::mem::take(&mut self.has_data) {
            return;
        }
        out.push(SseEvent {
            id: self.last_id.clone(),
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data: std::mem::take(&mut self.data),
        });
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
