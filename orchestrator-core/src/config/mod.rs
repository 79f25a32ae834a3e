//! `orchestrator.toml`: the file, read once and composed from its sections.
//!
//! The keys are a contract (see DESIGN.md section 3). Each feature owns its section: its raw
//! (serde) type, its validated type, its defaults and its checks live in the feature's module
//! (`release::config`, `publish::config`, `pipeline::config`, `tasks::config`, `scale::config`,
//! `state::config`). Three sections are parsed in this module's own files: `[forge]` (`forge.rs`;
//! the `forge` module holds the trait and its backends, not the file), `[serve]` (`serve.rs`; the
//! service lives in `orchestrator-serve`) and `[[repo]]` (`repos.rs`; several features share its
//! keys, and each checks its own). This module only reads the file (`file.rs`), parses the raw
//! document, hands each section to its owner with one error reporter (`errors.rs`; shared value
//! checks in `values.rs`) and assembles [`Config`]. Every problem is reported as
//! [`Error::Config`] naming the file, the line and the dotted key.

pub(crate) mod errors;
mod file;
mod forge;
mod repos;
mod serve;
pub(crate) mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, Result};
use crate::graph::DependencyGraph;

// The section parsers import these from their modules; scale's uses the old paths.
pub(crate) use errors::ErrFn;
pub use forge::{ForgeConfig, SimulateConfig, validate_api_url};
pub use repos::RepoConfig;
pub use serve::ServeConfig;
pub(crate) use values::duration_field;
pub use values::parse_duration;

pub use crate::pipeline::config::{EnvFileLayer, PipelineConfig, StepConfig};
pub use crate::publish::config::{PublishConfig, RepoPublishConfig, TriggerKind};
pub use crate::release::{AssetMatcher, AssetPattern, ReleaseConfig};
pub use crate::scale::config::ScaleConfig;
pub use crate::state::config::StateConfig;
pub use crate::tasks::config::TaskConfig;

/// The file name searched for in the current directory and its parents.
pub const CONFIG_FILE_NAME: &str = "orchestrator.toml";

/// A loaded, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// The directory relative paths are resolved against (the file's directory).
    pub root: PathBuf,
    /// `[forge]`.
    pub forge: ForgeConfig,
    /// `[release]`.
    pub release: ReleaseConfig,
    /// `[[repo]]`, in declaration order.
    pub repos: Vec<RepoConfig>,
    /// The repositories' dependency graph.
    pub graph: DependencyGraph,
    /// `[pipeline.<name>]`, by name.
    pub pipelines: BTreeMap<String, PipelineConfig>,
    /// `[[tasks.<list>]]`, by list name.
    pub tasks: BTreeMap<String, Vec<TaskConfig>>,
    /// `[publish]`.
    pub publish: PublishConfig,
    /// `[scale]`.
    pub scale: ScaleConfig,
    /// `[state]`: where the run history lives (SQLite by default, or a shared PostgreSQL).
    pub state: StateConfig,
    /// `[serve]`: what `orchestrator serve` schedules.
    pub serve: ServeConfig,
}

/// The whole document as read: one field per section, each of its owner's raw type. Unknown
/// top-level keys are refused here, with the list of sections.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    forge: Option<forge::RawForge>,
    release: Option<crate::release::config::RawRelease>,
    #[serde(default)]
    repo: Vec<Spanned<repos::RawRepo>>,
    #[serde(default)]
    pipeline: crate::pipeline::config::RawPipelines,
    #[serde(default)]
    tasks: crate::tasks::config::RawTaskLists,
    publish: Option<crate::publish::config::RawPublish>,
    scale: Option<crate::scale::config::RawScale>,
    state: Option<crate::state::config::RawState>,
    serve: Option<serve::RawServe>,
}

impl Config {
    /// Finds `orchestrator.toml` in `start` or the nearest parent directory.
    pub fn discover(start: &Path) -> Result<PathBuf> {
        start
            .ancestors()
            .map(|dir| dir.join(CONFIG_FILE_NAME))
            // Anything by that name counts (a broken link, a FIFO): `load` then says what is
            // wrong with it, rather than a parent directory's config being used instead.
            .find(|candidate| candidate.symlink_metadata().is_ok())
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "no {CONFIG_FILE_NAME} in {} or any parent directory (pass --config FILE)",
                    start.display()
                ))
            })
    }

    /// Reads and validates a config file.
    pub fn load(file: &Path) -> Result<Self> {
        let text = file::read(file)?;
        Self::parse(&text, file)
    }

    /// Validates config text as if read from `file` (relative paths resolve against its directory).
    ///
    /// Sections are checked in a fixed order and the first problem is reported, so a file with
    /// several problems always gets the same message.
    pub fn parse(text: &str, file: &Path) -> Result<Self> {
        let err = errors::reporter(file, text);
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| errors::syntax_error(&e, text, &err))?;
        let root = root_of(file);
        let forge = forge::parse_forge(raw.forge, &err)?;
        let release = crate::release::config::parse_release(raw.release, &err)?;
        let (repos, graph) = repos::parse_repos(raw.repo, &root, forge.owner.as_deref(), &err)?;
        let pipelines = crate::pipeline::config::parse_pipelines(raw.pipeline, &root, &err)?;
        let tasks = crate::tasks::config::parse_task_lists(raw.tasks, &root, &err)?;
        let publish = crate::publish::config::parse_publish(raw.publish, &root, &err)?;
        let scale = crate::scale::config::parse_scale(raw.scale, &err)?;
        let state = crate::state::config::parse_state(raw.state, &err)?;
        crate::publish::config::check_umbrella_version_from(&publish, &repos, &err)?;
        Ok(Self {
            file: file.to_owned(),
            root,
            forge,
            release,
            repos,
            graph,
            pipelines,
            tasks,
            publish,
            scale,
            state,
            serve: serve::parse_serve(raw.serve),
        })
    }

    /// The repo called `name`.
    pub fn repo(&self, name: &str) -> Option<&RepoConfig> {
        self.repos.iter().find(|r| r.name == name)
    }
}

/// The directory relative paths in `file` resolve against: its own, made absolute.
fn root_of(file: &Path) -> PathBuf {
    let root = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    std::path::absolute(&root).unwrap_or(root)
}

/// What every section's tests use: a file at a fixed path, and the check that each bad input is
/// refused naming that file, the line and the key.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;

    use super::Config;
    use crate::error::Result;

    /// The path every test file is "read" from.
    pub(crate) const FILE: &str = "/work/orchestrator.toml";

    /// `text` loaded as if from [`FILE`].
    pub(crate) fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new(FILE))
    }

    /// The message `text` is refused with.
    pub(crate) fn error_of(text: &str) -> String {
        parse(text).expect_err("must be rejected").to_string()
    }

    /// Each `(text, expected)`: `text` is refused with a message that starts with [`FILE`]
    /// followed by `expected` (`:line: \`key\`: message…`).
    pub(crate) fn assert_errors(cases: &[(&str, &str)]) {
        for (text, expected) in cases {
            let message = error_of(text);
            assert!(
                message.starts_with(&format!("{FILE}{expected}")),
                "for {text:?}\n got: {message}\nwant: {expected}"
            );
        }
    }
}

#[cfg(test)]
mod tests;
