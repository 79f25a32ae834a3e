//! `[[repo]]`: the repositories, their clones and their dependency graph. The table is shared:
//! its own keys (`name`, `path`, `github`, `depends_on`) are checked here, `assets` by the release
//! section and the publish keys by the publish section, each in its own module. They are read as
//! one flat table so an unknown key is refused with the full list of keys a repo may have.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::errors::ErrFn;
use crate::error::Result;
use crate::forge::RepoId;
use crate::graph::{DependencyGraph, GraphError};
use crate::publish::config::{RawRepoPublish, RepoPublishConfig, parse_repo_publish};
use crate::release::AssetPattern;
use crate::release::config::parse_assets;

/// One `[[repo]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoConfig {
    /// Unique name, used by `--only` and `depends_on`.
    pub name: String,
    /// The local clone (absolute, resolved against the config's directory).
    pub path: PathBuf,
    /// `owner/name` on the forge.
    pub github: RepoId,
    /// Names of repos that must be released (and settled) first.
    pub depends_on: Vec<String>,
    /// Release assets that must exist, as patterns.
    pub assets: Vec<AssetPattern>,
    /// The publish keys (manifest, packages, group, trigger...).
    pub publish: RepoPublishConfig,
}

// The name appears in serde's messages ("expected struct RawRepo"), and the order of the fields
// in its unknown-key message: keep both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRepo {
    name: Spanned<String>,
    path: Option<Spanned<String>>,
    github: Option<Spanned<String>>,
    depends_on: Option<Vec<Spanned<String>>>,
    assets: Option<Vec<Spanned<String>>>,
    manifest: Option<Spanned<String>>,
    packages: Option<Vec<Spanned<String>>>,
    group: Option<Spanned<String>>,
    trigger: Option<Spanned<String>>,
    workflow: Option<Spanned<String>>,
    workflow_inputs: Option<Spanned<BTreeMap<String, String>>>,
    correlation_input: Option<Spanned<String>>,
    branch: Option<Spanned<String>>,
    event_type: Option<Spanned<String>>,
    registry: Option<Spanned<String>>,
}

/// Validates every `[[repo]]` in order (clones resolved against `root`, `github` defaulting to
/// `owner/<name>`), then their dependency graph.
pub(super) fn parse_repos(
    raw: Vec<Spanned<RawRepo>>,
    root: &Path,
    owner: Option<&str>,
    err: &ErrFn<'_>,
) -> Result<(Vec<RepoConfig>, DependencyGraph)> {
    let mut repos = Vec::with_capacity(raw.len());
    let mut clones = ClonePaths::default();
    let mut name_spans = Vec::with_capacity(raw.len());
    let mut seen = BTreeSet::new();
    for (i, raw_repo) in raw.into_iter().enumerate() {
        let repo_span = raw_repo.span();
        let r = raw_repo.into_inner();
        let key = |k: &str| Some(format!("repo[{i}].{k}"));
        let name_span = r.name.span();
        let name = r.name.into_inner();
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@/".contains(c));
        if !valid_name {
            return Err(err(
                Some(name_span),
                key("name"),
                format!("invalid repo name {name:?}"),
            ));
        }
        if !seen.insert(name.clone()) {
            return Err(err(
                Some(name_span),
                key("name"),
                format!("repo {name:?} is declared twice"),
            ));
        }
        let path_span = r.path.as_ref().map(Spanned::span);
        let path = match r.path {
            Some(p) if p.get_ref().trim().is_empty() => {
                return Err(err(Some(p.span()), key("path"), "empty path".into()));
            }
            Some(p) => root.join(p.into_inner()),
            None => root.join(&name),
        };
        if let Some(other) = clones
            .claim(&path, repos.len())
            .map(|i: usize| &repos[i] as &RepoConfig)
        {
            return Err(err(
                path_span.or(Some(name_span)),
                key("path"),
                format!(
                    "repo {name:?} uses the same clone as repo {:?} ({}): each repo needs its own",
                    other.name,
                    path.display()
                ),
            ));
        }
        let github = match r.github {
            Some(g) => {
                let span = g.span();
                g.get_ref()
                    .parse::<RepoId>()
                    .map_err(|e| err(Some(span), key("github"), e.to_string()))?
            }
            None => match owner {
                Some(owner) => RepoId::new(owner.to_owned(), name.clone()),
                None => {
                    return Err(err(
                        Some(repo_span),
                        key("github"),
                        format!(
                            "repo {name:?} has no `github = \"owner/name\"` and [forge] has no `owner`"
                        ),
                    ));
                }
            },
        };
        let assets = parse_assets(r.assets, i, err)?;
        let publish = parse_repo_publish(
            RawRepoPublish {
                manifest: r.manifest,
                packages: r.packages,
                group: r.group,
                trigger: r.trigger,
                workflow: r.workflow,
                workflow_inputs: r.workflow_inputs,
                correlation_input: r.correlation_input,
                branch: r.branch,
                event_type: r.event_type,
                registry: r.registry,
            },
            i,
            &path,
            err,
        )?;
        let depends_on: Vec<Spanned<String>> = r.depends_on.unwrap_or_default();
        name_spans.push((
            name.clone(),
            name_span,
            depends_on
                .iter()
                .map(|d| (d.get_ref().clone(), d.span()))
                .collect::<Vec<_>>(),
        ));
        repos.push(RepoConfig {
            name,
            path,
            github,
            depends_on: depends_on.into_iter().map(Spanned::into_inner).collect(),
            assets,
            publish,
        });
    }
    let graph = DependencyGraph::new(repos.iter().map(|r| (r.name.clone(), r.depends_on.clone())))
        .map_err(|e| {
            // Point at the `depends_on` entry that closes the cycle or names the unknown repo.
            let located = match &e {
                GraphError::UnknownDependency { node, dependency } => {
                    name_spans.iter().enumerate().find_map(|(i, (n, _, deps))| {
                        (n == node)
                            .then(|| {
                                deps.iter()
                                    .find(|(d, _)| d == dependency)
                                    .map(|(_, s)| (i, s.clone()))
                            })
                            .flatten()
                    })
                }
                GraphError::Cycle { cycle } => name_spans
                    .iter()
                    .enumerate()
                    .find(|(_, (n, _, _))| cycle.first() == Some(n))
                    .and_then(|(i, (_, _, deps))| {
                        deps.iter()
                            .find(|(d, _)| cycle.get(1) == Some(d))
                            .map(|(_, s)| (i, s.clone()))
                    }),
                GraphError::Duplicate { .. } => None,
            };
            match located {
                Some((i, span)) => err(
                    Some(span),
                    Some(format!("repo[{i}].depends_on")),
                    e.to_string(),
                ),
                None => err(None, Some("repo".into()), e.to_string()),
            }
        })?;
    Ok((repos, graph))
}

/// Which repo uses each clone directory, to refuse two repos sharing one. Two paths name the
/// same directory lexically (`a/../b` is `b`) or, when both exist, after resolving symbolic
/// links. Each path is resolved once, so validating n repos costs n lookups, not n² path
/// resolutions (10k repos: milliseconds, where comparing every pair took seconds).
#[derive(Default)]
struct ClonePaths {
    lexical: HashMap<PathBuf, usize>,
    canonical: HashMap<PathBuf, usize>,
}

impl ClonePaths {
    /// The index of the repo already using `path`'s directory, or records it for `index`.
    fn claim(&mut self, path: &Path, index: usize) -> Option<usize> {
        let lexical = lexical_path(path);
        let canonical = path.canonicalize().ok();
        if let Some(&other) = self.lexical.get(&lexical) {
            return Some(other);
        }
        if let Some(&other) = canonical.as_ref().and_then(|c| self.canonical.get(c)) {
            return Some(other);
        }
        self.lexical.insert(lexical, index);
        if let Some(canonical) = canonical {
            self.canonical.insert(canonical, index);
        }
        None
    }
}

/// `p` with `.` dropped and `..` applied to the components before it, without the file system.
fn lexical_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in p.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::config::testing::{assert_errors, parse};

    #[test]
    fn clones_and_github_default_from_the_forge_owner() {
        let c = parse(
            "[forge]\nowner = \"Truthdb\"\n[[repo]]\nname = \"truthdb\"\n[[repo]]\nname = \"iso\"\npath = \"clones/iso\"\ngithub = \"Other/iso\"\ndepends_on = [\"truthdb\"]\n",
        )
        .expect("valid");
        assert_eq!(c.repos[0].github.to_string(), "Truthdb/truthdb");
        assert_eq!(c.repos[0].path, Path::new("/work/truthdb"));
        assert_eq!(c.repos[1].path, Path::new("/work/clones/iso"));
        assert_eq!(c.repos[1].github.to_string(), "Other/iso");
        assert_eq!(c.repos[1].depends_on, vec!["truthdb"]);
        assert_eq!(c.graph.waves(None), vec![vec!["truthdb"], vec!["iso"]]);
    }

    /// A clone reached through a symbolic link is the same clone; a distinct one is not.
    #[cfg(unix)]
    #[test]
    fn a_clone_behind_a_symlink_is_the_same_clone() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("a")).expect("a");
        std::fs::create_dir(dir.path().join("c")).expect("c");
        std::os::unix::fs::symlink(dir.path().join("a"), dir.path().join("b")).expect("link");
        let file = dir.path().join("orchestrator.toml");
        let shared = "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\n[[repo]]\nname = \"b\"\n";
        let message = Config::parse(shared, &file)
            .expect_err("a symlinked clone is refused")
            .to_string();
        assert!(
            message.contains("repo \"b\" uses the same clone as repo \"a\""),
            "{message}"
        );
        let distinct = "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\n[[repo]]\nname = \"c\"\n";
        Config::parse(distinct, &file).expect("distinct clones are fine");
    }

    #[test]
    fn bad_values_name_file_line_and_key() {
        assert_errors(&[
            (
                "[[repo]]\nname = \"a\"\ngithub = \"nope\"\n",
                ":3: `repo[0].github`: invalid repository \"nope\"",
            ),
            (
                "[[repo]]\nname = \"a\"\n",
                ":1: `repo[0].github`: repo \"a\" has no `github",
            ),
            (
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\n[[repo]]\nname = \"a\"\n",
                ":6: `repo[1].name`: repo \"a\" is declared twice",
            ),
            (
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\ndepends_on = [\"ghost\"]\n",
                ":5: `repo[0].depends_on`: \"a\" depends on \"ghost\", which is not declared",
            ),
            (
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\ndepends_on = [\"b\"]\n[[repo]]\nname = \"b\"\ndepends_on = [\"a\"]\n",
                ":5: `repo[0].depends_on`: dependency cycle: a -> b -> a",
            ),
            (
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\n[[repo]]\nname = \"b\"\npath = \"./x/../a\"\n",
                ":7: `repo[1].path`: repo \"b\" uses the same clone as repo \"a\"",
            ),
        ]);
    }
}
