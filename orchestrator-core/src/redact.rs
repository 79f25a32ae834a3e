//! One redactor for every sink: what a step printed, the journal, task records, failure messages
//! and step summaries all pass through the same [`Redactor`].
//!
//! Why values and not lines: a secret may span lines (a private key in `SSH_PRIVATE_KEY`), and a
//! command's output arrives in chunks that split lines and secrets anywhere. So the redactor
//! masks each secret value whole, and also each non-trivial line of a multi-line value (a key
//! printed with other line endings, or one line of it quoted in an error), and its stream form
//! ([`RedactingStream`]) works on bytes before they are split into lines, holding back only the
//! bytes that could still turn out to be the start of a secret.

use std::fmt;

/// What is printed instead of a secret.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this (in characters) are not masked: they would mask ordinary text.
pub const MIN_SECRET_CHARS: usize = 4;

/// Masks every secret value, and each non-trivial line of a multi-line one, in text or in a
/// byte stream. `Debug` shows how many patterns it holds, never them.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret containing another (a key and one of its lines) is masked whole.
    patterns: Vec<Vec<u8>>,
    /// Whether some pattern starts with this byte: most bytes are copied after one lookup.
    starts: Vec<bool>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} patterns)", self.patterns.len())
    }
}

impl Redactor {
    /// A redactor for `values`: each value of at least [`MIN_SECRET_CHARS`] characters, and each
    /// line of a multi-line value that has that many characters (whitespace trimmed) and a letter
    /// or digit (so a blank or `-----` line of a key masks nothing else).
    pub fn new<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        for value in values {
            let value = value.as_ref();
            if value.chars().count() >= MIN_SECRET_CHARS {
                patterns.push(value.as_bytes().to_vec());
            }
            if value.contains(['\n', '\r']) {
                for line in value.split(['\n', '\r']) {
                    let line = line.trim();
                    if line.chars().count() >= MIN_SECRET_CHARS
                        && line.chars().any(char::is_alphanumeric)
                    {
                        patterns.push(line.as_bytes().to_vec());
                    }
                }
            }
        }
        patterns.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        patterns.dedup();
        let mut starts = vec![false; 256];
        for p in &patterns {
            starts[usize::from(p[0])] = true;
        }
        Self { patterns, starts }
    }

    /// Masks nothing.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether it masks nothing.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The longest pattern in bytes: a stream holds back fewer bytes than this.
    pub fn max_pattern_len(&self) -> usize {
        self.patterns.first().map_or(0, Vec::len)
    }

    /// `text` with every secret replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        if self.is_empty() {
            return text.to_owned();
        }
        let mut out = Vec::with_capacity(text.len());
        self.scan(text.as_bytes(), &mut out, true);
        // Patterns are whole UTF-8 strings (a match starts and ends on character boundaries)
        // and the replacement is ASCII, so the result is UTF-8.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// A stream redactor: feed it chunks, read masked bytes.
    pub fn stream(&self) -> RedactingStream<'_> {
        RedactingStream {
            redactor: self,
            held: Vec::new(),
        }
    }

    /// Copies `buf` to `out` with secrets masked. Without `at_end`, stops before the first byte
    /// that may begin a secret not yet complete in `buf`. Returns how many bytes were consumed.
    fn scan(&self, buf: &[u8], out: &mut Vec<u8>, at_end: bool) -> usize {
        let mut i = 0;
        let mut copied = 0;
        while i < buf.len() {
            if !self.starts[usize::from(buf[i])] {
                i += 1;
                continue;
            }
            let rest = &buf[i..];
            let mut pending = false;
            let mut matched = None;
            for p in &self.patterns {
                if rest.len() >= p.len() {
                    if rest.starts_with(p) {
                        matched = Some(p.len());
                        break;
                    }
                } else if !at_end && p.starts_with(rest) {
                    // A longer secret may still complete here: decide when more bytes come.
                    pending = true;
                    break;
                }
            }
            if pending {
                break;
            }
            match matched {
                Some(n) => {
                    out.extend_from_slice(&buf[copied..i]);
                    out.extend_from_slice(REDACTED.as_bytes());
                    i += n;
                    copied = i;
                }
                None => i += 1,
            }
        }
        out.extend_from_slice(&buf[copied..i]);
        i
    }
}

/// Masks secrets in a byte stream that arrives in chunks: a secret split across chunks (or
/// spanning lines) is masked whole. It holds back fewer bytes than the longest secret.
#[derive(Debug)]
pub struct RedactingStream<'a> {
    redactor: &'a Redactor,
    held: Vec<u8>,
}

impl RedactingStream<'_> {
    /// Feeds `chunk`; appends to `out` the bytes that can no longer be part of a secret.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.redactor.is_empty() {
            out.extend_from_slice(chunk);
            return;
        }
        self.held.extend_from_slice(chunk);
        let done = self.redactor.scan(&self.held, out, false);
        self.held.drain(..done);
    }

    /// The end of the stream: appends everything still held, masked.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let done = self.redactor.scan(&self.held, out, true);
        debug_assert_eq!(done, self.held.len());
        self.held.clear();
    }

    /// Bytes held back now (always fewer than [`Redactor::max_pattern_len`]).
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\n\
        b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n\
        QyNTUxOQAAACBhc2VjcmV0a2V5bGluZXR3b3RoYXRtdXN0bm90bGVha2F0YWxsAAAAmHVz\n\
        \n\
        -----END OPENSSH PRIVATE KEY-----";

    fn stream_all(r: &Redactor, text: &[u8], chunk: usize) -> String {
        let mut out = Vec::new();
        let mut s = r.stream();
        for part in text.chunks(chunk) {
            s.push(part, &mut out);
            assert!(s.held() < r.max_pattern_len().max(1), "held {}", s.held());
        }
        s.finish(&mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn masks_values_longest_first_and_ignores_short_ones() {
        let r = Redactor::new(["abc", "tok-123", "tok-123-long"]);
        assert_eq!(
            r.redact("a tok-123-long b tok-123 abc"),
            "a [redacted] b [redacted] abc"
        );
        assert!(Redactor::new(["", "xyz"]).is_empty());
        assert_eq!(format!("{r:?}"), "Redactor(2 patterns)");
    }

    #[test]
    fn a_multi_line_value_is_masked_whole_and_line_by_line() {
        let r = Redactor::new([KEY]);
        assert_eq!(r.redact(&format!("key: {KEY}.")), "key: [redacted].");
        // Printed with other line endings, or one line at a time: every line is masked.
        let crlf = KEY.replace('\n', "\r\n");
        let masked = r.redact(&crlf);
        for line in KEY.lines().filter(|l| l.len() >= 4) {
            assert!(!masked.contains(line), "{line} leaked in {masked}");
        }
        let second = KEY.lines().nth(2).expect("line");
        assert_eq!(r.redact(&format!("> {second}")), "> [redacted]");
        // A blank line of the key is not a pattern (it would mask every blank line).
        assert_eq!(r.redact("a\n\nb"), "a\n\nb");
    }

    #[test]
    fn a_stream_masks_secrets_split_across_any_chunk_boundary() {
        let r = Redactor::new([KEY, "s3cr3t-value"]);
        let text = format!("start\npw=s3cr3t-value\n{KEY}\ntail s3cr3t-valu\n");
        let want = r.redact(&text);
        assert_eq!(
            want, "start\npw=[redacted]\n[redacted]\ntail s3cr3t-valu\n",
            "the whole key is one match, a near miss stays"
        );
        for chunk in [1, 2, 3, 5, 7, 64, 4096] {
            assert_eq!(
                stream_all(&r, text.as_bytes(), chunk),
                want,
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn a_stream_without_secrets_holds_nothing_back() {
        let r = Redactor::none();
        let mut out = Vec::new();
        let mut s = r.stream();
        s.push(b"abc", &mut out);
        assert_eq!((out.as_slice(), s.held()), (&b"abc"[..], 0));
    }
}
