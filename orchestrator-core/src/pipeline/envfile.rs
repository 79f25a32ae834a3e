//! Env files, read as a POSIX shell would read the forms people write in them.
//!
//! Supported, one assignment per line: `NAME=value`, `export NAME=value`, `export NAME` (a no-op),
//! blank lines and `#` comments (also after a value), single quotes (literal), double quotes (with
//! `\"`, `\\`, `\$` and `` \` `` escapes), backslash escapes outside quotes, and references:
//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`. A reference sees the lines above it,
//! then the earlier layers, then the process environment; unset is empty, as in `sh`.
//! A quoted value may span lines, as `sh` reads it (a private key in a secret file), and so may
//! one ending in a backslash (`\` and the newline are removed, as in `sh`).
//! Anything a shell would execute (`$(...)`, backticks, `;`, pipes, redirections) or that `sh`
//! would read differently (an unquoted space in a value) is an error naming the file and line.
//!
//! In a secret file (and for a variable whose name looks secret) an error names the file, the
//! line and the variable, and never quotes any part of the value: an error message is printed,
//! logged and journaled like any other.

use std::path::Path;

use crate::error::{Error, Result};
use crate::pipeline::condition::is_var_name;
use crate::pipeline::env::looks_secret;

/// One `NAME=value` line, with its value expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvAssignment {
    /// 1-based line number.
    pub line: usize,
    /// The variable.
    pub name: String,
    /// The value after quote removal and expansion.
    pub value: String,
}

/// The most lines one value may span (a quoted multi-line value); bounds the work spent on a
/// quote that is never closed.
pub const MAX_VALUE_LINES: usize = 1000;

/// Parses env-file text. `lookup` answers references to variables not assigned earlier in this
/// file (earlier layers, then the process environment).
pub fn parse_env_file(
    text: &str,
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<EnvAssignment>> {
    parse_env_file_as(text, file, false, lookup)
}

/// [`parse_env_file`] for a file whose values are secret (`secret`): its errors never quote any
/// part of a line.
pub fn parse_env_file_as(
    text: &str,
    file: &Path,
    secret: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<EnvAssignment>> {
    let mut out: Vec<EnvAssignment> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut next = 0;
    while next < lines.len() {
        let raw = lines[next];
        next += 1;
        let line_no = next;
        let fail = |key: Option<&str>, message: String| Error::Config {
            file: file.to_owned(),
            line: Some(line_no),
            key: key.map(str::to_owned),
            message,
        };
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => line,
        };
        let Some((name, rest)) = line.split_once('=') else {
            let words: Vec<&str> = line.split_whitespace().collect();
            let comment = words.iter().position(|w| w.starts_with('#'));
            let names = &words[..comment.unwrap_or(words.len())];
            if raw.trim_start().starts_with("export") && names.iter().all(|w| is_var_name(w)) {
                continue; // `export NAME`: every variable is exported anyway.
            }
            return Err(fail(
                None,
                if secret {
                    "expected NAME=value (the line is not shown: the file holds secrets)".into()
                } else {
                    format!("expected NAME=value, found {:?}", raw.trim())
                },
            ));
        };
        if !is_var_name(name) {
            return Err(fail(
                None,
                if secret {
                    "invalid variable name (expected NAME=value with no spaces around =; the line is not shown: the file holds secrets)".into()
                } else {
                    format!(
                        "invalid variable name {name:?} (expected NAME=value with no spaces around =)"
                    )
                },
            ));
        }
        let hide = secret || looks_secret(name);
        let local = |n: &str| {
            out.iter()
                .rev()
                .find(|a| a.name == n)
                .map(|a| a.value.clone())
                .or_else(|| lookup(n))
        };
        // A value left open (a quote, a trailing backslash) continues on the next line.
        let mut value_text = rest.to_owned();
        let mut spanned = 1;
        let value = loop {
            match parse_value(&value_text, &local) {
                Ok(v) => break v,
                Err(e) if e.open && next < lines.len() && spanned < MAX_VALUE_LINES => {
                    value_text.push('\n');
                    value_text.push_str(lines[next]);
                    next += 1;
                    spanned += 1;
                }
                Err(e) => {
                    let mut message = if hide { e.safe } else { e.message };
                    if e.open && spanned >= MAX_VALUE_LINES {
                        message.push_str(&format!(
                            " (a value may span at most {MAX_VALUE_LINES} lines)"
                        ));
                    }
                    return Err(fail(Some(name), message));
                }
            }
        };
        out.push(EnvAssignment {
            line: line_no,
            name: name.to_owned(),
            value,
        });
    }
    Ok(out)
}

/// Why a value was refused: `message` may quote part of it, `safe` never does.
#[derive(Debug)]
struct ValueError {
    message: String,
    safe: String,
    /// The value is still open at the end of the text (a quote or a trailing backslash): the
    /// next line may complete it.
    open: bool,
}

impl ValueError {
    /// An error whose message holds no part of the value.
    fn plain(message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            safe: message.clone(),
            message,
            open: false,
        }
    }

    /// An error whose message quotes part of the value, and its form without it.
    fn quoting(message: String, safe: &str) -> Self {
        Self {
            message,
            safe: safe.to_owned(),
            open: false,
        }
    }

    fn open(message: &str) -> Self {
        Self {
            open: true,
            ..Self::plain(message)
        }
    }
}

type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// Parses the right-hand side of an assignment.
fn parse_value(text: &str, lookup: &Lookup<'_>) -> std::result::Result<String, ValueError> {
    let chars: Vec<char> = text.chars().collect();
    let mut value = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => {
                let rest: String = chars[i..].iter().collect();
                let rest = rest.trim_start();
                if rest.is_empty() || rest.starts_with('#') {
                    break;
                }
                return Err(ValueError::quoting(
                    format!(
                        "unquoted space in the value (a shell would run {:?} as a command); quote the value",
                        rest.split_whitespace().next().unwrap_or(rest)
                    ),
                    "unquoted space in the value (a shell would run the rest as a command); quote the value",
                ));
            }
            '\'' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '\'')
                    .ok_or_else(|| ValueError::open("unterminated single quote"))?;
                value.extend(&chars[i + 1..i + 1 + end]);
                i += end + 2;
            }
            '"' => {
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err(ValueError::open("unterminated double quote"));
                    };
                    match c {
                        '"' => {
                            i += 1;
                            break;
                        }
                        '\\' => {
                            match chars.get(i + 1) {
                                Some(&n @ ('"' | '\\' | '$' | '`')) => value.push(n),
                                // A line continuation, as in `sh`.
                                Some('\n') => {}
                                Some(&n) => {
                                    value.push('\\');
                                    value.push(n);
                                }
                                None => return Err(ValueError::open("unterminated double quote")),
                            }
                            i += 2;
                        }
                        '$' => i = expand(&chars, i, lookup, &mut value)?,
                        '`' => {
                            return Err(ValueError::plain(
                                "command substitution (`...`) is not supported",
                            ));
                        }
                        c => {
                            value.push(c);
                            i += 1;
                        }
                    }
                }
            }
            '\\' => {
                let n = chars
                    .get(i + 1)
                    .ok_or_else(|| ValueError::open("trailing backslash"))?;
                // Backslash-newline is a line continuation, as in `sh`.
                if *n != '\n' {
                    value.push(*n);
                }
                i += 2;
            }
            '$' => i = expand(&chars, i, lookup, &mut value)?,
            '`' => {
                return Err(ValueError::plain(
                    "command substitution (`...`) is not supported",
                ));
            }
            ';' | '|' | '&' | '<' | '>' | '(' | ')' => {
                return Err(ValueError::plain(format!(
                    "unquoted {c:?}: shell commands are not run from env files; quote the value"
                )));
            }
            c => {
                value.push(c);
                i += 1;
            }
        }
    }
    Ok(value)
}

/// Expands the reference starting at `chars[at] == '$'`; returns the index after it.
fn expand(
    chars: &[char],
    at: usize,
    lookup: &Lookup<'_>,
    out: &mut String,
) -> std::result::Result<usize, ValueError> {
    let name_end = |from: usize| {
        let mut j = from;
        while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
            j += 1;
        }
        j
    };
    match chars.get(at + 1) {
        Some('(') => Err(ValueError::plain(
            "command substitution $(...) is not supported",
        )),
        Some('{') => {
            let start = at + 2;
            let end = name_end(start);
            let name: String = chars[start..end].iter().collect();
            if !is_var_name(&name) {
                return Err(ValueError::quoting(
                    format!("invalid reference ${{{name}...}}: expected ${{NAME}}"),
                    "invalid reference: expected ${NAME}",
                ));
            }
            let close = chars[end..]
                .iter()
                .position(|&c| c == '}')
                .map(|p| end + p)
                .ok_or_else(|| {
                    ValueError::quoting(format!("unterminated ${{{name}"), "unterminated ${")
                })?;
            let op: String = chars[end..close].iter().collect();
            let current = lookup(&name);
            let text = if op.is_empty() {
                current.unwrap_or_default()
            } else if let Some(default) = op.strip_prefix(":-") {
                match current {
                    Some(v) if !v.is_empty() => v,
                    _ => parse_value(default, lookup)?,
                }
            } else if let Some(default) = op.strip_prefix('-') {
                match current {
                    Some(v) => v,
                    None => parse_value(default, lookup)?,
                }
            } else {
                return Err(ValueError::quoting(
                    format!(
                        "unsupported expansion ${{{name}{op}}}: use ${{{name}}}, ${{{name}:-default}} or ${{{name}-default}}"
                    ),
                    "unsupported expansion: use ${NAME}, ${NAME:-default} or ${NAME-default}",
                ));
            };
            out.push_str(&text);
            Ok(close + 1)
        }
        Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
            let end = name_end(at + 1);
            let name: String = chars[at + 1..end].iter().collect();
            out.push_str(&lookup(&name).unwrap_or_default());
            Ok(end)
        }
        _ => {
            out.push('$');
            Ok(at + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<(String, String)>> {
        let outer = |n: &str| (n == "HOME").then(|| "/home/op".to_owned());
        parse_env_file(text, Path::new("/cfg/config.env"), &outer)
            .map(|v| v.into_iter().map(|a| (a.name, a.value)).collect())
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn reads_the_forms_people_write() {
        let text = r#"
# cluster settings
export CLUSTER=home
FEAT_VERIFY=true   # trailing comment
EMPTY=
SINGLE='a $literal # not a comment'
DOUBLE="x=\"y\" \$ ${CLUSTER}-1"
KUBECONFIG=$HOME/.kube/config
BRACED=${HOME}/x
DEFAULTED=${MISSING:-fallback-$CLUSTER}
KEEP=${CLUSTER:-other}
DASH=${EMPTY-unused}
ESC=a\ b
HASH=a#b
export CLUSTER FEAT_VERIFY
   INDENTED=ok
CONCAT="a"'b'c
"#;
        assert_eq!(
            parse(text).expect("valid"),
            pairs(&[
                ("CLUSTER", "home"),
                ("FEAT_VERIFY", "true"),
                ("EMPTY", ""),
                ("SINGLE", "a $literal # not a comment"),
                ("DOUBLE", "x=\"y\" $ home-1"),
                ("KUBECONFIG", "/home/op/.kube/config"),
                ("BRACED", "/home/op/x"),
                ("DEFAULTED", "fallback-home"),
                ("KEEP", "home"),
                ("DASH", ""),
                ("ESC", "a b"),
                ("HASH", "a#b"),
                ("INDENTED", "ok"),
                ("CONCAT", "abc"),
            ])
        );
    }

    #[test]
    fn later_lines_see_earlier_ones_and_unset_is_empty() {
        assert_eq!(
            parse("A=1\nA=${A}2\nB=$NOPE.x\n").expect("valid"),
            pairs(&[("A", "1"), ("A", "12"), ("B", ".x")])
        );
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let cases = [
            ("A=1\nnot an assignment\n", ":2: expected NAME=value"),
            ("A='open\n", ":1: `A`: unterminated single quote"),
            ("A=\"open\n", ":1: `A`: unterminated double quote"),
            (
                "A=$(whoami)\n",
                ":1: `A`: command substitution $(...) is not supported",
            ),
            ("A=`id`\n", ":1: `A`: command substitution"),
            ("\n\nA=two words\n", ":3: `A`: unquoted space in the value"),
            ("A=x;rm -rf /\n", ":1: `A`: unquoted ';'"),
            ("A B=1\n", ":1: invalid variable name \"A B\""),
            ("A=${B\n", ":1: `A`: unterminated ${B"),
            ("A=${B:?err}\n", ":1: `A`: unsupported expansion"),
        ];
        for (text, want) in cases {
            let got = parse(text).expect_err(text).to_string();
            assert!(
                got.starts_with(&format!("/cfg/config.env{want}")),
                "{text:?}\n got: {got}\nwant: {want}"
            );
        }
    }

    #[test]
    fn issue_14_a_quoted_value_may_span_lines_as_sh_reads_it() {
        let text = "A=1\nSSH_PRIVATE_KEY=\"-----BEGIN KEY-----\nAAAAB3Nza\n\n-----END KEY-----\"  # the key\nB='x\ny'\nD=one\\\ntwo\nE=\"joined \\\nhere\"\nF=$A\n";
        let parsed = parse_env_file(text, Path::new("s.env"), &|_: &str| None).expect("valid");
        let got: Vec<(usize, &str, &str)> = parsed
            .iter()
            .map(|a| (a.line, a.name.as_str(), a.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (1, "A", "1"),
                (
                    2,
                    "SSH_PRIVATE_KEY",
                    "-----BEGIN KEY-----\nAAAAB3Nza\n\n-----END KEY-----"
                ),
                (6, "B", "x\ny"),
                (8, "D", "onetwo"),
                (10, "E", "joined here"),
                (12, "F", "1"),
            ]
        );
        let open = parse_env_file(
            "A=1\nK=\"never closed\nmore\n",
            Path::new("s.env"),
            &|_: &str| None,
        )
        .expect_err("open quote");
        assert!(
            open.to_string()
                .starts_with("s.env:2: `K`: unterminated double quote"),
            "{open}"
        );
    }

    #[test]
    fn issue_14_errors_in_a_secret_file_name_file_line_and_key_never_the_value() {
        let secret = "hunter2SECRET";
        let cases = [
            (
                format!("{secret} with spaces\n"),
                "s.env:1: expected NAME=value",
                None,
            ),
            (
                format!("A B{secret}=1\n"),
                "s.env:1: invalid variable name",
                None,
            ),
            (
                format!("DB=ab {secret}\n"),
                "s.env:1: `DB`: unquoted space",
                Some("DB"),
            ),
            (
                format!("DB=${{{secret}-x\n"),
                "s.env:1: `DB`: unterminated ${",
                Some("DB"),
            ),
            (
                format!("DB=${{{secret}:?boom}}\n"),
                "s.env:1: `DB`: unsupported expansion",
                Some("DB"),
            ),
            (
                format!("DB=${{9{secret}}}\n"),
                "s.env:1: `DB`: invalid reference",
                Some("DB"),
            ),
        ];
        for (text, want, key) in &cases {
            let shown = parse_env_file(text, Path::new("s.env"), &|_: &str| None)
                .expect_err(text)
                .to_string();
            assert!(
                shown.contains("SECRET"),
                "a plain file quotes the line: {shown}"
            );
            let e =
                parse_env_file_as(text, Path::new("s.env"), true, &|_: &str| None).expect_err(text);
            let message = e.to_string();
            assert!(
                message.starts_with(want),
                "{text:?}\n got: {message}\nwant: {want}"
            );
            assert!(
                !message.contains("hunter") && !message.contains("SECRET"),
                "{message}"
            );
            assert_eq!(e.exit_code(), 2);
            if let Some(key) = key {
                assert!(message.contains(&format!("`{key}`")), "{message}");
            }
        }
        // A secret-looking name hides its value in any file.
        let e = parse_env_file(
            &format!("API_TOKEN=ab {secret}\n"),
            Path::new("c.env"),
            &|_: &str| None,
        )
        .expect_err("space");
        assert!(!e.to_string().contains(secret), "{e}");
    }
}
