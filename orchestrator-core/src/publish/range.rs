//! Dependency requirements rewritten so they admit a package's new version.
//!
//! A bump is only true if every dependent's requirement on the bumped package admits the new
//! version: a range left at `>=0.4.2, <0.5` while the package goes to 0.5.0 builds against the
//! old release (or not at all). How the range moves is `[publish] dependency_range`:
//!
//! - `keep-style` (default): the author's operator stays. `^`, `~`, `=`, `>=` and bare
//!   requirements move to the new version (`~0.3.1` → `~0.4.0`); wildcards keep their precision
//!   (`0.3.*` → `0.4.*`); a bounded range `>=a, <b` gets the new lower bound and keeps its upper
//!   bound when that still admits the new version, else the next breaking version (`<0.6`, in
//!   the old bound's precision or finer); a lone `<`, `<=` or `>` is kept when it admits the new
//!   version.
//! - `exact`: `=x.y.z`.
//! - `caret`: `^x.y.z`.
//!
//! What cannot be rewritten faithfully (unions `||`, hyphen ranges, wildcards with extra
//! bounds, a lone upper bound that excludes the new version, three or more comparators) is an
//! error, so `publish` refuses before it changes anything rather than guessing.
//!
//! Cargo requirements are read with the `semver` crate. npm ranges go through the small parser
//! below, which covers exactly the forms above (npm's full grammar is not needed to say "we
//! cannot rewrite this").

use serde::{Deserialize, Serialize};

/// How a dependent's requirement moves when the package it names is bumped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DependencyRange {
    /// Keep the author's operator; move or widen the range to admit the new version.
    #[default]
    KeepStyle,
    /// Pin: `=x.y.z`.
    Exact,
    /// `^x.y.z`.
    Caret,
}

impl DependencyRange {
    /// Parses `keep-style`, `exact` or `caret`.
    pub fn parse(input: &str) -> Option<Self> {
        match input {
            "keep-style" => Some(Self::KeepStyle),
            "exact" => Some(Self::Exact),
            "caret" => Some(Self::Caret),
            _ => None,
        }
    }
}

/// The first version a caret range of `v` excludes: `1.2.3` → `2.0.0`, `0.4.2` → `0.5.0`,
/// `0.0.3` → `0.0.4`; with the number of components needed to write it.
fn next_breaking(v: &semver::Version) -> ([u64; 3], usize) {
    if v.major > 0 {
        ([v.major + 1, 0, 0], 1)
    } else if v.minor > 0 {
        ([0, v.minor + 1, 0], 2)
    } else {
        ([0, 0, v.patch + 1], 3)
    }
}

/// `parts` written with `precision` components (`[0, 6, 0]`, 2 → `0.6`).
fn write_parts(parts: [u64; 3], precision: usize) -> String {
    parts[..precision.clamp(1, 3)]
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn triple(v: &semver::Version) -> [u64; 3] {
    [v.major, v.minor, v.patch]
}

/// The upper bound of a bounded range after the bump: `old` (its operator, parts and precision)
/// when it still admits `new`, else the next breaking version of `new`.
fn upper_bound(op: &str, parts: &[Option<u64>], new: &semver::Version) -> String {
    let precision = parts.iter().take_while(|p| p.is_some()).count();
    let filled = [
        parts[0].unwrap_or(0),
        parts.get(1).copied().flatten().unwrap_or(0),
        parts.get(2).copied().flatten().unwrap_or(0),
    ];
    let admits = match op {
        // `<=0.5` admits every 0.5.x: compare only the written components.
        "<=" => triple(new)[..precision] <= filled[..precision],
        _ => triple(new) < filled,
    };
    if admits {
        return format!("{op}{}", write_parts(filled, precision));
    }
    let (next, needed) = next_breaking(new);
    format!("<{}", write_parts(next, precision.max(needed)))
}

/// The new Cargo requirement on a package bumped to `new`. `Err` says why `old` cannot be
/// rewritten faithfully.
pub fn cargo_requirement(
    old: &str,
    new: &semver::Version,
    policy: DependencyRange,
) -> Result<String, String> {
    let trimmed = old.trim();
    let req = semver::VersionReq::parse(trimmed)
        .map_err(|e| format!("not a Cargo version requirement ({e})"))?;
    match policy {
        DependencyRange::Exact => return Ok(format!("={new}")),
        DependencyRange::Caret => return Ok(format!("^{new}")),
        DependencyRange::KeepStyle => {}
    }
    use semver::Op;
    let parts = |c: &semver::Comparator| vec![Some(c.major), c.minor, c.patch];
    match req.comparators.as_slice() {
        // `*`: admits every release already.
        [] => Ok(old.to_owned()),
        [c] => match c.op {
            Op::Exact | Op::Caret | Op::Tilde | Op::GreaterEq => {
                // The operator as written (bare stays bare).
                let op_len = trimmed
                    .find(|ch: char| ch.is_ascii_digit())
                    .unwrap_or(trimmed.len());
                Ok(format!("{}{new}", trimmed[..op_len].trim()))
            }
            Op::Wildcard => Ok(if c.minor.is_some() {
                format!("{}.{}.*", new.major, new.minor)
            } else {
                format!("{}.*", new.major)
            }),
            Op::Less | Op::LessEq | Op::Greater if req.matches(new) => Ok(old.to_owned()),
            _ => Err(format!(
                "the lone bound {trimmed:?} excludes {new}; widen it by hand or set \
                 [publish] dependency_range = \"caret\""
            )),
        },
        [lo, hi]
            if matches!(lo.op, Op::GreaterEq | Op::Greater)
                && matches!(hi.op, Op::Less | Op::LessEq) =>
        {
            let upper_op = if hi.op == Op::Less { "<" } else { "<=" };
            // The new version is the lower bound, written `>=` (a `>a` cannot name it).
            let lower = format!(">={new}");
            Ok(format!(
                "{lower}, {}",
                upper_bound(upper_op, &parts(hi), new)
            ))
        }
        _ => Err(format!(
            "{trimmed:?} has comparators other than one lower and one upper bound"
        )),
    }
}

/// One npm comparator as written: operator and up to three components (`None` for `x`, `*`
/// or missing).
struct NpmComparator {
    op: String,
    parts: Vec<Option<u64>>,
    wildcard: bool,
}

fn parse_npm_comparator(token: &str) -> Result<NpmComparator, String> {
    let op_len = token
        .find(|c: char| c.is_ascii_digit() || matches!(c, 'x' | 'X' | '*'))
        .unwrap_or(token.len());
    let op = token[..op_len].trim_end_matches('v').to_owned();
    if !matches!(op.as_str(), "" | "=" | "^" | "~" | ">=" | ">" | "<" | "<=") {
        return Err(format!("unknown operator {op:?} in {token:?}"));
    }
    let body = &token[op_len..];
    // A prerelease or build suffix belongs to the last component.
    let core = body.split(['-', '+']).next().unwrap_or_default();
    let mut parts = Vec::new();
    let mut wildcard = false;
    for part in core.split('.') {
        if matches!(part, "x" | "X" | "*") {
            wildcard = true;
            parts.push(None);
        } else {
            parts.push(Some(
                part.parse::<u64>()
                    .map_err(|_| format!("{token:?} is not a version"))?,
            ));
        }
    }
    if parts.is_empty() || parts.len() > 3 {
        return Err(format!("{token:?} is not a version"));
    }
    wildcard |= parts.len() < 3;
    Ok(NpmComparator {
        op,
        parts,
        wildcard,
    })
}

/// The new npm range on a package bumped to `new`. `Ok(None)`: not a version range
/// (`workspace:`, `file:`, URLs, dist-tags, `*`), left alone. `Err` says why `old` cannot be
/// rewritten faithfully.
pub fn npm_requirement(
    old: &str,
    new: &semver::Version,
    policy: DependencyRange,
) -> Result<Option<String>, String> {
    let s = old.trim();
    if s.is_empty()
        || matches!(s, "*" | "x" | "X")
        || s.contains(':')
        || s.contains('/')
        || !s.chars().any(|c| c.is_ascii_digit())
    {
        return Ok(None);
    }
    if s.contains("||") {
        return Err(format!("{s:?} is a union of ranges"));
    }
    if s.contains(" - ") {
        return Err(format!("{s:?} is a hyphen range"));
    }
    let tokens: Vec<&str> = s.split_whitespace().collect();
    let comparators = tokens
        .iter()
        .map(|t| parse_npm_comparator(t))
        .collect::<Result<Vec<_>, _>>()?;
    match policy {
        DependencyRange::Exact => return Ok(Some(new.to_string())),
        DependencyRange::Caret => return Ok(Some(format!("^{new}"))),
        DependencyRange::KeepStyle => {}
    }
    Ok(Some(match comparators.as_slice() {
        [c] => match c.op.as_str() {
            // A bare or `=` partial version is an x-range: keep its precision.
            "" | "=" if c.wildcard => {
                let written = c.parts.iter().position(Option::is_none);
                let n = written.unwrap_or(c.parts.len());
                let mut out = write_parts(triple(new), n.max(1));
                if c.parts.len() > n {
                    out.push_str(".x");
                }
                format!("{}{out}", c.op)
            }
            "" | "=" | "^" | "~" | ">=" => format!("{}{new}", c.op),
            _ => {
                let upper = upper_bound(&c.op, &c.parts, new);
                if c.op == ">" || upper != format!("{}{}", c.op, write_parts_opt(&c.parts)) {
                    return Err(format!(
                        "the lone bound {s:?} excludes {new}; widen it by hand or set \
                         [publish] dependency_range = \"caret\""
                    ));
                }
                s.to_owned()
            }
        },
        [lo, hi]
            if matches!(lo.op.as_str(), ">=" | ">")
                && matches!(hi.op.as_str(), "<" | "<=")
                && !lo.wildcard =>
        {
            format!(">={new} {}", upper_bound(&hi.op, &hi.parts, new))
        }
        _ => {
            return Err(format!(
                "{s:?} has comparators other than one lower and one upper bound"
            ));
        }
    }))
}

fn write_parts_opt(parts: &[Option<u64>]) -> String {
    parts
        .iter()
        .map(|p| p.map_or_else(|| "x".to_owned(), |n| n.to_string()))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> semver::Version {
        semver::Version::parse(s).expect("valid")
    }

    #[test]
    fn cargo_keep_style_admits_the_new_version_and_keeps_the_operator() {
        let cases = [
            ("0.3", "0.4.0", "0.4.0"),
            ("^0.3.1", "0.4.0", "^0.4.0"),
            ("~0.3.1", "0.4.0", "~0.4.0"),
            ("=0.3.2", "0.4.0", "=0.4.0"),
            (">=0.3", "0.4.0", ">=0.4.0"),
            ("0.3.*", "0.4.0", "0.4.*"),
            ("1.*", "2.1.0", "2.*"),
            (">=0.4.2, <0.5", "0.5.0", ">=0.5.0, <0.6"),
            (">=0.4.2, <0.6", "0.5.0", ">=0.5.0, <0.6"),
            (">=1.0.0, <2", "2.0.0", ">=2.0.0, <3"),
            (">=0.0.1, <0.1", "0.0.2", ">=0.0.2, <0.1"),
            (">=0.0.1, <0.0.2", "0.0.2", ">=0.0.2, <0.0.3"),
            (">=0.4, <=0.5", "0.5.3", ">=0.5.3, <=0.5"),
            ("<2", "1.5.0", "<2"),
            ("*", "9.0.0", "*"),
        ];
        for (old, new, want) in cases {
            let got = cargo_requirement(old, &v(new), DependencyRange::KeepStyle);
            assert_eq!(got.as_deref(), Ok(want), "{old} -> {new}");
            let req = semver::VersionReq::parse(want).expect("valid requirement");
            assert!(req.matches(&v(new)), "{want} must admit {new}");
        }
    }

    #[test]
    fn cargo_policies_and_refusals() {
        assert_eq!(
            cargo_requirement("~0.3", &v("0.4.0"), DependencyRange::Exact).as_deref(),
            Ok("=0.4.0")
        );
        assert_eq!(
            cargo_requirement(">=0.3, <0.4", &v("0.4.0"), DependencyRange::Caret).as_deref(),
            Ok("^0.4.0")
        );
        for old in ["<0.4", ">=0.1, <0.2, <0.3", "0.3 || 0.4", "not a req"] {
            let err = cargo_requirement(old, &v("0.4.0"), DependencyRange::KeepStyle);
            assert!(err.is_err(), "{old}: {err:?}");
        }
    }

    #[test]
    fn npm_keep_style_keeps_tilde_and_bounds() {
        let cases = [
            ("~1.0.0", "1.1.0", "~1.1.0"),
            ("^1.0.3", "1.1.0", "^1.1.0"),
            ("1.0.3", "1.1.0", "1.1.0"),
            ("=1.0.3", "1.1.0", "=1.1.0"),
            (">=1.0.0", "2.0.0", ">=2.0.0"),
            ("1.x", "2.0.0", "2.x"),
            ("1.2.x", "1.3.0", "1.3.x"),
            ("1.2", "1.3.0", "1.3"),
            (">=1.0.0 <2", "2.0.0", ">=2.0.0 <3"),
            (">=0.4.2 <0.5", "0.5.0", ">=0.5.0 <0.6"),
            (">=1.0.0 <3", "2.0.0", ">=2.0.0 <3"),
            ("<3", "2.0.0", "<3"),
        ];
        for (old, new, want) in cases {
            let got = npm_requirement(old, &v(new), DependencyRange::KeepStyle);
            assert_eq!(got, Ok(Some(want.to_owned())), "{old} -> {new}");
        }
    }

    #[test]
    fn npm_leaves_non_ranges_and_refuses_what_it_cannot_rewrite() {
        for old in ["workspace:*", "file:../x", "*", "latest", "github:a/b"] {
            assert_eq!(
                npm_requirement(old, &v("1.0.0"), DependencyRange::KeepStyle),
                Ok(None),
                "{old}"
            );
        }
        for old in [
            "^1 || ^2",
            "1.0.0 - 1.5.0",
            "<1",
            "1.x >=1.2 <2",
            ">=1 <2 <3",
            "~>1",
        ] {
            let got = npm_requirement(old, &v("2.0.0"), DependencyRange::KeepStyle);
            assert!(got.is_err(), "{old}: {got:?}");
        }
        assert_eq!(
            npm_requirement("~1.0.0", &v("1.1.0"), DependencyRange::Caret),
            Ok(Some("^1.1.0".to_owned()))
        );
        assert_eq!(
            npm_requirement("^1.0.0", &v("1.1.0"), DependencyRange::Exact),
            Ok(Some("1.1.0".to_owned()))
        );
    }
}
