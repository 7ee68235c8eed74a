//! Length-limited lines, where a bad line is an item, not the end: the
//! one line reader of stdio upstreams and of the stdio front.

use std::io;

use bytes::BytesMut;
use tokio_util::codec::{Decoder, LinesCodec, LinesCodecError};

/// A line that could not be read as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadLine {
    /// Longer than the limit (the rest of it is skipped).
    TooLong,
    /// Not UTF-8.
    NotUtf8,
}

/// [`LinesCodec`] with a maximum length, yielding bad lines as items so that
/// framing goes on from the buffer right after them.
#[derive(Debug)]
pub struct Lines(LinesCodec);

impl Lines {
    /// Lines of at most `max_line_bytes` bytes.
    pub fn new(max_line_bytes: usize) -> Self {
        Self(LinesCodec::new_with_max_length(max_line_bytes))
    }

    fn map(
        result: Result<Option<String>, LinesCodecError>,
    ) -> Result<Option<Result<String, BadLine>>, io::Error> {
        match result {
            Ok(line) => Ok(line.map(Ok)),
            Err(LinesCodecError::MaxLineLengthExceeded) => Ok(Some(Err(BadLine::TooLong))),
            Err(LinesCodecError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => {
                Ok(Some(Err(BadLine::NotUtf8)))
            }
            Err(LinesCodecError::Io(e)) => Err(e),
        }
    }
}

impl Decoder for Lines {
    type Item = Result<String, BadLine>;
    type Error = io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, io::Error> {
        Self::map(self.0.decode(buf))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, io::Error> {
        let item = Self::map(self.0.decode_eof(buf));
        if matches!(item, Ok(Some(Err(BadLine::TooLong)))) {
            // The over-long tail has no newline to end the skipping.
            buf.clear();
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(max: usize, input: &[u8]) -> Vec<Result<String, BadLine>> {
        let mut codec = Lines::new(max);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(item);
        }
        while let Some(item) = codec.decode_eof(&mut buf).unwrap() {
            out.push(item);
        }
        out
    }

    #[test]
    fn bad_lines_do_not_stop_the_rest() {
        let out = all(8, b"short\nthis line is too long\n\xff\xfe\nok\ntail");
        assert_eq!(
            out,
            vec![
                Ok("short".into()),
                Err(BadLine::TooLong),
                Err(BadLine::NotUtf8),
                Ok("ok".into()),
                Ok("tail".into()),
            ]
        );
    }

    #[test]
    fn an_over_long_tail_ends() {
        assert_eq!(all(4, b"abcdefgh"), vec![Err(BadLine::TooLong)]);
    }
}
