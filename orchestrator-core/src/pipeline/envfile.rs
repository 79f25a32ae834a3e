//! Env files, read as a POSIX shell would read the forms people write in them.
//!
//! Supported, one assignment per line: `NAME=value`, `export NAME=value`, `export NAME` (a no-op),
//! blank lines and `#` comments (also after a value), single quotes (literal), double quotes (with
//! `\"`, `\\`, `\$` and `` \` `` escapes), backslash escapes outside quotes, and references:
//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`. A reference sees the lines above it,
//! then the earlier layers, then the process environment; unset is empty, as in `sh`.
//! Anything a shell would execute (`$(...)`, backticks, `;`, pipes, redirections) or that `sh`
//! would read differently (an unquoted space in a value) is an error naming the file and line.

use std::path::Path;

use crate::error::{Error, Result};
use crate::pipeline::condition::is_var_name;

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

/// Parses env-file text. `lookup` answers references to variables not assigned earlier in this
/// file (earlier layers, then the process environment).
pub fn parse_env_file(
    text: &str,
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<EnvAssignment>> {
    let mut out: Vec<EnvAssignment> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
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
                format!("expected NAME=value, found {:?}", raw.trim()),
            ));
        };
        if !is_var_name(name) {
            return Err(fail(
                None,
                format!(
                    "invalid variable name {name:?} (expected NAME=value with no spaces around =)"
                ),
            ));
        }
        let local = |n: &str| {
            out.iter()
                .rev()
                .find(|a| a.name == n)
                .map(|a| a.value.clone())
                .or_else(|| lookup(n))
        };
        let value = parse_value(rest, &local).map_err(|m| fail(Some(name), m))?;
        out.push(EnvAssignment {
            line: line_no,
            name: name.to_owned(),
            value,
        });
    }
    Ok(out)
}

type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// Parses the right-hand side of an assignment.
fn parse_value(text: &str, lookup: &Lookup<'_>) -> std::result::Result<String, String> {
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
                return Err(format!(
                    "unquoted space in the value (a shell would run {:?} as a command); quote the value",
                    rest.split_whitespace().next().unwrap_or(rest)
                ));
            }
            '\'' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '\'')
                    .ok_or("unterminated single quote")?;
                value.extend(&chars[i + 1..i + 1 + end]);
                i += end + 2;
            }
            '"' => {
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err("unterminated double quote".into());
                    };
                    match c {
                        '"' => {
                            i += 1;
                            break;
                        }
                        '\\' => {
                            match chars.get(i + 1) {
                                Some(&n @ ('"' | '\\' | '$' | '`')) => value.push(n),
                                Some(&n) => {
                                    value.push('\\');
                                    value.push(n);
                                }
                                None => return Err("unterminated double quote".into()),
                            }
                            i += 2;
                        }
                        '$' => i = expand(&chars, i, lookup, &mut value)?,
                        '`' => return Err("command substitution (`...`) is not supported".into()),
                        c => {
                            value.push(c);
                            i += 1;
                        }
                    }
                }
            }
            '\\' => {
                let n = chars.get(i + 1).ok_or("trailing backslash")?;
                value.push(*n);
                i += 2;
            }
            '$' => i = expand(&chars, i, lookup, &mut value)?,
            '`' => return Err("command substitution (`...`) is not supported".into()),
            ';' | '|' | '&' | '<' | '>' | '(' | ')' => {
                return Err(format!(
                    "unquoted {c:?}: shell commands are not run from env files; quote the value"
                ));
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
) -> std::result::Result<usize, String> {
    let name_end = |from: usize| {
        let mut j = from;
        while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
            j += 1;
        }
        j
    };
    match chars.get(at + 1) {
        Some('(') => Err("command substitution $(...) is not supported".into()),
        Some('{') => {
            let start = at + 2;
            let end = name_end(start);
            let name: String = chars[start..end].iter().collect();
            if !is_var_name(&name) {
                return Err(format!(
                    "invalid reference ${{{}...}}: expected ${{NAME}}",
                    name
                ));
            }
            let close = chars[end..]
                .iter()
                .position(|&c| c == '}')
                .map(|p| end + p)
                .ok_or_else(|| format!("unterminated ${{{name}"))?;
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
                return Err(format!(
                    "unsupported expansion ${{{name}{op}}}: use ${{{name}}}, ${{{name}:-default}} or ${{{name}-default}}"
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
}
