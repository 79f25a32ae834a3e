//! `orchestrator.toml`: the model, the loader and its validation.
//!
//! The keys are a contract (see DESIGN.md section 3). Every problem is reported as
//! [`Error::Config`] naming the file, the line and the dotted key.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, Result};
use crate::forge::RepoId;
use crate::graph::{DependencyGraph, GraphError};
use crate::version::{ReleaseVersion, TagFormat, VERSION_PLACEHOLDER, fill_version};

pub use crate::pipeline::config::{EnvFileLayer, PipelineConfig, StepConfig};
pub use crate::publish::config::{PublishConfig, RepoPublishConfig, TriggerKind};
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
    pub scale: crate::scale::config::ScaleConfig,
    /// `[state]`: where the run history lives (SQLite by default, or a shared PostgreSQL).
    pub state: crate::state::config::StateConfig,
    /// `[serve]`: what `orchestrator serve` schedules.
    pub serve: ServeConfig,
}

/// `[serve]`: the service's schedule. The cron syntax is checked by `orchestrator-serve`, which
/// owns the scheduler; here it is only a string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServeConfig {
    /// `nightly = "0 2 * * *"`: when the nightly cascade runs (five-field cron, UTC).
    pub nightly: Option<String>,
    /// `rate_limit_floor = 200`: below this many requests left in the forge's rate-limit window
    /// (shared by every replica using the token), replicas defer their polls until the reset.
    pub rate_limit_floor: Option<u64>,
}

/// `[forge]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForgeConfig {
    /// The API base URL (GitHub Enterprise, the mock server); `None` means api.github.com.
    pub api_url: Option<String>,
    /// The default owner of every repo.
    pub owner: Option<String>,
    /// `[forge.simulate]`: use the in-process forge with simulated CI instead of a real one.
    pub simulate: Option<SimulateConfig>,
}

/// `[forge.simulate]`: the in-process forge watches each repo's local bare origin for pushed tags
/// and publishes the configured assets after these delays. For rehearsals, demos and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulateConfig {
    /// From tag push to release.
    pub ci_delay: Duration,
    /// Upload time of each asset.
    pub asset_interval: Duration,
}

/// `[release]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseConfig {
    /// Tag format, default `v{version}`.
    pub tag: TagFormat,
    /// Base poll interval while waiting for assets.
    pub poll_interval: Duration,
    /// Per-repo wait deadline.
    pub timeout: Duration,
    /// Unchanged polls before assets count as settled.
    pub stable_polls: u32,
    /// Repos in flight at once.
    pub concurrency: usize,
}

impl Default for ReleaseConfig {
    fn default() -> Self {
        Self {
            tag: TagFormat::default(),
            poll_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(45 * 60),
            stable_polls: 1,
            concurrency: 4,
        }
    }
}

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

/// An asset name pattern: an exact name or a `*`/`?` glob, with `{version}` (no `v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetPattern(String);

impl AssetPattern {
    /// Validates a pattern.
    pub fn parse(pattern: &str) -> Result<Self> {
        if pattern.trim().is_empty() || pattern.contains('/') {
            return Err(Error::invalid_input(format!(
                "invalid asset pattern {pattern:?}: expected a file name or a glob such as app-v{VERSION_PLACEHOLDER}-*.tar.gz"
            )));
        }
        // No asset name can hold these, so such a pattern would wait until the timeout after the
        // tags are pushed: refuse it now. `{version}` is the only placeholder; a brace left after
        // removing it is a misspelt one (`{ver}`, `{VERSION}`).
        if pattern.chars().any(|c| c.is_control() || c == '\\') {
            return Err(Error::invalid_input(format!(
                "invalid asset pattern {pattern:?}: control characters and backslashes cannot \
                 appear in an asset name"
            )));
        }
        if pattern
            .replace(VERSION_PLACEHOLDER, "")
            .contains(['{', '}'])
        {
            return Err(Error::invalid_input(format!(
                "invalid asset pattern {pattern:?}: the only placeholder is {VERSION_PLACEHOLDER}"
            )));
        }
        let probe = pattern.replace(VERSION_PLACEHOLDER, "0.0.0");
        globset::Glob::new(&probe)
            .map_err(|e| Error::invalid_input(format!("invalid asset pattern {pattern:?}: {e}")))?;
        Ok(Self(pattern.to_owned()))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The pattern for a version: a matcher over asset names.
    pub fn for_version(&self, version: &ReleaseVersion) -> AssetMatcher {
        Self::matcher(fill_version(&self.0, version))
    }

    /// The pattern for a build that carries no release version (a nightly tag): `{version}`
    /// matches anything, since CI names such assets after the tag or the build.
    pub fn for_any_version(&self) -> AssetMatcher {
        Self::matcher(self.0.replace(VERSION_PLACEHOLDER, "*"))
    }

    fn matcher(filled: String) -> AssetMatcher {
        let glob = filled
            .contains(['*', '?', '['])
            .then(|| {
                globset::Glob::new(&filled)
                    .ok()
                    .map(|g| g.compile_matcher())
            })
            .flatten();
        AssetMatcher { filled, glob }
    }
}

/// An [`AssetPattern`] with the version filled in.
#[derive(Debug, Clone)]
pub struct AssetMatcher {
    filled: String,
    glob: Option<globset::GlobMatcher>,
}

impl AssetMatcher {
    /// The pattern with the version, as shown to users.
    pub fn pattern(&self) -> &str {
        &self.filled
    }

    /// Whether an asset name matches.
    pub fn matches(&self, name: &str) -> bool {
        match &self.glob {
            Some(glob) => glob.is_match(name),
            None => self.filled == name,
        }
    }
}

/// Checks a forge API URL (`forge.api_url`, `--forge-url`): `http://` or `https://`, a host, and
/// no whitespace or control characters. Returns it without a trailing slash, or the reason.
pub fn validate_api_url(url: &str) -> std::result::Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    // Credentials in the URL (`user:secret@`) never reach a message.
    let shown = match rest.map(|r| (r, r.split(['/', '?', '#']).next().unwrap_or_default())) {
        Some((r, authority)) if authority.contains('@') => {
            let scheme = &url[..url.len() - r.len()];
            let after = &r[authority.rfind('@').map_or(0, |i| i + 1)..];
            format!("{scheme}[redacted]@{after}")
        }
        _ => url.to_owned(),
    };
    let invalid = |why: &str| Err(format!("invalid URL {shown:?}: {why}"));
    let Some(rest) = rest else {
        return invalid("expected http:// or https://");
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("it contains whitespace or control characters");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((addr, port)) if !addr.is_empty() => (addr, port.strip_prefix(':')),
            _ => return invalid("expected a host"),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c));
    if !host_ok {
        return invalid("expected a host");
    }
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return invalid("the port is not a number up to 65535");
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// What a non-regular file is, for an error message.
fn file_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
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
        let refuse = |message: String| Error::Config {
            file: file.to_owned(),
            line: None,
            key: None,
            message,
        };
        // Look before reading: a FIFO would block the read forever, and a dangling symbolic link
        // reads as "not found" while the link itself is right there.
        match std::fs::metadata(file) {
            Ok(meta) if !meta.is_file() => {
                let kind = file_kind(&meta.file_type());
                return Err(refuse(format!("cannot read: {kind}, not a regular file")));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Ok(target) = std::fs::read_link(file) {
                    return Err(refuse(format!(
                        "cannot read: a symbolic link to {}, which does not exist",
                        target.display()
                    )));
                }
            }
            _ => {}
        }
        let text =
            std::fs::read_to_string(file).map_err(|e| refuse(format!("cannot read: {e}")))?;
        Self::parse(&text, file)
    }

    /// Validates config text as if read from `file` (relative paths resolve against its directory).
    pub fn parse(text: &str, file: &Path) -> Result<Self> {
        let err = |span: Option<std::ops::Range<usize>>, key: Option<String>, message: String| {
            Error::Config {
                file: file.to_owned(),
                line: span.map(|s| line_of(text, s.start)),
                key,
                message,
            }
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let span = e.span();
            let key = span.clone().and_then(|s| key_at(text, s.start));
            err(span, key, e.message().trim().to_owned())
        })?;
        let root = file
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."))
            .to_owned();
        let root = std::path::absolute(&root).unwrap_or(root);

        let raw_forge = raw.forge.unwrap_or_default();
        let owner = raw_forge.owner.map(|o| {
            let span = o.span();
            (o.into_inner(), span)
        });
        // GitHub's owner charset, as in `github = "owner/name"`: a space or a slash in an owner
        // would only fail later, at the first request.
        if let Some((o, span)) = &owner
            && (o.contains('/') || format!("{o}/x").parse::<RepoId>().is_err())
        {
            return Err(err(
                Some(span.clone()),
                Some("forge.owner".into()),
                format!("invalid owner {o:?}"),
            ));
        }
        let simulate = match raw_forge.simulate {
            None => None,
            Some(s) => Some(SimulateConfig {
                ci_delay: duration_field(
                    s.ci_delay,
                    "forge.simulate.ci_delay",
                    Duration::from_secs(1),
                    &err,
                )?,
                asset_interval: duration_field(
                    s.asset_interval,
                    "forge.simulate.asset_interval",
                    Duration::from_millis(200),
                    &err,
                )?,
            }),
        };
        let api_url = match raw_forge.api_url {
            None => None,
            Some(u) => {
                let span = u.span();
                let url = u.into_inner();
                // Checked even when unused ([forge.simulate], --dry-run): the next real run uses it.
                Some(
                    validate_api_url(&url)
                        .map_err(|m| err(Some(span), Some("forge.api_url".into()), m))?,
                )
            }
        };
        let forge = ForgeConfig {
            api_url,
            owner: owner.map(|(o, _)| o),
            simulate,
        };

        let raw_release = raw.release.unwrap_or_default();
        let defaults = ReleaseConfig::default();
        let release = ReleaseConfig {
            tag: match raw_release.tag {
                None => defaults.tag,
                Some(t) => {
                    let span = t.span();
                    TagFormat::parse(t.get_ref())
                        .map_err(|e| err(Some(span), Some("release.tag".into()), e.to_string()))?
                }
            },
            poll_interval: duration_field(
                raw_release.poll_interval,
                "release.poll_interval",
                defaults.poll_interval,
                &err,
            )?,
            timeout: duration_field(
                raw_release.timeout,
                "release.timeout",
                defaults.timeout,
                &err,
            )?,
            // 0 is allowed: the first complete observation settles the wait. Meant for waits that
            // webhooks wake (`serve`), where every later change to the release is announced.
            stable_polls: in_range(
                raw_release.stable_polls,
                "release.stable_polls",
                defaults.stable_polls as i64,
                0,
                &err,
            )? as u32,
            concurrency: positive(
                raw_release.concurrency,
                "release.concurrency",
                defaults.concurrency as i64,
                &err,
            )? as usize,
        };

        let mut repos = Vec::with_capacity(raw.repo.len());
        let mut clones = ClonePaths::default();
        let mut name_spans = Vec::with_capacity(raw.repo.len());
        let mut seen = BTreeSet::new();
        for (i, raw_repo) in raw.repo.into_iter().enumerate() {
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
                None => match &forge.owner {
                    Some(owner) => RepoId::new(owner.clone(), name.clone()),
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
            let mut assets = Vec::new();
            for a in r.assets.unwrap_or_default() {
                let span = a.span();
                assets.push(
                    AssetPattern::parse(a.get_ref())
                        .map_err(|e| err(Some(span), key("assets"), e.to_string()))?,
                );
            }
            let publish = crate::publish::config::parse_repo_publish(
                crate::publish::config::RawRepoPublish {
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
                &err,
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
        let graph =
            DependencyGraph::new(repos.iter().map(|r| (r.name.clone(), r.depends_on.clone())))
                .map_err(|e| {
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
        let pipelines = crate::pipeline::config::parse_pipelines(raw.pipeline, &root, &err)?;
        let tasks = crate::tasks::config::parse_task_lists(raw.tasks, &root, &err)?;
        let publish = crate::publish::config::parse_publish(raw.publish, &root, &err)?;
        let scale = crate::scale::config::parse_scale(raw.scale, &err)?;
        let state = crate::state::config::parse_state(raw.state, &err)?;
        if let Some(from) = &publish.umbrella_version_from
            && !repos.iter().any(|r| &r.name == from)
        {
            return Err(err(
                None,
                Some("publish.umbrella_version_from".into()),
                format!("unknown repo {from:?}"),
            ));
        }
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
            serve: raw
                .serve
                .map_or_else(ServeConfig::default, |s| ServeConfig {
                    nightly: s.nightly,
                    rate_limit_floor: s.rate_limit_floor,
                }),
        })
    }

    /// The repo called `name`.
    pub fn repo(&self, name: &str) -> Option<&RepoConfig> {
        self.repos.iter().find(|r| r.name == name)
    }
}

/// Parses `250ms`, `10s`, `5m`, `1h`, `1h30m`, `2d`.
pub fn parse_duration(input: &str) -> Result<Duration> {
    let bad = || {
        Error::invalid_input(format!(
            "invalid duration {input:?}: expected a number and a unit, such as 500ms, 10s, 5m, 1h or 1h30m"
        ))
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86_400),
            _ => return Err(bad()),
        };
        total = total
            .checked_add(
                unit.checked_mul(u32::try_from(value).map_err(|_| bad())?)
                    .ok_or_else(bad)?,
            )
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

pub(crate) type ErrFn<'a> =
    dyn Fn(Option<std::ops::Range<usize>>, Option<String>, String) -> Error + 'a;

pub(crate) fn duration_field(
    value: Option<Spanned<String>>,
    key: &str,
    default: Duration,
    err: &ErrFn<'_>,
) -> Result<Duration> {
    let Some(value) = value else {
        return Ok(default);
    };
    let d = parse_duration(value.get_ref())
        .map_err(|e| err(Some(value.span()), Some(key.into()), e.to_string()))?;
    if d.is_zero() {
        return Err(err(
            Some(value.span()),
            Some(key.into()),
            format!("{:?} must be above zero", value.get_ref()),
        ));
    }
    Ok(d)
}

fn positive(value: Option<Spanned<i64>>, key: &str, default: i64, err: &ErrFn<'_>) -> Result<i64> {
    in_range(value, key, default, 1, err)
}

/// `value` (or `default` when absent) when it lies in `min..=10000`.
fn in_range(
    value: Option<Spanned<i64>>,
    key: &str,
    default: i64,
    min: i64,
    err: &ErrFn<'_>,
) -> Result<i64> {
    let Some(value) = value else {
        return Ok(default);
    };
    let v = *value.get_ref();
    if !(min..=10_000).contains(&v) {
        return Err(err(
            Some(value.span()),
            Some(key.into()),
            format!("{v} is out of range ({min} to 10000)"),
        ));
    }
    Ok(v)
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    forge: Option<RawForge>,
    release: Option<RawRelease>,
    #[serde(default)]
    repo: Vec<Spanned<RawRepo>>,
    #[serde(default)]
    pipeline: BTreeMap<String, Spanned<crate::pipeline::config::RawPipeline>>,
    #[serde(default)]
    tasks: BTreeMap<String, Vec<Spanned<crate::tasks::config::RawTask>>>,
    publish: Option<crate::publish::config::RawPublish>,
    scale: Option<crate::scale::config::RawScale>,
    state: Option<crate::state::config::RawState>,
    serve: Option<RawServe>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServe {
    nightly: Option<String>,
    rate_limit_floor: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForge {
    api_url: Option<Spanned<String>>,
    owner: Option<Spanned<String>>,
    simulate: Option<RawSimulate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSimulate {
    ci_delay: Option<Spanned<String>>,
    asset_interval: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    tag: Option<Spanned<String>>,
    poll_interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    stable_polls: Option<Spanned<i64>>,
    concurrency: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepo {
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

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[forge]
owner = "Truthdb"

[release]
tag = "v{version}"
poll_interval = "10s"
timeout = "45m"
stable_polls = 2
concurrency = 3

[[repo]]
name = "truthdb"
assets = ["truthdb-v{version}-x86_64-linux-gnu.tar.gz"]

[[repo]]
name = "installer-iso"
path = "clones/iso"
github = "Other/iso"
depends_on = ["truthdb"]
assets = ["truthdb-installer-v{version}.iso", "*.sha256"]
"#;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/work/orchestrator.toml"))
    }

    fn error_of(text: &str) -> String {
        parse(text).expect_err("must be rejected").to_string()
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
    fn loads_the_contract_keys() {
        let c = parse(GOOD).expect("valid");
        assert_eq!(c.release.poll_interval, Duration::from_secs(10));
        assert_eq!(c.release.timeout, Duration::from_secs(2700));
        assert_eq!(c.release.stable_polls, 2);
        assert_eq!(c.release.concurrency, 3);
        assert_eq!(c.repos[0].github.to_string(), "Truthdb/truthdb");
        assert_eq!(c.repos[0].path, Path::new("/work/truthdb"));
        assert_eq!(c.repos[1].path, Path::new("/work/clones/iso"));
        assert_eq!(c.repos[1].github.to_string(), "Other/iso");
        assert_eq!(
            c.graph.waves(None),
            vec![vec!["truthdb"], vec!["installer-iso"]]
        );
        let v = ReleaseVersion::parse("1.2.3").expect("valid");
        let m = c.repos[1].assets[1].for_version(&v);
        assert!(m.matches("truthdb-installer-v1.2.3.iso.sha256"));
        assert!(!m.matches("truthdb-installer-v1.2.3.iso"));
        assert!(
            c.repos[1].assets[0]
                .for_version(&v)
                .matches("truthdb-installer-v1.2.3.iso")
        );
    }

    #[test]
    fn defaults_apply() {
        let c = parse("[[repo]]\nname = \"a\"\ngithub = \"o/a\"\n").expect("valid");
        assert_eq!(c.release, ReleaseConfig::default());
        assert!(c.forge.api_url.is_none());
    }

    #[test]
    fn unknown_keys_name_file_line_and_key() {
        assert_eq!(
            error_of("[release]\npoll_interval = \"1s\"\npoll_intervall = \"2s\"\n"),
            "/work/orchestrator.toml:3: `poll_intervall`: unknown field `poll_intervall`, expected one of `tag`, `poll_interval`, `timeout`, `stable_polls`, `concurrency`"
        );
        assert!(
            error_of("[relase]\n").starts_with("/work/orchestrator.toml:1: unknown field `relase`")
        );
    }

    /// `stable_polls = 0`: a wait settles on its first complete observation (for waits that
    /// webhooks wake; every later change is announced).
    #[test]
    fn stable_polls_may_be_zero() {
        let file = Path::new("/work/orchestrator.toml");
        let config = Config::parse("[release]\nstable_polls = 0\n", file).expect("valid");
        assert_eq!(config.release.stable_polls, 0);
    }

    #[test]
    fn bad_values_name_file_line_and_key() {
        let cases = [
            (
                "[release]\npoll_interval = \"10q\"\n",
                ":2: `release.poll_interval`: invalid duration \"10q\"",
            ),
            (
                "[release]\ntimeout = \"0s\"\n",
                ":2: `release.timeout`: \"0s\" must be above zero",
            ),
            (
                "[release]\nconcurrency = 0\n",
                ":2: `release.concurrency`: 0 is out of range (1 to 10000)",
            ),
            (
                "[release]\nstable_polls = -1\n",
                ":2: `release.stable_polls`: -1 is out of range (0 to 10000)",
            ),
            (
                "[release]\ntag = \"release\"\n",
                ":2: `release.tag`: tag format \"release\" must contain {version}",
            ),
            (
                "[release]\nstable_polls = \"two\"\n",
                ":2: `stable_polls`: invalid type: string \"two\", expected i64",
            ),
            (
                "[forge]\napi_url = \"ftp://x\"\n",
                ":2: `forge.api_url`: invalid URL",
            ),
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
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"dir/x\"]\n",
                ":5: `repo[0].assets`: invalid asset pattern \"dir/x\"",
            ),
            (
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"a-{ver}.tgz\"]\n",
                ":5: `repo[0].assets`: invalid asset pattern \"a-{ver}.tgz\": the only placeholder is {version}",
            ),
            (
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"a-{VERSION}.tgz\"]\n",
                ":5: `repo[0].assets`: invalid asset pattern \"a-{VERSION}.tgz\": the only placeholder",
            ),
            (
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"a\\\\b.tgz\"]\n",
                ":5: `repo[0].assets`: invalid asset pattern \"a\\\\b.tgz\": control characters and backslashes",
            ),
            (
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\nassets = [\"a\\u0000.tgz\"]\n",
                ":5: `repo[0].assets`: invalid asset pattern \"a\\0.tgz\": control characters",
            ),
            (
                "[forge]\nowner = \"o o\"\n",
                ":2: `forge.owner`: invalid owner \"o o\"",
            ),
            (
                "[forge]\nowner = \"o\"\napi_url = \"http://exa mple\"\n[forge.simulate]\n",
                ":3: `forge.api_url`: invalid URL \"http://exa mple\": it contains whitespace",
            ),
            (
                "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\n[[repo]]\nname = \"b\"\npath = \"./x/../a\"\n",
                ":7: `repo[1].path`: repo \"b\" uses the same clone as repo \"a\"",
            ),
        ];
        for (text, expected) in cases {
            let message = error_of(text);
            assert!(
                message.starts_with(&format!("/work/orchestrator.toml{expected}")),
                "for {text:?}\n got: {message}\nwant: {expected}"
            );
        }
    }

    #[test]
    fn api_urls_need_a_scheme_and_a_host_and_never_show_credentials() {
        for good in [
            "https://api.github.com",
            "http://127.0.0.1:8080/",
            "https://ghe.example.com/api/v3",
            "http://[::1]:3000",
            "https://user:pw@ghe.example.com",
        ] {
            assert!(validate_api_url(good).is_ok(), "{good}");
        }
        assert_eq!(
            validate_api_url("http://h/api/").as_deref(),
            Ok("http://h/api")
        );
        for bad in [
            "ftp://x",
            "http://",
            "https:///path",
            "http://h:99999",
            "http://h:port",
            "http://a b",
            "http://h/\n",
            "https://[]/",
            "http://h%/",
        ] {
            assert!(validate_api_url(bad).is_err(), "{bad}");
        }
        let message = validate_api_url("https://u:s3cret@ho st/").expect_err("space");
        assert!(!message.contains("s3cret"), "{message}");
        assert!(message.contains("https://[redacted]@ho st/"), "{message}");
    }

    #[test]
    fn a_fifo_or_a_dangling_link_as_config_is_refused_saying_what_it_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("orchestrator.toml");
        std::os::unix::fs::symlink(dir.path().join("gone.toml"), &link).expect("symlink");
        let found = Config::discover(dir.path()).expect("the link counts as the config");
        let e = Config::load(&found).expect_err("dangling").to_string();
        assert!(
            e.contains("a symbolic link to") && e.contains("gone.toml, which does not exist"),
            "{e}"
        );
        let fifo = dir.path().join("fifo.toml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let e = Config::load(&fifo).expect_err("fifo").to_string();
        assert!(e.contains("a FIFO (named pipe), not a regular file"), "{e}");
        let e = Config::load(dir.path()).expect_err("directory").to_string();
        assert!(e.contains("a directory, not a regular file"), "{e}");
    }

    #[test]
    fn pipelines_and_task_lists_load() {
        let c = parse(
            r#"
[pipeline.cluster]
env_files = [{ file = "config.env" }, { file = "profiles/secrets.env", secret = true, optional = true, skip_if = "PROFILE_EXCLUSIVE" }]
timeout = "30m"
[[pipeline.cluster.apply]]
run = ["scripts/94_verify.sh", "--strict"]
when = "FEAT_VERIFY"
env = { KUBECONFIG = "${HOME}/.kube/home" }
[[pipeline.cluster.delete]]
name = "teardown"
run = ["scripts/99.sh"]
modes = ["delete"]
timeout = "5m"
workdir = "ops"

[[tasks.nightly]]
name = "infra.scale"
run = ["node", "scripts/infra.scale.mjs"]
enabled = "ENABLE_INFRA_SCALE=1"
"#,
        )
        .expect("valid");
        let p = &c.pipelines["cluster"];
        assert_eq!(p.env_files[1].path, Path::new("/work/profiles/secrets.env"));
        assert!(p.env_files[1].secret && p.env_files[1].optional);
        assert_eq!(p.timeout, Some(Duration::from_secs(1800)));
        assert_eq!(p.apply[0].name, "94_verify.sh");
        assert_eq!(p.apply[0].modes.len(), 2);
        assert_eq!(p.delete[0].name, "teardown");
        assert_eq!(p.delete[0].modes, vec![crate::engine::Mode::Delete]);
        assert_eq!(p.delete[0].workdir.as_deref(), Some(Path::new("/work/ops")));
        let t = &c.tasks["nightly"][0];
        assert_eq!(
            t.enabled.as_ref().map(ToString::to_string).as_deref(),
            Some("ENABLE_INFRA_SCALE=1")
        );
    }

    #[test]
    fn bad_pipelines_and_tasks_name_file_line_and_key() {
        let cases = [
            (
                "[pipeline.c]\n[[pipeline.c.apply]]\nrun = []\n",
                ":3: `pipeline.c.apply[0].run`: expected the command",
            ),
            (
                "[pipeline.c]\n[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nwhen = \"1X\"\n",
                ":4: `pipeline.c.apply[0].when`: invalid condition",
            ),
            (
                "[pipeline.c]\n[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nmodes = [\"undo\"]\n",
                ":4: `pipeline.c.apply[0].modes`: unknown mode \"undo\"",
            ),
            (
                "[pipeline.c]\n[[pipeline.c.apply]]\nrun = [\"a.sh\"]\n[[pipeline.c.apply]]\nrun = [\"x/a.sh\"]\n",
                ":4: `pipeline.c.apply[1].name`: step \"a.sh\" appears twice",
            ),
            (
                "[pipeline.c]\n[[pipeline.c.apply]]\nrun = [\"a.sh\"]\ntimeout = \"soon\"\n",
                ":4: `pipeline.c.apply[0].timeout`: invalid duration",
            ),
            (
                "[pipeline.c]\n[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nshell = true\n",
                ":4: `shell`: unknown field `shell`",
            ),
            (
                "[pipeline.c]\ntimeout = \"1s\"\n",
                ":1: `pipeline.c`: declares no steps",
            ),
            (
                "[[tasks.n]]\nname = \"a\"\nrun = [\"x\"]\nenabled = \"A B\"\n",
                ":4: `tasks.n[0].enabled`: invalid condition",
            ),
            (
                "[[tasks.n]]\nname = \"a\"\nrun = [\"x\"]\n[[tasks.n]]\nname = \"a\"\nrun = [\"y\"]\n",
                ":5: `tasks.n[1].name`: task \"a\" appears twice",
            ),
        ];
        for (text, expected) in cases {
            let message = error_of(text);
            assert!(
                message.starts_with(&format!("/work/orchestrator.toml{expected}")),
                "for {text:?}\n got: {message}\nwant: {expected}"
            );
        }
    }

    /// Every message the loader can give, one bad file each, pinned byte for byte: a change
    /// to where a section is parsed must not change what a user reads. Files with two problems
    /// pin which one is reported first.
    #[test]
    fn every_config_error_message_is_pinned() {
        let owner = "[forge]\nowner = \"o\"\n";
        let repo = "[forge]\nowner = \"o\"\n[[repo]]\nname = \"a\"\n";
        let cases: Vec<String> = [
            // The TOML itself and its shape (serde).
            "[release\n",
            "foo = 1\n",
            "[relase]\n",
            "release = 3\n",
            "[release]\npoll_interval = \"1s\"\npoll_intervall = \"2s\"\n",
            "[release]\nstable_polls = \"two\"\n",
            "[release]\nconcurrency = 1.5\n",
            "forge = 1\n",
            "serve = 1\n",
            "scale = 1\n",
            "state = 1\n",
            "repo = [1]\n",
            "tasks = { n = [1] }\n",
            "[pipeline.c]\nenv_files = [1]\n",
            "[pipeline.c]\napply = [1]\n",
            "[[pipeline.c.apply]]\nset = 1\n",
            "[[pipeline.c.apply]]\ncopy = 1\n",
            "[forge]\nowner = 1\n",
            "[forge]\ntoken = \"x\"\n",
            "[forge.simulate]\nci_dealy = \"1s\"\n",
            "[forge]\nsimulate = true\n",
            "[serve]\nnightly = 3\n",
            "[serve]\ncron = \"x\"\n",
            "[serve]\nrate_limit_floor = -1\n",
            "repo = 1\n",
            "[[repo]]\npath = \"x\"\n",
            "[[repo]]\nname = \"a\"\nasset = []\n",
            "[[repo]]\nname = \"a\"\nassets = \"x\"\n",
            "[[repo]]\nname = \"a\"\nworkflow_inputs = { a = 1 }\n",
            "[[repo]]\nname = \"a\"\n[[repo]]\nname = \"b\"\nfoo = 1\n",
            "pipeline = 1\n",
            "[pipeline]\nx = 1\n",
            "[pipeline.c]\nenv_files = [{ fil = \"x\" }]\n",
            "[pipeline.c]\nenv_files = [{ file = \"x\", secret = \"yes\" }]\n",
            "[[pipeline.c.apply]]\nset = { file = \"a\", key = \"b\" }\n",
            "[[pipeline.c.apply]]\ncopy = { from = \"a\", to = \"b\", mode = 1 }\n",
            "[[pipeline.c.apply]]\nrun = \"a.sh\"\n",
            "tasks = 1\n",
            "[tasks]\nn = 1\n",
            "[[tasks.n]]\nname = \"a\"\n",
            "[[tasks.n]]\nname = \"a\"\nrun = [\"x\"]\nretries = 2\n",
            "publish = 1\n",
            "[publish]\nfoo = 1\n",
            "[publish]\nconcurrency = \"4\"\n",
            "[scale]\nfoo = 1\n",
            "[scale]\nallow_self_approval = \"no\"\n",
            "[state]\nfoo = 1\n",
            "[state]\nurl = 1\n",
            // [forge]
            "[forge]\nowner = \"o o\"\n",
            "[forge]\nowner = \"o/x\"\n",
            "[forge]\nowner = \"\"\n",
            "[forge]\napi_url = \"ftp://x\"\n",
            "[forge]\napi_url = \"http://\"\n",
            "[forge]\napi_url = \"http://h:99999\"\n",
            "[forge]\napi_url = \"https://u:s3cret@ho st/\"\n",
            "[forge.simulate]\nci_delay = \"0s\"\n",
            "[forge.simulate]\nasset_interval = \"soon\"\n",
            // [release]
            "[release]\ntag = \"release\"\n",
            "[release]\npoll_interval = \"10q\"\n",
            "[release]\npoll_interval = \"\"\n",
            "[release]\ntimeout = \"0s\"\n",
            "[release]\nconcurrency = 0\n",
            "[release]\nconcurrency = 10001\n",
            "[release]\nstable_polls = -1\n",
            // [[repo]]
            "[[repo]]\nname = \"\"\n",
            "[[repo]]\nname = \"a b\"\n",
            "[[repo]]\nname = \"a\"\n",
            "[[repo]]\nname = \"a\"\ngithub = \"nope\"\n",
            &format!("{repo}[[repo]]\nname = \"a\"\n"),
            &format!("{repo}path = \" \"\n"),
            &format!("{repo}[[repo]]\nname = \"b\"\npath = \"./x/../a\"\n"),
            &format!("{repo}[[repo]]\nname = \"b\"\npath = \"a\"\n"),
            &format!("{repo}assets = [\"dir/x\"]\n"),
            &format!("{repo}assets = [\" \"]\n"),
            &format!("{repo}assets = [\"a-{{ver}}.tgz\"]\n"),
            &format!("{repo}assets = [\"a\\\\b.tgz\"]\n"),
            &format!("{repo}assets = [\"a\\u0007.tgz\"]\n"),
            &format!("{repo}assets = [\"a-[.tgz\"]\n"),
            &format!("{repo}depends_on = [\"ghost\"]\n"),
            &format!("{repo}depends_on = [\"a\"]\n"),
            &format!(
                "{repo}depends_on = [\"b\"]\n[[repo]]\nname = \"b\"\ndepends_on = [\"c\"]\n[[repo]]\nname = \"c\"\ndepends_on = [\"a\"]\n"
            ),
            // The publish keys of a [[repo]].
            &format!("{repo}manifest = \"setup.py\"\n"),
            &format!("{repo}trigger = \"push\"\n"),
            &format!("{repo}group = \"\"\n"),
            &format!("{repo}workflow = \" \"\n"),
            &format!("{repo}branch = \"\"\n"),
            &format!("{repo}event_type = \"\"\n"),
            &format!("{repo}event_type = \"{}\"\n", "e".repeat(101)),
            &format!("{repo}registry = \"a b\"\n"),
            &format!("{repo}registry = \"npm\"\nmanifest = \"Cargo.toml\"\n"),
            &format!("{repo}registry = \"crates-io\"\nmanifest = \"package.json\"\n"),
            // [pipeline.NAME]
            "[pipeline.\"a b\"]\n[[pipeline.\"a b\".apply]]\nrun = [\"x\"]\n",
            "[pipeline.c]\nenv_files = [{ file = \" \" }]\n[[pipeline.c.apply]]\nrun = [\"x\"]\n",
            "[pipeline.c]\nenv_files = [{ file = \"a.env\", skip_if = \"1X\" }]\n",
            "[pipeline.c]\ntimeout = \"soon\"\n",
            "[pipeline.c]\ntimeout = \"0s\"\n",
            "[pipeline.c]\ngrace = \"0s\"\n",
            "[pipeline.c]\ntimeout = \"1s\"\n",
            "[pipeline.c]\n[[pipeline.c.delete]]\nname = \"only-a-name\"\n",
            "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\norchestrator = [\"release\"]\n",
            "[[pipeline.c.apply]]\norchestrator = [\"rm\", \"-rf\"]\n",
            "[[pipeline.c.apply]]\norchestrator = []\n",
            "[[pipeline.c.apply]]\nrun = []\n",
            "[[pipeline.c.apply]]\nrun = [\" \"]\n",
            "[[pipeline.c.apply]]\nset = { file = \"a\", key = \"a b\", value = \"v\" }\n",
            "[[pipeline.c.apply]]\nrun = [\"a b\"]\n",
            "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nname = \"a b\"\n",
            "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\n[[pipeline.c.apply]]\nrun = [\"x/a.sh\"]\n",
            "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nwhen = \"1X\"\n",
            "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nmodes = [\"undo\"]\n",
            "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nmodes = []\n",
            "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\ntimeout = \"soon\"\n",
            "[[pipeline.c.apply]]\nrun = [\"a.sh\"]\nenv = { \"A B\" = \"x\" }\n",
            // [[tasks.LIST]]
            "[[tasks.\"a b\"]]\nname = \"a\"\nrun = [\"x\"]\n",
            "[[tasks.n]]\nname = \"a b\"\nrun = [\"x\"]\n",
            "[[tasks.n]]\nname = \"a\"\nrun = [\"x\"]\n[[tasks.n]]\nname = \"a\"\nrun = [\"y\"]\n",
            "[[tasks.n]]\nname = \"a\"\nrun = []\n",
            "[[tasks.n]]\nname = \"a\"\nrun = [\"x\"]\nenabled = \"A B\"\n",
            "[[tasks.n]]\nname = \"a\"\nrun = [\"x\"]\nenv = { \"1A\" = \"x\" }\n",
            "[[tasks.n]]\nname = \"a\"\nrun = [\"x\"]\ntimeout = \"0s\"\n",
            // [publish]
            "[publish]\numbrella_tag = \"x\"\n",
            "[publish]\numbrella_repo = \"x\"\n",
            "[publish]\nnightly_tag = \"nightly\"\n",
            "[publish]\nconcurrency = 0\n",
            "[publish]\ncoordination_commit = \"maybe\"\n",
            "[publish]\ndependency_range = \"loose\"\n",
            "[publish]\nbreaking_on_0x = \"patch\"\n",
            "[publish]\nnpm_registry = \"ftp://r\"\n",
            "[publish]\numbrella_version_from = \"ghost\"\n",
            // [scale]
            "[scale]\napprovers = [\"a b\"]\n",
            "[scale]\napprovers = []\n",
            "[scale]\nbot_logins = []\n",
            "[scale]\nbot_logins = [\"[bot]\"]\n",
            "[scale]\nmin_permission = \"read\"\n",
            "[scale]\napply_requirements = [\"green\"]\n",
            "[scale]\nemergency_rollback = []\n",
            "[scale]\nwait_for_rollout = false\nrollout_timeout = \"1m\"\n",
            "[scale]\nrollout_timeout = \"later\"\n",
            // [state]
            "[state]\nurl = \"mysql://x\"\n",
            "[state]\nurl = \"postgres://u:s3cret@h/db?sslmode=require\"\n",
            "[state]\nurl = \"postgres://u:s3cret@h/db?bogus=1\"\n",
            // Two problems: the first section in reading order is reported.
            "[release]\ntimeout = \"0s\"\n[forge]\nowner = \"o o\"\n",
            "[state]\nurl = \"mysql://x\"\n[scale]\napprovers = []\n",
            "[scale]\napprovers = []\n[publish]\nconcurrency = 0\n",
            "[publish]\numbrella_version_from = \"ghost\"\n[state]\nurl = \"mysql://x\"\n",
            "[[tasks.n]]\nname = \"a\"\nrun = []\n[[pipeline.c.apply]]\nrun = []\n",
            &format!("[[pipeline.c.apply]]\nrun = []\n{repo}trigger = \"push\"\n"),
            "[[repo]]\nname = \"a\"\n[release]\ntag = \"x\"\n",
            &format!("{owner}[[repo]]\nname = \"a\"\ndepends_on = [\"ghost\"]\n[[repo]]\nname = \"b b\"\n"),
        ]
        .iter()
        .map(|text| format!("{text}=> {}\n", error_of(text)))
        .collect();
        insta::assert_snapshot!(cases.join("\n"));
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("250ms").expect("valid"),
            Duration::from_millis(250)
        );
        assert_eq!(
            parse_duration("1h30m").expect("valid"),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_duration("2d").expect("valid"),
            Duration::from_secs(172_800)
        );
        for bad in ["", "10", "s", "1.5s", "-1s", "10 s", "5x"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
