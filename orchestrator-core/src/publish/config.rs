//! `[publish]` and the per-repo publish keys of `orchestrator.toml`.
//!
//! ```toml
//! [publish]
//! umbrella_tag = "ecosystem-v{version}"   # the umbrella release's tag (default)
//! umbrella_repo = "rydnr/chatgpt-buddy"   # where it is created (default: none, not created)
//! umbrella_version_from = "chatgpt-buddy" # whose new version names it (default: the last repo
//!                                         #   in dependency order); a partial publish without
//!                                         #   it is named after its greatest new version
//! coordination = "versions.toml"          # the coordination manifest (relative to this file)
//! coordination_commit = "push"            # "off" (default: write the file only), "commit" it
//!                                         #   (only it) in the git work tree holding it, or
//!                                         #   commit and "push" that branch"
//! nightly_tag = "nightly-{date}-{sha}"    # cascade --nightly tags ({date} = YYYYMMDD UTC,
//!                                         #   {sha} = 7-character commit)
//! concurrency = 4                         # packages in flight (default: [release] concurrency)
//! dependency_range = "keep-style"         # how dependents' requirements move to admit a new
//!                                         #   version: "keep-style" (default; the author's
//!                                         #   operator), "exact" (=x.y.z) or "caret" (^x.y.z)
//! breaking_on_0x = "minor"                # a breaking change on 0.x bumps the "minor"
//!                                         #   (default; Cargo's rule) or the "major" (to 1.0.0)
//! npm_registry = "http://127.0.0.1:4873/" # the registry `registry = "npm"` means (default:
//!                                         #   $npm_config_registry, else registry.npmjs.org)
//!
//! [[repo]]
//! name = "web-buddy-core"
//! depends_on = ["typescript-eda"]
//! manifest = "package.json"               # relative to the clone; Cargo.toml or package.json
//! packages = ["@web-buddy/core"]          # default: the name in the manifest
//! group = "web-buddy"                     # lock-step version group (default: none)
//! trigger = "workflow"                    # "tag" (the pushed tag starts CI; default) or "workflow"
//! workflow = "release.yml"                # the release workflow (default release.yml)
//! workflow_inputs = { release_type = "coordinated" }  # plus `version` and the correlation id
//! correlation_input = "correlation_id"    # the input the run's `run-name` shows ("" = none:
//!                                         #   correlate by event + head SHA + creation time)
//! branch = "main"                         # the branch release commits go to (default main)
//! event_type = "build_web_buddy_core"     # repository_dispatch type it sends (default
//!                                         #   build_<name>)
//! registry = "npm"                        # where its CI publishes it: "crates-io", "npm" or a
//!                                         #   Cargo alternative registry's name (its index from
//!                                         #   CARGO_REGISTRIES_<NAME>_INDEX or a
//!                                         #   .cargo/config.toml). Dependents wait until the
//!                                         #   new version is installable there, then update
//!                                         #   their lockfile (default: none, no wait)
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::bump::BreakingOn0x;
use super::range::DependencyRange;
use super::registry::Registry;
use crate::config::errors::ErrFn;
use crate::config::values::positive;
use crate::error::Result;
use crate::forge::RepoId;
use crate::version::TagFormat;

/// The default umbrella tag format.
pub const DEFAULT_UMBRELLA_TAG: &str = "ecosystem-v{version}";
/// The default nightly tag format.
pub const DEFAULT_NIGHTLY_TAG: &str = "nightly-{date}-{sha}";
/// The default release workflow.
pub const DEFAULT_WORKFLOW: &str = "release.yml";
/// The default correlation input.
pub const DEFAULT_CORRELATION_INPUT: &str = "correlation_id";

/// `[publish]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishConfig {
    /// The umbrella release's tag format.
    pub umbrella_tag: TagFormat,
    /// Where the umbrella release goes; `None`: not created.
    pub umbrella_repo: Option<RepoId>,
    /// The repo whose new version names the umbrella release.
    pub umbrella_version_from: Option<String>,
    /// The coordination manifest (absolute).
    pub coordination: PathBuf,
    /// What becomes of the coordination manifest once written.
    pub coordination_commit: CoordinationCommit,
    /// The nightly tag format (`{date}`, `{sha}`).
    pub nightly_tag: String,
    /// Packages in flight at once; `None`: `[release] concurrency`.
    pub concurrency: Option<usize>,
    /// How dependents' requirements move so they admit a bumped package's new version.
    pub dependency_range: DependencyRange,
    /// What a breaking change does to a 0.x version.
    pub breaking_on_0x: BreakingOn0x,
    /// The registry URL `registry = "npm"` means; `None`: npm's own configuration.
    pub npm_registry: Option<String>,
}

/// What `publish` does with the coordination manifest after writing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordinationCommit {
    /// Leave the file for a person or a later job to commit.
    #[default]
    Off,
    /// Commit it (only it) on the current branch of the git work tree that holds it.
    Commit,
    /// Commit it and push that branch to `origin` (the branch as it is: any local commits not
    /// pushed yet go too).
    Push,
}

/// How a package's release is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// Pushing the tag starts the release workflow (`on: push: tags`).
    Tag,
    /// A `workflow_dispatch` of the release workflow with inputs.
    Workflow,
}

/// The per-repo publish keys.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct RepoPublishConfig {
    /// The manifest (absolute), if the repo publishes packages.
    pub manifest: Option<PathBuf>,
    /// Package names it publishes (empty: the manifest's own name).
    pub packages: Vec<String>,
    /// Lock-step version group.
    pub group: Option<String>,
    /// How its release starts.
    pub trigger: Option<TriggerKind>,
    /// The release workflow file.
    pub workflow: Option<String>,
    /// Extra dispatch inputs.
    pub workflow_inputs: BTreeMap<String, String>,
    /// The input carrying the correlation id; `Some("")` disables it.
    pub correlation_input: Option<String>,
    /// The branch release commits go to.
    pub branch: Option<String>,
    /// The `repository_dispatch` event type it sends.
    pub event_type: Option<String>,
    /// Where its CI publishes its packages; `None`: nowhere we wait for.
    pub registry: Option<Registry>,
}

impl RepoPublishConfig {
    /// How its release starts (default: tag push).
    pub fn trigger(&self) -> TriggerKind {
        self.trigger.unwrap_or(TriggerKind::Tag)
    }

    /// The release workflow (default `release.yml`).
    pub fn workflow(&self) -> &str {
        self.workflow.as_deref().unwrap_or(DEFAULT_WORKFLOW)
    }

    /// The correlation input, `None` when disabled.
    pub fn correlation_input(&self) -> Option<&str> {
        match self.correlation_input.as_deref() {
            Some("") => None,
            Some(s) => Some(s),
            None => Some(DEFAULT_CORRELATION_INPUT),
        }
    }

    /// The release branch (default `main`).
    pub fn branch(&self) -> &str {
        self.branch.as_deref().unwrap_or("main")
    }
}

/// The `repository_dispatch` event type of repo `name` (default `build_<name>` with `-` → `_`).
pub fn event_type_of(name: &str, config: &RepoPublishConfig) -> String {
    config
        .event_type
        .clone()
        .unwrap_or_else(|| format!("build_{}", name.replace(['-', '.', '/', '@'], "_")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPublish {
    umbrella_tag: Option<Spanned<String>>,
    umbrella_repo: Option<Spanned<String>>,
    umbrella_version_from: Option<Spanned<String>>,
    coordination: Option<Spanned<String>>,
    coordination_commit: Option<Spanned<String>>,
    nightly_tag: Option<Spanned<String>>,
    concurrency: Option<Spanned<i64>>,
    dependency_range: Option<Spanned<String>>,
    breaking_on_0x: Option<Spanned<String>>,
    npm_registry: Option<Spanned<String>>,
}

/// The per-repo publish keys as read (they live flat in `[[repo]]`).
#[derive(Debug, Default)]
pub(crate) struct RawRepoPublish {
    pub(crate) manifest: Option<Spanned<String>>,
    pub(crate) packages: Option<Vec<Spanned<String>>>,
    pub(crate) group: Option<Spanned<String>>,
    pub(crate) trigger: Option<Spanned<String>>,
    pub(crate) workflow: Option<Spanned<String>>,
    pub(crate) workflow_inputs: Option<Spanned<BTreeMap<String, String>>>,
    pub(crate) correlation_input: Option<Spanned<String>>,
    pub(crate) branch: Option<Spanned<String>>,
    pub(crate) event_type: Option<Spanned<String>>,
    pub(crate) registry: Option<Spanned<String>>,
}

/// Validates `[publish]`; an absent key takes its default.
pub(crate) fn parse_publish(
    raw: Option<RawPublish>,
    root: &std::path::Path,
    err: &ErrFn<'_>,
) -> Result<PublishConfig> {
    let raw = raw.unwrap_or_default();
    let umbrella_tag = match raw.umbrella_tag {
        None => TagFormat::parse(DEFAULT_UMBRELLA_TAG).expect("the default is valid"),
        Some(t) => TagFormat::parse(t.get_ref()).map_err(|e| {
            err(
                Some(t.span()),
                Some("publish.umbrella_tag".into()),
                e.to_string(),
            )
        })?,
    };
    let umbrella_repo = match raw.umbrella_repo {
        None => None,
        Some(r) => Some(r.get_ref().parse::<RepoId>().map_err(|e| {
            err(
                Some(r.span()),
                Some("publish.umbrella_repo".into()),
                e.to_string(),
            )
        })?),
    };
    let nightly_tag = match raw.nightly_tag {
        None => DEFAULT_NIGHTLY_TAG.to_owned(),
        Some(t) => {
            let s = t.get_ref();
            if !s.contains("{sha}") && !s.contains("{date}") {
                return Err(err(
                    Some(t.span()),
                    Some("publish.nightly_tag".into()),
                    format!("nightly tag format {s:?} must contain {{date}} or {{sha}}"),
                ));
            }
            s.clone()
        }
    };
    // Absent: the release's concurrency applies.
    let concurrency = match raw.concurrency {
        None => None,
        Some(c) => Some(positive(Some(c), "publish.concurrency", 1, err)? as usize),
    };
    let coordination = root.join(
        raw.coordination
            .map_or_else(|| "versions.toml".to_owned(), Spanned::into_inner),
    );
    let coordination_commit = match raw.coordination_commit {
        None => CoordinationCommit::Off,
        Some(c) => {
            let key = Some("publish.coordination_commit".to_owned());
            // Whether the file lies in a work tree is checked when a publish starts, not here:
            // every command reads this file, and a copy of the tree without `.git` is fine
            // for `status` or `graph`.
            match c.get_ref().as_str() {
                "off" => CoordinationCommit::Off,
                "commit" => CoordinationCommit::Commit,
                "push" => CoordinationCommit::Push,
                other => {
                    return Err(err(
                        Some(c.span()),
                        key,
                        format!("{other:?} is not one of \"off\", \"commit\", \"push\""),
                    ));
                }
            }
        }
    };
    let dependency_range = match raw.dependency_range {
        None => DependencyRange::default(),
        Some(d) => DependencyRange::parse(d.get_ref()).ok_or_else(|| {
            err(
                Some(d.span()),
                Some("publish.dependency_range".into()),
                format!(
                    "{:?} is not one of \"keep-style\", \"exact\", \"caret\"",
                    d.get_ref()
                ),
            )
        })?,
    };
    let breaking_on_0x = match raw.breaking_on_0x {
        None => BreakingOn0x::default(),
        Some(b) => match b.get_ref().as_str() {
            "minor" => BreakingOn0x::Minor,
            "major" => BreakingOn0x::Major,
            other => {
                return Err(err(
                    Some(b.span()),
                    Some("publish.breaking_on_0x".into()),
                    format!("{other:?} is not one of \"minor\", \"major\""),
                ));
            }
        },
    };
    let npm_registry = match raw.npm_registry {
        None => None,
        Some(u) => {
            let url = u.get_ref().trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(err(
                    Some(u.span()),
                    Some("publish.npm_registry".into()),
                    format!("{url:?} is not an http:// or https:// URL"),
                ));
            }
            Some(url.to_owned())
        }
    };
    Ok(PublishConfig {
        npm_registry,
        umbrella_tag,
        umbrella_repo,
        umbrella_version_from: raw.umbrella_version_from.map(Spanned::into_inner),
        coordination,
        coordination_commit,
        nightly_tag,
        concurrency,
        dependency_range,
        breaking_on_0x,
    })
}

/// `umbrella_version_from` names a declared repo. Checked once every section is read, since it
/// refers to `[[repo]]`.
pub(crate) fn check_umbrella_version_from(
    publish: &PublishConfig,
    repos: &[crate::config::RepoConfig],
    err: &ErrFn<'_>,
) -> Result<()> {
    match &publish.umbrella_version_from {
        Some(from) if !repos.iter().any(|r| &r.name == from) => Err(err(
            None,
            Some("publish.umbrella_version_from".into()),
            format!("unknown repo {from:?}"),
        )),
        _ => Ok(()),
    }
}

/// The git work tree holding `file` (the nearest ancestor directory with a `.git`, after
/// resolving `..` and links) and the file's path inside it, `/`-separated. `None` when the file's
/// directory does not exist or lies in no work tree.
pub fn work_tree_of(file: &std::path::Path) -> Option<(PathBuf, String)> {
    let dir = file.parent()?.canonicalize().ok()?;
    let file = dir.join(file.file_name()?);
    let root = dir.ancestors().find(|d| d.join(".git").exists())?;
    let relative = file.strip_prefix(root).ok()?;
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some((root.to_owned(), parts.join("/")))
}

/// Validates the publish keys of `repo[index]`, whose clone is at `repo_path`.
pub(crate) fn parse_repo_publish(
    raw: RawRepoPublish,
    index: usize,
    repo_path: &std::path::Path,
    err: &ErrFn<'_>,
) -> Result<RepoPublishConfig> {
    let key = |k: &str| Some(format!("repo[{index}].{k}"));
    let manifest = match raw.manifest {
        None => None,
        Some(m) => {
            let path = repo_path.join(m.get_ref());
            crate::publish::manifest::ManifestKind::detect(&path)
                .map_err(|e| err(Some(m.span()), key("manifest"), e.to_string()))?;
            Some(path)
        }
    };
    let trigger = match raw.trigger {
        None => None,
        Some(t) => Some(match t.get_ref().as_str() {
            "tag" => TriggerKind::Tag,
            "workflow" => TriggerKind::Workflow,
            other => {
                return Err(err(
                    Some(t.span()),
                    key("trigger"),
                    format!("unknown trigger {other:?}: expected \"tag\" or \"workflow\""),
                ));
            }
        }),
    };
    let non_empty = |v: Option<Spanned<String>>, k: &str| -> Result<Option<String>> {
        match v {
            Some(s) if s.get_ref().trim().is_empty() => {
                Err(err(Some(s.span()), key(k), "must not be empty".into()))
            }
            other => Ok(other.map(Spanned::into_inner)),
        }
    };
    let event_type = non_empty(raw.event_type, "event_type")?;
    if let Some(e) = &event_type
        && e.len() > 100
    {
        return Err(err(
            None,
            key("event_type"),
            "longer than 100 characters".into(),
        ));
    }
    let registry = match raw.registry {
        None => None,
        Some(r) => Some(Registry::parse(r.get_ref()).ok_or_else(|| {
            err(
                Some(r.span()),
                key("registry"),
                format!(
                    "{:?} is not \"crates-io\", \"npm\" or a registry name (letters, digits, \
                     '-', '_')",
                    r.get_ref()
                ),
            )
        })?),
    };
    if let (Some(reg), Some(m)) = (&registry, &manifest) {
        let kind = crate::publish::manifest::ManifestKind::detect(m)?;
        if reg.ecosystem() != kind {
            return Err(err(
                None,
                key("registry"),
                format!(
                    "registry {:?} does not serve the packages of {}",
                    reg.name(),
                    m.display()
                ),
            ));
        }
    }
    Ok(RepoPublishConfig {
        registry,
        manifest,
        packages: raw
            .packages
            .unwrap_or_default()
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
        group: non_empty(raw.group, "group")?,
        trigger,
        workflow: non_empty(raw.workflow, "workflow")?,
        workflow_inputs: raw
            .workflow_inputs
            .map(Spanned::into_inner)
            .unwrap_or_default(),
        correlation_input: raw.correlation_input.map(Spanned::into_inner),
        branch: non_empty(raw.branch, "branch")?,
        event_type,
    })
}
