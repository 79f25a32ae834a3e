//! Builds the library's backends from the config and the environment: the config file, the
//! state directory, and the [`Workspace`] every command runs through (gix clones, GitHub through
//! octocrab, progress on stderr, the reliability harness's fault injection). No policy lives
//! here: locking, credentials, resume and cancellation are the workspace's.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use orchestrator_core::Error;
use orchestrator_core::config::Config;
use orchestrator_core::forge::Forge;
use orchestrator_core::secret::SecretString;
use orchestrator_core::state::StateStore;
use orchestrator_core::workspace::{AppCredential, ForgeConnector, Workspace, WorkspaceBuilder};
use orchestrator_git::GixVcs;
use orchestrator_github::GitHubForge;

use crate::args::{Global, OutputFormat};

/// `--state-dir` / `ORCHESTRATOR_STATE_DIR`, made absolute once at start-up. A process has one
/// state directory; holding it here rather than in every call's arguments keeps each command's
/// `state_dir(&config)` call the single place that decides it.
static STATE_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Sets the state directory chosen on the command line or in the environment; a relative path
/// resolves against the current directory, so a command that later changes directory (or a
/// `--config` elsewhere) still finds the same one.
pub(crate) fn set_state_dir(dir: &Path) -> Result<(), Error> {
    let dir = if dir.is_absolute() {
        dir.to_owned()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::io("reading the current directory", e))?
            .join(dir)
    };
    // Set once, from main, before any command runs; a second call would be a bug, and the first
    // value stays.
    let _ = STATE_DIR.set(dir);
    Ok(())
}

/// The state directory: `--state-dir` when given, else `.orchestrator` beside the config file.
pub(crate) fn state_dir(config: &Config) -> PathBuf {
    STATE_DIR
        .get()
        .cloned()
        .unwrap_or_else(|| config.root.join(".orchestrator"))
}

/// Loads `--config` or the discovered `orchestrator.toml`.
pub(crate) fn load_config(global: &Global) -> Result<Config, Error> {
    let file = match &global.config {
        Some(file) => file.clone(),
        None => {
            let cwd = std::env::current_dir()
                .map_err(|e| Error::io("reading the current directory", e))?;
            Config::discover(&cwd)?
        }
    };
    with_forge_url(Config::load(&file)?, global)
}

/// `config` with `--forge-url` / `ORCHESTRATOR_FORGE_URL` over its `[forge] api_url`.
fn with_forge_url(mut config: Config, global: &Global) -> Result<Config, Error> {
    if let Some(url) = &global.forge_url {
        let url = orchestrator_core::config::validate_api_url(url).map_err(|m| {
            Error::invalid_input(format!("--forge-url / ORCHESTRATOR_FORGE_URL: {m}"))
        })?;
        config.forge.api_url = Some(url);
    }
    Ok(config)
}

/// Operator notices go to stderr as they are (whatever the output format).
fn notices() -> orchestrator_core::workspace::Notices {
    Arc::new(|line: &str| eprintln!("{line}"))
}

/// The session of every command: the config's workspace, with the state directory chosen here,
/// clones read by gix, GitHub reached at `[forge] api_url` (or simulated), the fault injection
/// of the reliability harness, and progress on stderr when `human`.
pub(crate) fn workspace(config: Config, human: bool) -> Result<Workspace, Error> {
    Ok(workspace_builder(config, human)?.build())
}

/// [`workspace`], before it is built (the demo gives it its own forge).
pub(crate) fn workspace_builder(config: Config, human: bool) -> Result<WorkspaceBuilder, Error> {
    let dir = state_dir(&config);
    let mut builder = Workspace::builder(config)
        .state_dir(dir)?
        .vcs(Arc::new(GixVcs::new()))
        .forge_connector(Arc::new(GitHubConnector))
        .notices(notices())
        .store_layer(Arc::new(fault_injection));
    if human {
        builder = builder.observer(crate::progress::for_stderr());
    }
    Ok(builder)
}

/// The workspace of commands that work without a config (`scale`, `pr-command`): the config's
/// when there is one (a config that exists must be valid: it may hold an approval policy),
/// else an empty one for the current directory, whose state lives in `./.orchestrator`.
pub(crate) fn optional_workspace(global: &Global) -> anyhow::Result<Workspace> {
    let config = match load_optional_config(global)? {
        Some(config) => config,
        None => {
            let cwd = std::env::current_dir().context("reading the current directory")?;
            with_forge_url(Config::parse("", &cwd.join("orchestrator.toml"))?, global)?
        }
    };
    Ok(workspace(config, global.output == OutputFormat::Human)?)
}

/// GitHub (or GitHub Enterprise, or the mock server) through octocrab.
struct GitHubConnector;

impl ForgeConnector for GitHubConnector {
    fn connect(&self, api_url: &str, token: Option<SecretString>) -> Result<Arc<dyn Forge>, Error> {
        Ok(Arc::new(
            GitHubForge::builder()
                .api_url(api_url)
                .token(token)
                .build()?,
        ))
    }

    fn connect_app(&self, api_url: &str, app: &AppCredential) -> Result<Arc<dyn Forge>, Error> {
        // The key is parsed here: a bad one is refused before any request.
        let app =
            orchestrator_github::GitHubApp::new(app.app_id, &app.private_key, app.installation_id)?;
        Ok(Arc::new(
            GitHubForge::builder().api_url(api_url).app(app).build()?,
        ))
    }
}

/// `--config`, else the discovered `orchestrator.toml`, else `None` (for commands that work without
/// one). A config that exists must be valid: a broken one is an error, never silently ignored
/// (it may hold an approval policy).
pub(crate) fn load_optional_config(global: &Global) -> Result<Option<Config>, Error> {
    if global.config.is_none() {
        let cwd =
            std::env::current_dir().map_err(|e| Error::io("reading the current directory", e))?;
        if Config::discover(&cwd).is_err() {
            return Ok(None);
        }
    }
    load_config(global).map(Some)
}

/// `store`, wrapped by the fault injection [`KILL_AT_JOURNAL_WRITE`] asks for.
fn fault_injection(store: Arc<dyn StateStore>) -> Result<Arc<dyn StateStore>, Error> {
    let Ok(k) = std::env::var(KILL_AT_JOURNAL_WRITE) else {
        return Ok(store);
    };
    let k = k.trim().parse().map_err(|_| {
        Error::invalid_input(format!("{KILL_AT_JOURNAL_WRITE}={k:?}: expected a number"))
    })?;
    let signal = match std::env::var(FAULT_SIGNAL).as_deref() {
        Err(_) | Ok("KILL") => crash::Signal::Kill,
        Ok("TERM") => crash::Signal::Term,
        Ok(other) => {
            return Err(Error::invalid_input(format!(
                "{FAULT_SIGNAL}={other:?}: expected KILL or TERM"
            )));
        }
    };
    Ok(Arc::new(crash::kill_at_journal_write(store, k, signal)))
}

/// Fault injection for the reliability harness: the process kills itself (SIGKILL) just before
/// its k-th journal write, the harshest crash there is. Documented in RELIABILITY.md.
pub(crate) const KILL_AT_JOURNAL_WRITE: &str = "ORCHESTRATOR_FAULT_KILL_AT_JOURNAL_WRITE";

/// With [`KILL_AT_JOURNAL_WRITE`]: `TERM` sends SIGTERM instead (what CI runners, systemd and
/// Kubernetes send), waits until the process has acted on it, then lets the write and the run
/// go on, so the run must stop itself cleanly.
pub(crate) const FAULT_SIGNAL: &str = "ORCHESTRATOR_FAULT_SIGNAL";

mod crash {
    use std::sync::Arc;

    use orchestrator_core::state::{Fault, FaultyStateStore, StateStore};

    /// The signal sent at the chosen write.
    #[derive(Debug, Clone, Copy)]
    pub(super) enum Signal {
        /// SIGKILL: the process dies before the write.
        Kill,
        /// SIGTERM: the process handles it, then the write and the run go on.
        Term,
    }

    /// Passes everything through, but signals the process at its k-th append (core's one
    /// fault-injecting wrapper, with the signal as its hook).
    pub(super) fn kill_at_journal_write(
        inner: Arc<dyn StateStore>,
        kill_at: usize,
        signal: Signal,
    ) -> FaultyStateStore {
        let hook = move || {
            let pid = std::process::id().to_string();
            match signal {
                Signal::Kill => {
                    let _ = std::process::Command::new("kill")
                        .args(["-KILL", &pid])
                        .status();
                    std::process::abort();
                }
                Signal::Term => {
                    let _ = std::process::Command::new("kill")
                        .args(["-TERM", &pid])
                        .status();
                    // Delivery is asynchronous: wait (bounded) until the handler has run, so
                    // the point at which the run learns of it is the chosen write.
                    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
                    while !orchestrator_core::workspace::signals::stop_requested()
                        && std::time::Instant::now() < until
                    {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
            }
        };
        FaultyStateStore::new(inner, Fault::HookAtAppend(kill_at, Arc::new(hook)))
    }
}

/// The forge as messages name it: its API URL without any `user:password@`, or the simulation.
pub(crate) fn forge_label(config: &Config) -> String {
    orchestrator_core::workspace::forge_label(config)
}
