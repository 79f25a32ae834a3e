//! Next versions: explicit bumps (`major`, `minor`, `patch`, `prerelease` with a pre-id) and
//! `auto`, which reads conventional commits (breaking → major, `feat` → minor, `fix`/`perf` →
//! patch, nothing else → not released) and says why.

use std::fmt;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::vcs::CommitInfo;

/// What `--bump` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BumpRequest {
    /// `x+1.0.0`.
    Major,
    /// `x.y+1.0`.
    Minor,
    /// `x.y.z+1`.
    Patch,
    /// `x.y.z+1-<preid>.0`, or the next `-<preid>.N` of a prerelease.
    Prerelease,
    /// From conventional commits since the last release.
    Auto,
}

impl BumpRequest {
    /// Parses `major`, `minor`, `patch`, `prerelease` or `auto`.
    pub fn parse(input: &str) -> Result<Self> {
        Ok(match input.trim() {
            "major" => Self::Major,
            "minor" => Self::Minor,
            "patch" => Self::Patch,
            "prerelease" => Self::Prerelease,
            "auto" => Self::Auto,
            other => {
                return Err(Error::invalid_input(format!(
                    "invalid bump {other:?}: expected major, minor, patch, prerelease or auto"
                )));
            }
        })
    }
}

/// What a breaking change does to a `0.x` version (`[publish] breaking_on_0x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakingOn0x {
    /// Bump the minor (`0.4.2` → `0.5.0`): Cargo's and release-plz's rule, since `^0.4` already
    /// excludes `0.5`.
    #[default]
    Minor,
    /// Bump the major (`0.4.2` → `1.0.0`).
    Major,
}

/// A concrete bump level, weakest first (so `max` picks the strongest).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum BumpLevel {
    /// Only the prerelease counter moves.
    Prerelease,
    /// Bug fixes.
    Patch,
    /// New features.
    Minor,
    /// Breaking changes.
    Major,
}

impl fmt::Display for BumpLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BumpLevel::Prerelease => "prerelease",
            BumpLevel::Patch => "patch",
            BumpLevel::Minor => "minor",
            BumpLevel::Major => "major",
        })
    }
}

/// The next version after `current` for `level`, following npm's `semver.inc`: a prerelease of
/// the target version is released by its bump (`2.0.0-rc.1` + major = `2.0.0`); with a `preid`,
/// major/minor/patch make the first prerelease of the bumped version (`1.2.3` + minor + `rc` =
/// `1.3.0-rc.0`); `Prerelease` counts up within the same pre-id or starts one on the next patch.
pub fn next_version(
    current: &semver::Version,
    level: BumpLevel,
    preid: Option<&str>,
) -> Result<semver::Version> {
    let pre_of = |id: &str, n: u64| {
        semver::Prerelease::new(&format!("{id}.{n}"))
            .map_err(|e| Error::invalid_input(format!("invalid --preid {id:?}: {e}")))
    };
    let mut v = current.clone();
    v.build = semver::BuildMetadata::EMPTY;
    let was_pre = !v.pre.is_empty();
    match level {
        BumpLevel::Major => {
            if !(was_pre && v.minor == 0 && v.patch == 0) || preid.is_some() {
                v.major += 1;
            }
            v.minor = 0;
            v.patch = 0;
        }
        BumpLevel::Minor => {
            if !(was_pre && v.patch == 0) || preid.is_some() {
                v.minor += 1;
            }
            v.patch = 0;
        }
        BumpLevel::Patch => {
            if !was_pre || preid.is_some() {
                v.patch += 1;
            }
        }
        BumpLevel::Prerelease => {
            let id = preid.unwrap_or("rc");
            let pre = v.pre.as_str().to_owned();
            let next = pre
                .strip_prefix(id)
                .and_then(|rest| rest.strip_prefix('.'))
                .and_then(|n| n.parse::<u64>().ok());
            v.pre = match next {
                Some(n) => pre_of(id, n + 1)?,
                None => {
                    if !was_pre {
                        v.patch += 1;
                    }
                    pre_of(id, 0)?
                }
            };
            return Ok(v);
        }
    }
    v.pre = match preid {
        Some(id) => pre_of(id, 0)?,
        None => semver::Prerelease::EMPTY,
    };
    Ok(v)
}

/// A commit message read as a conventional commit (`type(scope)!: description`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConventionalCommit {
    /// The commit id.
    pub id: String,
    /// `feat`, `fix`, `chore`... (lower-cased).
    pub kind: String,
    /// The scope, if any.
    pub scope: Option<String>,
    /// `!` after the type, or a `BREAKING CHANGE:` footer.
    pub breaking: bool,
    /// The text after the colon.
    pub description: String,
    /// The `BREAKING CHANGE:` footer text, if any.
    pub breaking_note: Option<String>,
}

impl ConventionalCommit {
    /// Parses a commit; `None` when its summary is not conventional.
    pub fn parse(commit: &CommitInfo) -> Option<Self> {
        let (head, description) = commit.summary.split_once(": ")?;
        let (head, bang) = match head.strip_suffix('!') {
            Some(h) => (h, true),
            None => (head, false),
        };
        let (kind, scope) = match head.split_once('(') {
            Some((k, rest)) => (k, Some(rest.strip_suffix(')')?.to_owned())),
            None => (head, None),
        };
        if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        let breaking_note = breaking_footer(&commit.body);
        Some(Self {
            id: commit.id.clone(),
            kind: kind.to_ascii_lowercase(),
            scope,
            breaking: bang || breaking_note.is_some(),
            description: description.trim().to_owned(),
            breaking_note,
        })
    }

    /// The level this commit asks for, if any.
    pub fn level(&self) -> Option<BumpLevel> {
        if self.breaking {
            Some(BumpLevel::Major)
        } else {
            match self.kind.as_str() {
                "feat" => Some(BumpLevel::Minor),
                "fix" | "perf" => Some(BumpLevel::Patch),
                _ => None,
            }
        }
    }
}

/// The key of a conventional-commit footer line (`Token: value` or `Token #value`, where a
/// token is a word of letters, digits and `-`, or `BREAKING CHANGE`), if `line` starts one.
fn footer_token(line: &str) -> Option<(&str, &str)> {
    let (token, value) = line
        .split_once(": ")
        .or_else(|| line.split_once(" #"))
        .or_else(|| line.strip_suffix(':').map(|t| (t, "")))?;
    let is_token = token == "BREAKING CHANGE"
        || (!token.is_empty() && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    is_token.then_some((token, value))
}

/// The text of a `BREAKING CHANGE:` / `BREAKING-CHANGE:` footer, if the body has one. Per the
/// Conventional Commits spec footers are the last paragraph of the message (after the last
/// blank line), and that paragraph must begin with a footer line: the words anywhere else in
/// the body (a quoted changelog, prose) do not make a commit breaking. A footer's value runs on
/// until the next footer line.
pub fn breaking_footer(body: &str) -> Option<String> {
    let body = body.replace("\r\n", "\n");
    let last = body
        .trim_end()
        .rsplit("\n\n")
        .find(|p| !p.trim().is_empty())?
        .trim_start_matches('\n');
    footer_token(last.lines().next()?)?;
    let mut note: Option<Vec<&str>> = None;
    for line in last.lines() {
        match footer_token(line) {
            Some((token, value)) => {
                if note.is_some() {
                    break;
                }
                if matches!(token, "BREAKING CHANGE" | "BREAKING-CHANGE") {
                    note = Some(vec![value.trim()]);
                }
            }
            None => {
                if let Some(n) = note.as_mut() {
                    n.push(line.trim());
                }
            }
        }
    }
    note.map(|n| n.join("\n").trim().to_owned())
}

/// True for the commits `publish` itself makes (`chore(release): ...`), which never count.
pub fn is_release_commit(commit: &CommitInfo) -> bool {
    commit.summary.starts_with("chore(release)")
}

/// The bump `auto` derives from commits (newest first), with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutoBump {
    /// The level, `None` when nothing warrants a release.
    pub level: Option<BumpLevel>,
    /// Why, e.g. `1 breaking change (a1b2c3d feat!: drop v1 API)`.
    pub reason: String,
}

/// Derives the bump from conventional commits: the strongest level any commit asks for.
pub fn auto_bump(commits: &[CommitInfo]) -> AutoBump {
    let parsed: Vec<ConventionalCommit> = commits
        .iter()
        .filter(|c| !is_release_commit(c))
        .filter_map(ConventionalCommit::parse)
        .collect();
    let count = |level: BumpLevel| parsed.iter().filter(|c| c.level() == Some(level)).count();
    let first = |level: BumpLevel| {
        parsed
            .iter()
            .find(|c| c.level() == Some(level))
            .map(|c| format!("{} {}", short(&c.id), c.description))
            .unwrap_or_default()
    };
    let relevant = commits.iter().filter(|c| !is_release_commit(c)).count();
    let (level, reason) = if count(BumpLevel::Major) > 0 {
        (
            Some(BumpLevel::Major),
            format!(
                "{} breaking change(s), e.g. {}",
                count(BumpLevel::Major),
                first(BumpLevel::Major)
            ),
        )
    } else if count(BumpLevel::Minor) > 0 {
        (
            Some(BumpLevel::Minor),
            format!(
                "{} feat commit(s), e.g. {}",
                count(BumpLevel::Minor),
                first(BumpLevel::Minor)
            ),
        )
    } else if count(BumpLevel::Patch) > 0 {
        (
            Some(BumpLevel::Patch),
            format!(
                "{} fix/perf commit(s), e.g. {}",
                count(BumpLevel::Patch),
                first(BumpLevel::Patch)
            ),
        )
    } else if relevant == 0 {
        (None, "no commits since the last release".to_owned())
    } else {
        (
            None,
            format!(
                "{relevant} commit(s) since the last release, none feat, fix, perf or breaking"
            ),
        )
    };
    AutoBump { level, reason }
}

/// The first 7 characters of a commit id.
pub(crate) fn short(id: &str) -> &str {
    id.get(..7).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> semver::Version {
        semver::Version::parse(s).expect("valid")
    }

    fn commit(id: &str, summary: &str, body: &str) -> CommitInfo {
        CommitInfo {
            id: id.into(),
            summary: summary.into(),
            body: body.into(),
        }
    }

    #[test]
    fn explicit_bumps_follow_npm_semver_inc() {
        let cases = [
            ("1.2.3", BumpLevel::Major, None, "2.0.0"),
            ("1.2.3", BumpLevel::Minor, None, "1.3.0"),
            ("1.2.3", BumpLevel::Patch, None, "1.2.4"),
            ("1.2.3", BumpLevel::Prerelease, Some("rc"), "1.2.4-rc.0"),
            (
                "1.2.4-rc.0",
                BumpLevel::Prerelease,
                Some("rc"),
                "1.2.4-rc.1",
            ),
            (
                "1.2.4-rc.3",
                BumpLevel::Prerelease,
                Some("beta"),
                "1.2.4-beta.0",
            ),
            ("2.0.0-rc.1", BumpLevel::Major, None, "2.0.0"),
            ("1.3.0-rc.1", BumpLevel::Minor, None, "1.3.0"),
            ("1.2.4-rc.1", BumpLevel::Patch, None, "1.2.4"),
            ("1.2.3", BumpLevel::Minor, Some("rc"), "1.3.0-rc.0"),
            ("0.0.0", BumpLevel::Patch, None, "0.0.1"),
        ];
        for (from, level, preid, want) in cases {
            assert_eq!(
                next_version(&v(from), level, preid)
                    .expect("valid")
                    .to_string(),
                want,
                "{from} {level} {preid:?}"
            );
        }
        assert!(next_version(&v("1.0.0"), BumpLevel::Prerelease, Some("r c")).is_err());
    }

    #[test]
    fn conventional_commits_parse() {
        let c = ConventionalCommit::parse(&commit("a", "feat(api)!: drop v1", "")).expect("conv");
        assert_eq!(c.kind, "feat");
        assert_eq!(c.scope.as_deref(), Some("api"));
        assert!(c.breaking);
        let c = ConventionalCommit::parse(&commit(
            "b",
            "fix: handle nulls",
            "details\n\nBREAKING CHANGE: nulls now error",
        ))
        .expect("conv");
        assert!(c.breaking);
        assert_eq!(c.breaking_note.as_deref(), Some("nulls now error"));
        assert!(ConventionalCommit::parse(&commit("c", "Merge branch 'x'", "")).is_none());
        // Only the footer counts: a body line elsewhere is prose.
        for (body, want) in [
            ("BREAKING CHANGE: drops v1", Some("drops v1")),
            (
                "why\n\nReviewed-by: Z\nBREAKING-CHANGE: drops v1\n  and v2",
                Some("drops v1\nand v2"),
            ),
            ("why\n\nBREAKING CHANGE: x\nRefs #12\n", Some("x")),
            (
                "BREAKING CHANGE: quoted from the old log\n\nthe actual text",
                None,
            ),
            (
                "prose mentions\nBREAKING CHANGE: in a paragraph\nthat is not a footer",
                None,
            ),
            ("why\n\nRefs #12", None),
            ("", None),
        ] {
            let c = ConventionalCommit::parse(&commit("e", "fix: x", body)).expect("conv");
            assert_eq!(c.breaking_note.as_deref(), want, "{body:?}");
            assert_eq!(c.breaking, want.is_some(), "{body:?}");
        }
        assert!(ConventionalCommit::parse(&commit("d", "fix(: x", "")).is_none());
    }

    #[test]
    fn auto_takes_the_strongest_and_says_why() {
        let commits = [
            commit("1111111aaa", "docs: typo", ""),
            commit("2222222bbb", "fix: off by one", ""),
            commit("3333333ccc", "feat(ui): dark mode", ""),
        ];
        let auto = auto_bump(&commits);
        assert_eq!(auto.level, Some(BumpLevel::Minor));
        assert_eq!(auto.reason, "1 feat commit(s), e.g. 3333333 dark mode");
        let breaking = auto_bump(&[commit("4444444", "refactor!: new config", "")]);
        assert_eq!(breaking.level, Some(BumpLevel::Major));
        let none = auto_bump(&[
            commit("5555555", "chore: deps", ""),
            commit("6666666", "chore(release): v1.0.0", ""),
        ]);
        assert_eq!(none.level, None);
        assert_eq!(
            none.reason,
            "1 commit(s) since the last release, none feat, fix, perf or breaking"
        );
        assert_eq!(
            auto_bump(&[commit("7777777", "chore(release): v1.0.0", "")]).reason,
            "no commits since the last release"
        );
    }
}
