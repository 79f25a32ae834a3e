//! Package registries: where a repo's packages are installed from (`[[repo]] registry`), when a
//! released version is *installable* there, and how a dependent's lockfile follows it.
//!
//! A release whose CI published to crates.io or npm is not usable the moment its tag exists: the
//! index or packument lags, and a dependent bumped before it appears gets a lockfile that no
//! `cargo build --locked` or `npm ci` can satisfy. So before a dependent is bumped, its `available`
//! step waits until each released upstream version is served by its registry, and its `bump` step
//! then updates the lockfile with the ecosystem's own tool and verifies it.
//!
//! Every registry operation goes through the ecosystem's client (`cargo`, `npm`), never our own
//! HTTP: the user's registry configuration, credentials, proxies and TLS roots apply unchanged, and
//! tokens stay in the files and variables those tools read (we never read or print them; command
//! output is masked for any token-like variable of the environment all the same).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::manifest::ManifestKind;
use crate::error::{Error, Result};
use crate::pipeline::command::{CommandSpec, run_command_scanned};
use crate::redact::Redactor;
use crate::step::StepContext;

/// crates.io's sparse index.
pub const CRATES_IO_INDEX: &str = "sparse+https://index.crates.io/";
/// The public npm registry.
pub const NPM_DEFAULT_REGISTRY: &str = "https://registry.npmjs.org/";

/// How long one registry command may run before it is stopped (a probe or a lockfile update;
/// the overall wait has its own deadline).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// Where a repo's packages are published (`[[repo]] registry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Registry {
    /// `"crates-io"`.
    CratesIo,
    /// `"npm"`: `[publish] npm_registry`, else npm's configured registry.
    Npm,
    /// Any other name: a Cargo alternative registry, resolved as Cargo resolves it.
    Cargo(String),
}

impl Registry {
    /// Parses the `registry` key: `crates-io`, `npm` or an alternative registry's name (letters,
    /// digits, `-`, `_`, as Cargo allows).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "crates-io" => Some(Self::CratesIo),
            "npm" => Some(Self::Npm),
            other
                if !other.is_empty()
                    && other
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                Some(Self::Cargo(other.to_owned()))
            }
            _ => None,
        }
    }

    /// The ecosystem whose manifests depend on it.
    pub fn ecosystem(&self) -> ManifestKind {
        match self {
            Self::Npm => ManifestKind::Npm,
            Self::CratesIo | Self::Cargo(_) => ManifestKind::Cargo,
        }
    }

    /// The name as configured.
    pub fn name(&self) -> &str {
        match self {
            Self::CratesIo => "crates-io",
            Self::Npm => "npm",
            Self::Cargo(name) => name,
        }
    }
}

/// The npm registry URL: `[publish] npm_registry`, else `npm_config_registry` from the
/// environment (as npm reads it), else the public registry.
pub fn npm_registry_url(configured: Option<&str>) -> String {
    configured
        .map(str::to_owned)
        .or_else(|| {
            ["npm_config_registry", "NPM_CONFIG_REGISTRY"]
                .iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        })
        .unwrap_or_else(|| NPM_DEFAULT_REGISTRY.to_owned())
}

/// The index URL of Cargo registry `name`, found as Cargo finds it:
/// `CARGO_REGISTRIES_<NAME>_INDEX`, then `[registries.<name>] index` in `.cargo/config.toml` of
/// `dir` and each ancestor, then in `$CARGO_HOME/config.toml`. `None` when nothing names it.
pub fn cargo_registry_index(name: &str, dir: &Path) -> Option<String> {
    if name == "crates-io" {
        return Some(CRATES_IO_INDEX.to_owned());
    }
    let var = format!(
        "CARGO_REGISTRIES_{}_INDEX",
        name.to_ascii_uppercase().replace('-', "_")
    );
    if let Ok(v) = std::env::var(var)
        && !v.is_empty()
    {
        return Some(v);
    }
    let mut files: Vec<PathBuf> = dir
        .ancestors()
        .flat_map(|d| [d.join(".cargo/config.toml"), d.join(".cargo/config")])
        .collect();
    if let Some(home) = cargo_home() {
        files.push(home.join("config.toml"));
        files.push(home.join("config"));
    }
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .find_map(|text| index_in_cargo_config(&text, name))
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// `[registries.<name>] index` of one Cargo config file (an unreadable file names nothing).
pub fn index_in_cargo_config(text: &str, name: &str) -> Option<String> {
    let doc: toml::Table = text.parse().ok()?;
    doc.get("registries")?
        .get(name)?
        .get("index")?
        .as_str()
        .map(str::to_owned)
}

/// One registry as a run uses it: its kind and its resolved URL (for messages and npm's
/// `--registry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRegistry {
    /// The configured registry.
    pub registry: Registry,
    /// Its index (Cargo) or registry (npm) URL.
    pub url: String,
}

impl ResolvedRegistry {
    /// Resolves `registry` for a clone at `dir`; an alternative registry nothing names is an
    /// error naming it.
    pub fn resolve(registry: &Registry, dir: &Path, npm_registry: Option<&str>) -> Result<Self> {
        let url = match registry {
            Registry::Npm => npm_registry_url(npm_registry),
            Registry::CratesIo => CRATES_IO_INDEX.to_owned(),
            Registry::Cargo(name) => cargo_registry_index(name, dir).ok_or_else(|| {
                Error::invalid_input(format!(
                    "registry {name:?} is not defined: set CARGO_REGISTRIES_{}_INDEX or \
                     [registries.{name}] index in a .cargo/config.toml",
                    name.to_ascii_uppercase().replace('-', "_")
                ))
            })?,
        };
        Ok(Self {
            registry: registry.clone(),
            url,
        })
    }

    /// The command that answers whether `package` `version` is installable: `cargo info` reads
    /// the (sparse) index entry, `npm view` the packument's `versions`.
    fn probe_command(&self, package: &str, version: &str, dir: &Path) -> CommandSpec {
        match self.registry {
            Registry::Npm => tool(
                "npm",
                &[
                    "view",
                    &format!("{package}@{version}"),
                    "version",
                    "--json",
                    "--prefer-online",
                    "--registry",
                    &self.url,
                ],
                dir,
            ),
            Registry::CratesIo | Registry::Cargo(_) => tool(
                "cargo",
                &[
                    "info",
                    "--quiet",
                    "--registry",
                    self.registry.name(),
                    &format!("{package}@{version}"),
                ],
                dir,
            ),
        }
    }

    /// Whether `package` `version` is installable now. `Ok(Err(detail))`: not yet (the tool's
    /// last line says why); `Err`: the tool could not be run at all.
    pub async fn installable(
        &self,
        package: &str,
        version: &str,
        dir: &Path,
        ctx: &StepContext,
    ) -> Result<std::result::Result<(), String>> {
        let spec = self.probe_command(package, version, dir);
        let mut lines = Vec::new();
        let outcome = run_command_scanned(&spec, ctx, &mut |l: &str| lines.push(l.to_owned()))
            .await
            .map_err(|e| match e {
                Error::Io { .. } => Error::invalid_input(format!(
                    "cannot run {} to query registry {}: {e}",
                    spec.program.display(),
                    self.url
                )),
                other => other,
            })?;
        let found = match self.registry {
            // `npm view` of a missing version prints nothing and exits 0.
            Registry::Npm => {
                outcome.success()
                    && lines
                        .iter()
                        .any(|l| l.trim().trim_matches('"') == version.trim())
            }
            Registry::CratesIo | Registry::Cargo(_) => outcome.success(),
        };
        if found {
            Ok(Ok(()))
        } else {
            Ok(Err(lines
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map_or_else(
                    || outcome.status_text(spec.timeout),
                    |l| l.trim().to_owned(),
                )))
        }
    }
}

/// An upstream version a dependent waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitedVersion {
    /// The upstream repo.
    pub repo: String,
    /// The package name in its registry.
    pub package: String,
    /// The version.
    pub version: String,
    /// Where it must appear.
    pub registry: ResolvedRegistry,
}

impl std::fmt::Display for AwaitedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}@{} on {}",
            self.package, self.version, self.registry.url
        )
    }
}

/// The awaited versions not installable yet, each with the registry tool's last word.
pub async fn missing_versions(
    awaited: &[AwaitedVersion],
    dir: &Path,
    ctx: &StepContext,
) -> Result<Vec<(String, String)>> {
    let mut missing = Vec::new();
    for a in awaited {
        if let Err(detail) = a
            .registry
            .installable(&a.package, &a.version, dir, ctx)
            .await?
        {
            missing.push((a.to_string(), detail));
        }
    }
    Ok(missing)
}

/// Polls until every awaited version is installable (its registry's client run in `dir`), every
/// `poll_interval`, with progress, until `timeout`: then [`Error::Timeout`] naming each missing
/// `package@version on URL` and why (for `dependent`). Returns how long it waited.
pub async fn wait_installable(
    dependent: &str,
    awaited: &[AwaitedVersion],
    dir: &Path,
    poll_interval: Duration,
    timeout: Duration,
    ctx: &StepContext,
) -> Result<Duration> {
    let started = std::time::Instant::now();
    loop {
        let missing = missing_versions(awaited, dir, ctx).await?;
        if missing.is_empty() {
            return Ok(started.elapsed());
        }
        if started.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: format!("{dependent}'s dependencies to be installable"),
                missing: missing
                    .into_iter()
                    .map(|(what, detail)| format!("{what} ({detail})"))
                    .collect(),
                waited: started.elapsed(),
            });
        }
        ctx.progress(format!(
            "waiting for {}",
            missing
                .iter()
                .map(|(what, _)| what.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        ctx.sleep(poll_interval.min(timeout.saturating_sub(started.elapsed())))
            .await?;
    }
}

/// `program args…` in `dir` with this process's environment, token-like variables masked in
/// its output.
pub(crate) fn tool(program: &str, args: &[&str], dir: &Path) -> CommandSpec {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let secrets: Vec<String> = env
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_uppercase();
            ["TOKEN", "AUTH", "PASSWORD", "SECRET"]
                .iter()
                .any(|s| k.contains(s))
        })
        .map(|(_, v)| v.clone())
        .collect();
    CommandSpec {
        program: PathBuf::from(program),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env,
        workdir: dir.to_owned(),
        timeout: Some(COMMAND_TIMEOUT),
        grace: Duration::from_secs(5),
        redactor: Arc::new(Redactor::new(secrets)),
    }
}

/// Runs `spec`; a failure is an error naming the command, its status and its last lines.
pub(crate) async fn run_tool(spec: &CommandSpec, ctx: &StepContext) -> Result<()> {
    let outcome = run_command_scanned(spec, ctx, &mut |_: &str| {}).await?;
    if outcome.success() {
        Ok(())
    } else {
        Err(outcome.error(spec))
    }
}

/// The lockfile next to a manifest that its ecosystem's tool maintains: `Cargo.lock` in the
/// manifest's directory or an ancestor inside the clone (a workspace's), `package-lock.json`
/// beside `package.json`. `None`: the package commits no lockfile.
pub fn lockfile_of(kind: ManifestKind, manifest: &Path, clone: &Path) -> Option<PathBuf> {
    let dir = manifest.parent()?;
    match kind {
        ManifestKind::Npm => Some(dir.join("package-lock.json")).filter(|p| p.is_file()),
        ManifestKind::Cargo => dir
            .ancestors()
            .take_while(|d| d.starts_with(clone))
            .map(|d| d.join("Cargo.lock"))
            .find(|p| p.is_file()),
    }
}

/// The released packages a `Cargo.lock` locks from a registry (path and git dependencies are
/// re-read from their source on every resolve and take no `--precise`), in the given order.
pub fn registry_locked<'a>(
    lockfile: &str,
    released: &'a [(String, String)],
) -> Vec<&'a (String, String)> {
    let from_registry: std::collections::BTreeSet<String> = lockfile
        .parse::<toml::Table>()
        .ok()
        .and_then(|doc| doc.get("package").and_then(|p| p.as_array()).cloned())
        .unwrap_or_default()
        .iter()
        .filter(|p| {
            p.get("source")
                .and_then(|s| s.as_str())
                .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"))
        })
        .filter_map(|p| p.get("name").and_then(|n| n.as_str()).map(str::to_owned))
        .collect();
    released
        .iter()
        .filter(|(name, _)| from_registry.contains(name))
        .collect()
}

/// Brings the lockfile of `manifest` (already rewritten on disk) in line with it, with the
/// ecosystem's own tool, then verifies it the way a `--locked` build or `npm ci` will:
/// Cargo: `cargo update -p NAME --precise V` for each released dependency it locks, then
/// `cargo update --workspace` (its own new version), verified by `cargo metadata --locked`;
/// npm: `npm install --package-lock-only`, verified by `npm ci --dry-run`.
pub async fn update_lockfile(
    kind: ManifestKind,
    manifest: &Path,
    lockfile: &Path,
    released: &[(String, String)],
    npm_registry: &str,
    ctx: &StepContext,
) -> Result<()> {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let manifest_arg = manifest.to_string_lossy().into_owned();
    match kind {
        ManifestKind::Cargo => {
            let locked = std::fs::read_to_string(lockfile)
                .map_err(|e| Error::io(format!("reading {}", lockfile.display()), e))?;
            for (package, version) in registry_locked(&locked, released) {
                ctx.progress(format!("locking {package} {version}"));
                run_tool(
                    &tool(
                        "cargo",
                        &[
                            "update",
                            "--manifest-path",
                            &manifest_arg,
                            "-p",
                            package,
                            "--precise",
                            version,
                        ],
                        dir,
                    ),
                    ctx,
                )
                .await?;
            }
            run_tool(
                &tool(
                    "cargo",
                    &["update", "--manifest-path", &manifest_arg, "--workspace"],
                    dir,
                ),
                ctx,
            )
            .await?;
            ctx.progress(format!("verifying {}", lockfile.display()));
            run_tool(
                &tool(
                    "cargo",
                    &[
                        "metadata",
                        "--locked",
                        "--format-version",
                        "1",
                        "--manifest-path",
                        &manifest_arg,
                    ],
                    dir,
                ),
                ctx,
            )
            .await
        }
        ManifestKind::Npm => {
            let common = [
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--prefer-online",
                "--registry",
                npm_registry,
            ];
            let mut install = vec!["install", "--package-lock-only"];
            install.extend(common);
            ctx.progress(format!("updating {}", lockfile.display()));
            run_tool(&tool("npm", &install, dir), ctx).await?;
            let mut verify = vec!["ci", "--dry-run"];
            verify.extend(common);
            ctx.progress(format!("verifying {}", lockfile.display()));
            run_tool(&tool("npm", &verify, dir), ctx).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version its registry never serves: the wait ends at the deadline with an error naming
    /// the package, the version and the registry URL (cargo reads the index; here a git index
    /// that holds nothing, defined in the clone's `.cargo/config.toml`).
    #[tokio::test]
    async fn a_never_served_version_times_out_naming_registry_and_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = dir.path().join("empty-index");
        std::fs::create_dir_all(&index).expect("index dir");
        let url = format!("file://{}", index.display());
        std::fs::create_dir_all(dir.path().join(".cargo")).expect("dirs");
        std::fs::write(
            dir.path().join(".cargo/config.toml"),
            format!("[registries.empty-loop]\nindex = \"{url}\"\n"),
        )
        .expect("write");
        let registry =
            ResolvedRegistry::resolve(&Registry::Cargo("empty-loop".into()), dir.path(), None)
                .expect("resolves");
        assert_eq!(registry.url, url);
        let awaited = [AwaitedVersion {
            repo: "up".into(),
            package: "up-crate".into(),
            version: "0.5.0".into(),
            registry,
        }];
        let ctx = StepContext::new(
            "available:down",
            Arc::new(crate::engine::SilentObserver),
            crate::engine::CancelToken::new(),
        );
        let err = wait_installable(
            "down",
            &awaited,
            dir.path(),
            Duration::from_millis(20),
            Duration::from_millis(100),
            &ctx,
        )
        .await
        .expect_err("never served");
        let text = err.to_string();
        assert!(matches!(err, Error::Timeout { .. }), "{text}");
        assert!(
            text.contains(&format!("up-crate@0.5.0 on {url}")) && text.contains("down"),
            "{text}"
        );
    }

    #[test]
    fn parses_registry_names() {
        assert_eq!(Registry::parse("crates-io"), Some(Registry::CratesIo));
        assert_eq!(Registry::parse("npm"), Some(Registry::Npm));
        assert_eq!(
            Registry::parse("my_corp-1"),
            Some(Registry::Cargo("my_corp-1".into()))
        );
        assert_eq!(Registry::parse(""), None);
        assert_eq!(Registry::parse("has space"), None);
        assert_eq!(Registry::parse("a/b"), None);
    }

    #[test]
    fn reads_an_index_from_a_cargo_config() {
        let text = "[registries.loop]\nindex = \"sparse+http://127.0.0.1:1/\"\n";
        assert_eq!(
            index_in_cargo_config(text, "loop").as_deref(),
            Some("sparse+http://127.0.0.1:1/")
        );
        assert_eq!(index_in_cargo_config(text, "other"), None);
        assert_eq!(index_in_cargo_config("not toml [", "loop"), None);
    }

    #[test]
    fn finds_an_alternative_registry_in_a_clone_cargo_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let nested = dir.path().join("crate/src");
        std::fs::create_dir_all(&nested).expect("dirs");
        std::fs::create_dir_all(dir.path().join(".cargo")).expect("dirs");
        std::fs::write(
            dir.path().join(".cargo/config.toml"),
            "[registries.in-clone-only]\nindex = \"sparse+http://127.0.0.1:9/index/\"\n",
        )
        .expect("write");
        assert_eq!(
            cargo_registry_index("in-clone-only", &nested).as_deref(),
            Some("sparse+http://127.0.0.1:9/index/")
        );
        let missing = ResolvedRegistry::resolve(
            &Registry::Cargo("nowhere-defined-xyz".into()),
            &nested,
            None,
        )
        .expect_err("undefined");
        assert!(
            missing
                .to_string()
                .contains("CARGO_REGISTRIES_NOWHERE_DEFINED_XYZ_INDEX"),
            "{missing}"
        );
    }

    #[test]
    fn only_registry_packages_are_locked_precisely() {
        let lock = r#"
version = 4

[[package]]
name = "from-registry"
version = "0.4.2"
source = "registry+file:///tmp/index"

[[package]]
name = "from-sparse"
version = "1.0.0"
source = "sparse+http://127.0.0.1:1/index/"

[[package]]
name = "by-path"
version = "0.4.0"

[[package]]
name = "by-git"
version = "0.1.0"
source = "git+https://example.invalid/by-git#0123"
"#;
        let released: Vec<(String, String)> = [
            "by-path",
            "from-sparse",
            "by-git",
            "not-locked",
            "from-registry",
        ]
        .iter()
        .map(|n| ((*n).to_owned(), "9.9.9".to_owned()))
        .collect();
        let names: Vec<&str> = registry_locked(lock, &released)
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names, ["from-sparse", "from-registry"]);
    }

    #[test]
    fn finds_the_lockfile_a_tool_maintains() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clone = dir.path().join("clone");
        std::fs::create_dir_all(clone.join("member")).expect("dirs");
        std::fs::write(clone.join("Cargo.lock"), "").expect("lock");
        // A lockfile above the clone is not the clone's.
        std::fs::write(dir.path().join("Cargo.lock"), "").expect("lock");
        assert_eq!(
            lockfile_of(
                ManifestKind::Cargo,
                &clone.join("member/Cargo.toml"),
                &clone
            ),
            Some(clone.join("Cargo.lock"))
        );
        std::fs::remove_file(clone.join("Cargo.lock")).expect("rm");
        assert_eq!(
            lockfile_of(
                ManifestKind::Cargo,
                &clone.join("member/Cargo.toml"),
                &clone
            ),
            None
        );
        assert_eq!(
            lockfile_of(ManifestKind::Npm, &clone.join("package.json"), &clone),
            None
        );
    }
}
