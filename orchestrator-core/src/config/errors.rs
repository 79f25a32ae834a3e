//! How every section of `orchestrator.toml` reports a problem: one [`Error::Config`] naming the
//! file, the line and the dotted key, with a message about the value, so a user can go straight
//! to it. The composition makes one reporter per file and hands it to each section's parser;
//! sections say *what* is wrong and *where* (a span and a key), never how a location is written.

use std::ops::Range;
use std::path::Path;

use crate::error::Error;

/// A section's way to refuse a value: the span of the offending text (its line is reported),
/// the dotted key (`release.timeout`, `repo[3].assets`) and the message.
pub(crate) type ErrFn<'a> = dyn Fn(Option<Range<usize>>, Option<String>, String) -> Error + 'a;

/// The reporter for `text` read from `file`.
pub(crate) fn reporter<'a>(
    file: &'a Path,
    text: &'a str,
) -> impl Fn(Option<Range<usize>>, Option<String>, String) -> Error + 'a {
    move |span, key, message| Error::Config {
        file: file.to_owned(),
        line: span.map(|s| line_of(text, s.start)),
        key,
        message,
    }
}

/// A TOML syntax error, or a document of the wrong shape (an unknown key, a wrong type), as
/// reported by serde: located at its line, with the key written on that line when there is one.
pub(crate) fn syntax_error(e: &toml::de::Error, text: &str, err: &ErrFn<'_>) -> Error {
    let span = e.span();
    let key = span.clone().and_then(|s| key_at(text, s.start));
    err(span, key, e.message().trim().to_owned())
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The key written on the line of `offset`, if that line is `key = value`.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('[')).then(|| key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_keys_are_found_from_an_offset() {
        let text = "[release]\ntimeout = \"0s\"\n\n  poll_interval=\"1s\"\n";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, text.find("timeout").expect("key")), 2);
        assert_eq!(line_of(text, text.len() + 10), 5);
        assert_eq!(
            key_at(text, text.find("\"0s\"").expect("value")).as_deref(),
            Some("timeout")
        );
        assert_eq!(
            key_at(text, text.find("poll").expect("key")).as_deref(),
            Some("poll_interval")
        );
        assert_eq!(key_at(text, 3), None, "a table header names no key");
        assert_eq!(key_at(text, text.find("\n\n").expect("blank") + 1), None);
    }
}
