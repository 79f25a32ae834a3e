//! Release notes from conventional commits: breaking changes first, then features, fixes,
//! performance and the rest, one bullet per commit with its short id.

use std::fmt::Write as _;

use super::bump::{ConventionalCommit, is_release_commit, short};
use crate::vcs::CommitInfo;

/// Sections in the order they are printed (after breaking changes), by commit type.
const SECTIONS: &[(&str, &[&str])] = &[
    ("Features", &["feat"]),
    ("Bug fixes", &["fix"]),
    ("Performance", &["perf"]),
    ("Reverts", &["revert"]),
    (
        "Other changes",
        &["refactor", "docs", "build", "ci", "test", "style", "chore"],
    ),
];

/// Markdown notes for `version` of `package` from commits (newest first, as `commits_since`
/// returns them; the notes list oldest first). Release commits and non-conventional commits are
/// left out; a release with none says so.
pub fn release_notes(package: &str, version: &str, commits: &[CommitInfo]) -> String {
    let mut parsed: Vec<ConventionalCommit> = commits
        .iter()
        .rev()
        .filter(|c| !is_release_commit(c))
        .filter_map(ConventionalCommit::parse)
        .collect();
    parsed.dedup_by(|a, b| a.id == b.id);
    let bullet = |c: &ConventionalCommit| match &c.scope {
        Some(scope) => format!("- **{scope}:** {} ({})\n", c.description, short(&c.id)),
        None => format!("- {} ({})\n", c.description, short(&c.id)),
    };
    let mut out = format!("## {package} {version}\n");
    let breaking: Vec<&ConventionalCommit> = parsed.iter().filter(|c| c.breaking).collect();
    if !breaking.is_empty() {
        out.push_str("\n### ⚠ Breaking changes\n\n");
        for c in &breaking {
            match &c.breaking_note {
                Some(note) => {
                    let _ = writeln!(
                        out,
                        "- {}{note} ({})",
                        c.scope
                            .as_ref()
                            .map(|s| format!("**{s}:** "))
                            .unwrap_or_default(),
                        short(&c.id)
                    );
                }
                None => out.push_str(&bullet(c)),
            }
        }
    }
    let mut any = !breaking.is_empty();
    for (title, kinds) in SECTIONS {
        let items: Vec<&ConventionalCommit> = parsed
            .iter()
            .filter(|c| !c.breaking && kinds.contains(&c.kind.as_str()))
            .collect();
        if items.is_empty() {
            continue;
        }
        any = true;
        let _ = write!(out, "\n### {title}\n\n");
        for c in items {
            out.push_str(&bullet(c));
        }
    }
    if !any {
        out.push_str("\nNo notable changes (dependency updates only).\n");
    }
    out
}

/// The umbrella release's notes: every package and version in the set.
pub fn umbrella_notes(title: &str, packages: &[(String, String, String)]) -> String {
    let mut out = format!("# {title}\n\n| package | version | tag |\n|---|---|---|\n");
    for (package, version, tag) in packages {
        let _ = writeln!(out, "| {package} | {version} | `{tag}` |");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, summary: &str, body: &str) -> CommitInfo {
        CommitInfo {
            id: id.into(),
            summary: summary.into(),
            body: body.into(),
        }
    }

    #[test]
    fn notes_group_by_type_with_breaking_first() {
        // Newest first, as commits_since returns them.
        let commits = [
            c("9999999999", "chore(release): @web-buddy/core v1.0.0", ""),
            c("8888888888", "docs: explain adapters", ""),
            c("7777777777", "perf(router): cache compiled routes", ""),
            c(
                "6666666666",
                "feat(api): typed events",
                "BREAKING CHANGE: Event is now generic over its payload",
            ),
            c("5555555555", "fix: reconnect after a dropped socket", ""),
            c("4444444444", "Merge pull request #12 from x/y", ""),
            c("3333333333", "feat(server)!: drop Node 16", ""),
            c("2222222222", "feat: google-buddy adapter", ""),
        ];
        insta::assert_snapshot!(release_notes("@web-buddy/core", "1.1.0", &commits));
    }

    #[test]
    fn notes_without_notable_changes_say_so() {
        assert_eq!(
            release_notes("x", "1.0.1", &[c("1", "chore: bump deps", "")]),
            "## x 1.0.1\n\n### Other changes\n\n- bump deps (1)\n"
        );
        assert_eq!(
            release_notes("x", "1.0.1", &[]),
            "## x 1.0.1\n\nNo notable changes (dependency updates only).\n"
        );
    }
}
