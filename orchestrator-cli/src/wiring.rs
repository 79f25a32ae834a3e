//! Builds the library's backends from the config and the environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use orchestrator_core::Error;
use orchestrator_core::config::Config;
use orchestrator_core::forge::{CiSimulation, Forge, InMemoryForge};
use orchestrator_core::secret::SecretString;
use orchestrator_core::state::{
    Holder, MemoryStateStore, PgStateStore, SqliteStateStore, StateStore,
};
use orchestrator_core::vcs::Vcs;
use orchestrator_github::GitHubForge;

use crate::args::Global;

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

/// The state directory for commands that may run without a config: `--state-dir` when given,
/// else beside the config when there is one, else `./.orchestrator`.
pub(crate) fn state_dir_or_cwd(config: Option<&Config>) -> PathBuf {
    match (STATE_DIR.get(), config) {
        (Some(dir), _) => dir.clone(),
        (None, Some(config)) => state_dir(config),
        (None, None) => PathBuf::from(".orchestrator"),
    }
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
    let mut config = Config::load(&file)?;
    if let Some(url) = &global.forge_url {
        let url = orchestrator_core::config::validate_api_url(url).map_err(|m| {
            Error::invalid_input(format!("--forge-url / ORCHESTRATOR_FORGE_URL: {m}"))
        })?;
        config.forge.api_url = Some(url);
    }
    Ok(config)
}

/// Takes the workspace lock in `state_dir` for `holder`. A lock a killed run left behind is taken
/// over, and said on stderr, so the next scheduled run's log points at what continues it.
pub(crate) fn lock_workspace(
    state_dir: &std::path::Path,
    holder: &str,
) -> Result<orchestrator_core::state::WorkspaceLock, Error> {
    let lock = orchestrator_core::state::WorkspaceLock::acquire(state_dir, holder)?;
    if let Some(previous) = lock.recovered() {
        let journal = if state_dir.join("state.db").is_file() {
            "its journal is intact and --resume continues it"
        } else {
            // Someone deleted the database: claiming the journal survived would be a lie.
            "its state database is gone, so nothing of it can be resumed"
        };
        eprintln!(
            "note: took over the workspace lock from a run that ended without releasing it ({previous}); {journal}"
        );
    }
    Ok(lock)
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

/// The state store: SQLite in the state directory ([`state_dir`]), or the PostgreSQL database of
/// `ORCHESTRATOR_STATE_URL` / `[state] url`. A dry run never creates or changes it: it reads an
/// existing one read-only (to show what a resume would skip) or uses an empty in-memory store. On
/// PostgreSQL a writing store also holds the shared workspace lock (an advisory lock of its
/// session) until it is dropped: one runner at a time on the database, whatever its machine.
pub(crate) async fn open_store(
    config: &Config,
    dry_run: bool,
) -> anyhow::Result<Arc<dyn StateStore>> {
    let dir = state_dir(config);
    let db = dir.join("state.db");
    if let Some(url) = config.state.effective_url()? {
        if dry_run {
            return Ok(match PgStateStore::connect_read_only(&url).await? {
                Some(store) => Arc::new(store),
                None => Arc::new(MemoryStateStore::default()),
            });
        }
        let store = PgStateStore::connect(&url).await?;
        if !inherits_shared_lock(&store).await? {
            let guard = store
                .lock_workspace(&Holder::current(command_name()))
                .await?;
            store.hold(guard);
        }
        return with_fault_injection(Arc::new(store));
    }
    if dry_run {
        // Read-only: works in a read-only state directory and never creates a file.
        return Ok(if db.exists() {
            Arc::new(SqliteStateStore::open_read_only(&db)?)
        } else {
            Arc::new(MemoryStateStore::default())
        });
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let store: Arc<dyn StateStore> = Arc::new(SqliteStateStore::open(&db)?);
    with_fault_injection(store)
}

/// A pipeline's capability step (`orchestrator = ["release", ...]`) runs under the lock of its
/// parent `orchestrator run`, which names it in `ORCHESTRATOR_INHERITED_LOCK`: on PostgreSQL the
/// child accepts it only when the database records the parent process (this host, the parent's
/// pid) as the holder of the lock, as the file lock does.
async fn inherits_shared_lock(store: &PgStateStore) -> anyhow::Result<bool> {
    if std::env::var_os(orchestrator_core::pipeline::INHERITED_LOCK_VAR).is_none() {
        return Ok(false);
    }
    #[cfg(unix)]
    {
        let parent = std::os::unix::process::parent_id();
        let me = Holder::current("");
        Ok(store
            .workspace_lock_holder()
            .await?
            .is_some_and(|h| h.pid == parent && h.host == me.host))
    }
    #[cfg(not(unix))]
    {
        let _ = store;
        Ok(false)
    }
}

/// The subcommand this process runs (`publish`, `release`...), to name it as a lock holder:
/// only the word, never the flags (a URL flag may carry credentials).
fn command_name() -> String {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "orchestrator".into())
}

/// `store`, wrapped by the reliability harness's fault injection when it is asked for.
fn with_fault_injection(store: Arc<dyn StateStore>) -> anyhow::Result<Arc<dyn StateStore>> {
    Ok(match std::env::var(KILL_AT_JOURNAL_WRITE) {
        Ok(k) => {
            let k = k
                .trim()
                .parse()
                .with_context(|| format!("{KILL_AT_JOURNAL_WRITE}={k:?}: expected a number"))?;
            let signal = match std::env::var(FAULT_SIGNAL).as_deref() {
                Err(_) | Ok("KILL") => crash::Signal::Kill,
                Ok("TERM") => crash::Signal::Term,
                Ok(other) => anyhow::bail!("{FAULT_SIGNAL}={other:?}: expected KILL or TERM"),
            };
            Arc::new(crash::kill_at_journal_write(store, k, signal))
        }
        Err(_) => store,
    })
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
                    while !crate::signals::stop_requested() && std::time::Instant::now() < until {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
            }
        };
        FaultyStateStore::new(inner, Fault::HookAtAppend(kill_at, Arc::new(hook)))
    }
}

/// The forge the config asks for.
pub(crate) async fn forge(config: &Config, vcs: &dyn Vcs) -> Result<Arc<dyn Forge>, Error> {
    if let Some(simulate) = &config.forge.simulate {
        // The simulated CI watches each clone's origin when it is a local bare repository.
        let origins = local_origins(config, vcs).await;
        let ci =
            CiSimulation::for_config(config, simulate.ci_delay, simulate.asset_interval, |repo| {
                origins.get(&repo.name).cloned()
            });
        return Ok(Arc::new(InMemoryForge::with_ci(ci)));
    }
    let forge = GitHubForge::from_env(config.forge.api_url.as_deref())?;
    if SecretString::forge_token_from_env().is_none() {
        tracing::warn!(
            "neither GITHUB_TOKEN nor GH_TOKEN is set: polling anonymously (60 requests an hour)"
        );
    }
    Ok(Arc::new(forge))
}

/// The forge as messages name it: its API URL without any `user:password@`, or the simulation.
pub(crate) fn forge_label(config: &Config) -> String {
    if config.forge.simulate.is_some() {
        return "the simulated forge ([forge.simulate])".to_owned();
    }
    let url = config
        .forge
        .api_url
        .as_deref()
        .unwrap_or(orchestrator_github::DEFAULT_API_URL);
    orchestrator_core::forge::redact_userinfo(url).into_owned()
}

/// The longest the credentials check may take, whatever the run's own timeout: a forge that has
/// not answered one read by then will not carry a release.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// One cheap read of `repo` before anything changes. Every command that pushes, tags or writes to
/// the forge calls it first: unless the forge answered, the run stops here, with nothing changed.
///
/// Rejected credentials keep their own error (exit 2, naming `GITHUB_TOKEN`/`GH_TOKEN`). Any other
/// failure (refused connection, 5xx after the retries, a malformed answer, an absurd rate limit, no
/// answer within the bound) exits 1 naming the forge and the cause. A rate limit that asks for a
/// short wait is waited out within the bound. The bound is the smaller of [`CHECK_TIMEOUT`] and the
/// run's `[release] timeout`, and covers a request in flight (a dripping server cannot hold it).
pub(crate) async fn check_forge(
    forge: &dyn Forge,
    config: &Config,
    repo: &orchestrator_core::forge::RepoId,
    tag: &str,
) -> anyhow::Result<()> {
    let bound = CHECK_TIMEOUT.min(config.release.timeout);
    let deadline = tokio::time::Instant::now() + bound;
    let label = forge_label(config);
    let failed = |cause: Error| {
        let context = format!(
            "the forge at {label} did not answer the check made before any change ({repo}); \
             nothing was changed"
        );
        anyhow::Error::new(cause).context(context)
    };
    loop {
        let answer = tokio::time::timeout_at(deadline, forge.release_by_tag(repo, tag)).await;
        match answer {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e @ Error::Unauthenticated { .. })) => return Err(e.into()),
            Ok(Err(Error::RateLimited {
                retry_after: Some(after),
                message,
            })) if tokio::time::Instant::now() + after < deadline => {
                tracing::warn!("{label}: {message}; retrying in {}s", after.as_secs());
                tokio::time::sleep(after).await;
            }
            Ok(Err(e)) => return Err(failed(e)),
            Err(_) => {
                return Err(failed(Error::Timeout {
                    what: format!("an answer from {label}"),
                    missing: Vec::new(),
                    waited: bound,
                }));
            }
        }
    }
}

/// Each repo's `origin` when it is a local directory (a bare repo on disk), by repo name.
pub(crate) async fn local_origins(config: &Config, vcs: &dyn Vcs) -> HashMap<String, PathBuf> {
    let mut origins = HashMap::new();
    for repo in &config.repos {
        if let Ok(Some(url)) = vcs.remote_url(&repo.path, "origin").await
            && let Some(origin) = local_origin(&repo.path, &url)
        {
            origins.insert(repo.name.clone(), origin);
        }
    }
    origins
}

/// The path of a local origin URL, resolved against the clone.
fn local_origin(clone: &Path, url: &str) -> Option<PathBuf> {
    if url.contains("://") && !url.starts_with("file://") {
        return None;
    }
    let path = Path::new(url.strip_prefix("file://").unwrap_or(url));
    let path = if path.is_absolute() {
        path.to_owned()
    } else {
        clone.join(path)
    };
    path.is_dir().then_some(path)
}
