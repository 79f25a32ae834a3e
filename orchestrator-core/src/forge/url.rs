//! Showing a forge URL without the credentials someone wrote into it.
//!
//! `ORCHESTRATOR_FORGE_URL=http://user:secret@host` is an easy thing to write, and a URL is shown
//! in many places: error messages, progress lines, `-v` logs, `Debug`, `--help`. Every one of those
//! sinks passes what it shows through [`redact_userinfo`], so the secret has one way out, closed
//! in one place. (The userinfo is never needed to talk to the forge: the token travels in a
//! header, and the HTTP client does not turn userinfo into credentials.)

use std::borrow::Cow;

/// `text` with the `user:password@` part of every `scheme://` URL in it removed.
///
/// The userinfo of a URL is what stands between `://` and the last `@` of its authority (which ends
/// at the first `/`, `?`, `#`, whitespace or quote). Text without such a URL is returned as is.
///
/// ```
/// use orchestrator_core::forge::redact_userinfo;
/// assert_eq!(
///     redact_userinfo("GET http://user:s3cret@127.0.0.1:9/repos failed"),
///     "GET http://127.0.0.1:9/repos failed"
/// );
/// assert_eq!(redact_userinfo("https://api.github.com"), "https://api.github.com");
/// ```
pub fn redact_userinfo(text: &str) -> Cow<'_, str> {
    if !text.contains("://") || !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '`') || c.is_whitespace()
            })
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        let host_start = authority.rfind('@').map_or(0, |i| i + 1);
        out.push_str(&authority[host_start..]);
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_removed_from_every_url_in_a_text() {
        let cases = [
            ("http://user:secret@host", "http://host"),
            (
                "http://user:secret@host:8080/api/v3?x=1",
                "http://host:8080/api/v3?x=1",
            ),
            ("https://tok@[::1]:9/x", "https://[::1]:9/x"),
            ("http://u:p@ss@host/p", "http://host/p"),
            (
                "GET http://a:b@h1/x: error sending request for url (http://a:b@h1/x)",
                "GET http://h1/x: error sending request for url (http://h1/x)",
            ),
            ("url=\"http://a:b@h\" next", "url=\"http://h\" next"),
            ("http://host/path/@scope/pkg", "http://host/path/@scope/pkg"),
            ("mail me@example.com", "mail me@example.com"),
            ("no url here", "no url here"),
            ("http://:secret@host", "http://host"),
        ];
        for (input, want) in cases {
            assert_eq!(redact_userinfo(input), want, "{input}");
        }
    }

    #[test]
    fn text_without_userinfo_is_not_copied() {
        assert!(matches!(
            redact_userinfo("https://api.github.com/repos/o/r"),
            Cow::Borrowed(_)
        ));
    }
}
