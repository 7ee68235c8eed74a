//! Length-limited lines, where a bad line is an item, not the end: the
//! framing of every newline-delimited JSON-RPC stream (stdio upstreams, and
//! the server's stdio front).

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
    /// Lines of at most `max_line_bytes` bytes (the newline aside).
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

    mod properties {
        //! Property tests: whatever the bytes and however they arrive,
        //! one item per line, in order — the line itself when it is short
        //! enough and UTF-8, else why not — and framing goes on after a bad
        //! line. Case counts are for CI; `PROPTEST_CASES=<n>` runs `n`
        //! (docs/testing.md).

        use proptest::prelude::*;
        use proptest::test_runner::Config as ProptestConfig;

        use super::*;

        fn cases(n: u32) -> ProptestConfig {
            let from_env = std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|v| v.parse().ok());
            ProptestConfig {
                cases: from_env.unwrap_or(n),
                ..ProptestConfig::default()
            }
        }

        /// Decode `input` arriving in chunks cut at `cuts`.
        fn chunked(max: usize, input: &[u8], cuts: &[usize]) -> Vec<Result<String, BadLine>> {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
            cuts.sort_unstable();
            let mut codec = Lines::new(max);
            let (mut buf, mut out, mut from) = (BytesMut::new(), Vec::new(), 0);
            for to in cuts.into_iter().chain([input.len()]) {
                buf.extend_from_slice(&input[from..to]);
                from = to;
                while let Some(item) = codec.decode(&mut buf).unwrap() {
                    out.push(item);
                }
            }
            while let Some(item) = codec.decode_eof(&mut buf).unwrap() {
                out.push(item);
            }
            out
        }

        /// A line's bytes: text, sometimes invalid UTF-8, sometimes a CR.
        fn line() -> impl Strategy<Value = Vec<u8>> {
            prop::collection::vec(
                prop_oneof![8 => 0x20u8..0x7f, 1 => Just(b'\r'), 1 => 0x80u8..=0xff],
                0..24,
            )
        }

        proptest! {
            #![proptest_config(cases(4000))]

            #[test]
            fn one_item_per_line_however_it_arrives(
                lines in prop::collection::vec(line(), 0..8),
                end_with_newline in any::<bool>(),
                max in 1usize..16,
                cuts in prop::collection::vec(any::<usize>(), 0..6),
            ) {
                let mut input = lines.join(&b'\n');
                if end_with_newline && !lines.is_empty() {
                    input.push(b'\n');
                }
                let mut want: Vec<Result<String, BadLine>> = lines
                    .iter()
                    .map(|l| {
                        if l.len() > max {
                            return Err(BadLine::TooLong);
                        }
                        let l = l.strip_suffix(b"\r").unwrap_or(l);
                        String::from_utf8(l.to_vec()).map_err(|_| BadLine::NotUtf8)
                    })
                    .collect();
                // An unterminated last line that is empty (or a lone CR)
                // is no line.
                if !end_with_newline && lines.last().is_some_and(|l| l.is_empty() || l == b"\r") {
                    want.pop();
                }
                prop_assert_eq!(chunked(max, &input, &cuts), want);
            }

            #[test]
            fn any_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..256), max in 1usize..32, cuts in prop::collection::vec(any::<usize>(), 0..6)) {
                let _ = chunked(max, &input, &cuts);
            }
        }
    }
}
