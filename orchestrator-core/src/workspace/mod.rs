//! The session: one object that holds every guarantee a run needs, so that the CLI and an
//! embedder (a bot, a dashboard) get the same ones.
//!
//! Before this module the guarantees lived in the CLI: each command opened the state store, took
//! the workspace lock, built the forge, checked the credentials and wired Ctrl-C in its own way,
//! and a library caller of `Releaser` got none of it. A [`Workspace`] does it once:
//! - it opens the state store (SQLite in the state directory; a dry run only ever reads it);
//! - it takes the workspace lock before anything is written ([`Workspace::session`]);
//! - it builds the forge one way, from `[forge]` (`api_url`, `[forge.simulate]`, the token), and
//!   checks it answers before any effect ([`Workspace::check_forge`]);
//! - it owns the [`CancelToken`] that Ctrl-C and SIGTERM cancel ([`signals`]);
//! - it drives every capability through one [`Workflow`] driver ([`Workspace::run`]): plan
//!   without state, lock, plan again against the journal (the resume policy: what an earlier
//!   attempt finished is skipped), check the forge, execute, report.
//!
//! Approval is a type: a scale change goes through [`workflows::ScaleExecuteWorkflow`], whose
//! plan step is the gate, and `ScaleExecutor::apply` takes only an
//! [`crate::scale::approval::ApprovedPlan`], which nothing but the gate builds. A plan that has
//! not been through it does not compile as an argument:
//! ```compile_fail,E0308
//! use orchestrator_core::scale::ScalePlan;
//! use orchestrator_core::scale::execute::ScaleExecutor;
//! async fn unreviewed(executor: &ScaleExecutor, plan: &ScalePlan) {
//!     executor.apply(plan).await; // expected `&ApprovedPlan`, found `&ScalePlan`
//! }
//! ```
//!
//! The state store is reached from here only (the `open_*` functions), so a change of its
//! backend or of its locking is one edit.

mod forge;
pub mod journaled;
pub mod params;
pub mod signals;
mod workflow;
pub mod workflows;

pub use forge::{
    AppCredential, DEFAULT_API_URL, ForgeConnector, check_forge, forge_label, local_origins,
};
pub use journaled::{JournaledRunner, RunStart, first_unfinished, journaled_output, stopped_error};
pub use workflow::{Finished, Outcome, RunContext, Workflow};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::engine::{CancelToken, Observer, SilentObserver};
use crate::error::{Error, Result};
use crate::forge::Forge;
use crate::state::{
    Holder, MemoryStateStore, PgStateStore, RunId, RunSummary, SqliteStateStore, StateStore,
    WorkspaceLock,
};
use crate::vcs::Vcs;

/// Wraps the store a session opens (fault injection in the reliability harness, recording).
pub type StoreLayer = Arc<dyn Fn(Arc<dyn StateStore>) -> Result<Arc<dyn StateStore>> + Send + Sync>;

/// Receives the one-line notices a session has for its operator (a lock taken over from a run
/// that died). The default logs them with `tracing`.
pub type Notices = Arc<dyn Fn(&str) + Send + Sync>;

/// The session of one configured workspace; see the module docs.
#[derive(Clone)]
pub struct Workspace {
    config: Arc<Config>,
    state_dir: PathBuf,
    vcs: Option<Arc<dyn Vcs>>,
    forge: Option<Arc<dyn Forge>>,
    connector: Option<Arc<dyn ForgeConnector>>,
    built_forge: Arc<tokio::sync::OnceCell<Arc<dyn Forge>>>,
    observer: Arc<dyn Observer>,
    cancel: CancelToken,
    store_layer: Option<StoreLayer>,
    notices: Notices,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("config", &self.config.file)
            .field("state_dir", &self.state_dir)
            .field("forge", &forge_label(&self.config))
            .finish_non_exhaustive()
    }
}

/// Builds a [`Workspace`]: the config is required, the rest has defaults.
pub struct WorkspaceBuilder {
    inner: Workspace,
}

impl std::fmt::Debug for WorkspaceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl WorkspaceBuilder {
    /// The state directory (default: `.orchestrator` beside the config file). A relative path
    /// resolves against the current directory now, so a later change of directory still finds
    /// the same one.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        self.inner.state_dir = if dir.is_absolute() {
            dir
        } else {
            std::env::current_dir()
                .map_err(|e| Error::io("reading the current directory", e))?
                .join(dir)
        };
        Ok(self)
    }

    /// Reads and writes clones through `vcs` (release, publish, propose and the simulated forge
    /// need one; the CLI's is `GixVcs`).
    pub fn vcs(mut self, vcs: Arc<dyn Vcs>) -> Self {
        self.inner.vcs = Some(vcs);
        self
    }

    /// How a real forge is reached at `[forge] api_url` (the CLI's: GitHub). Without one, only
    /// `[forge.simulate]` or a forge given with [`WorkspaceBuilder::forge`] can be used.
    pub fn forge_connector(mut self, connector: Arc<dyn ForgeConnector>) -> Self {
        self.inner.connector = Some(connector);
        self
    }

    /// Uses this forge whatever `[forge]` says (an embedder's own backend, a test's).
    pub fn forge(mut self, forge: Arc<dyn Forge>) -> Self {
        self.inner.forge = Some(forge);
        self
    }

    /// Sends run progress to `observer` (default: silent).
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.inner.observer = observer;
        self
    }

    /// Stops runs when `cancel` is cancelled (a service's own shutdown token; default: a fresh
    /// one, which [`Workspace::cancel_on_stop_signals`] wires to Ctrl-C and SIGTERM).
    pub fn cancel_token(mut self, cancel: CancelToken) -> Self {
        self.inner.cancel = cancel;
        self
    }

    /// Wraps every store a session opens.
    pub fn store_layer(mut self, layer: StoreLayer) -> Self {
        self.inner.store_layer = Some(layer);
        self
    }

    /// Where operator notices go (default: `tracing` warnings).
    pub fn notices(mut self, notices: Notices) -> Self {
        self.inner.notices = notices;
        self
    }

    /// The workspace. Nothing is opened or created yet: that happens when a run needs it.
    pub fn build(self) -> Workspace {
        self.inner
    }
}

impl Workspace {
    /// A builder for the workspace of `config`.
    pub fn builder(config: Config) -> WorkspaceBuilder {
        let state_dir = config.root.join(".orchestrator");
        WorkspaceBuilder {
            inner: Workspace {
                config: Arc::new(config),
                state_dir,
                vcs: None,
                forge: None,
                connector: None,
                built_forge: Arc::new(tokio::sync::OnceCell::new()),
                observer: Arc::new(SilentObserver),
                cancel: CancelToken::new(),
                store_layer: None,
                notices: Arc::new(|line: &str| tracing::warn!("{line}")),
            },
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The state directory (the lock and `state.db` live here).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The version control backend ([`Error::NotSupported`] when the builder was given none).
    pub fn vcs(&self) -> Result<&Arc<dyn Vcs>> {
        self.vcs.as_ref().ok_or_else(|| Error::NotSupported {
            backend: "workspace".into(),
            what: "reading clones without a version control backend (WorkspaceBuilder::vcs)".into(),
        })
    }

    /// The progress observer runs report to.
    pub fn observer(&self) -> &Arc<dyn Observer> {
        &self.observer
    }

    /// Tells the operator `line` whatever the output format (a lock taken over, what a resume
    /// continues): through the notices sink.
    pub fn notice(&self, line: &str) {
        (self.notices)(line);
    }

    /// Tells whoever watches progress what is about to run: an [`crate::engine::Event::Notice`]
    /// to the observer (a terminal shows it; `--output json` has no observer).
    pub fn announce(&self, line: &str) {
        self.observer
            .event(&crate::engine::Event::Notice { message: line });
    }

    /// The token that stops this workspace's runs: running steps are stopped and journaled as
    /// interrupted, and `--resume` continues.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    /// Lets Ctrl-C and SIGTERM cancel this workspace's runs (a second signal exits the process).
    /// For binaries; call inside the runtime, before the run starts.
    pub fn cancel_on_stop_signals(&self) {
        signals::cancel_on_stop_signals(self.cancel.clone());
    }

    /// The store as it stands, read-only: for dry runs and planning before the lock. Never
    /// creates the state directory or the database (an empty in-memory store stands in).
    pub async fn read_only_store(&self) -> Result<Arc<dyn StateStore>> {
        open_state(&self.config, &self.state_dir, true, "").await
    }

    /// Takes the workspace lock for `holder` (what a refused second run is told) and opens the
    /// store for writing. Everything a run writes happens inside a session. On PostgreSQL the
    /// store also holds the database's workspace lock, shared by every runner on it.
    pub async fn session(&self, holder: &str) -> Result<Session> {
        let lock = lock_workspace(&self.state_dir, holder, &self.notices)?;
        let store = self.open_store(holder).await?;
        Ok(Session { store, _lock: lock })
    }

    /// The store for writing, without the file lock: only for sessions ([`Workspace::session`]).
    async fn open_store(&self, holder: &str) -> Result<Arc<dyn StateStore>> {
        let store = open_state(&self.config, &self.state_dir, false, holder).await?;
        match &self.store_layer {
            Some(layer) => layer(store),
            None => Ok(store),
        }
    }

    /// The forge, built once from the config: the forge given to the builder, else the simulated
    /// one for `[forge.simulate]`, else the connector's at `[forge] api_url` with the token from
    /// the environment.
    pub async fn forge(&self) -> Result<Arc<dyn Forge>> {
        if let Some(forge) = &self.forge {
            return Ok(forge.clone());
        }
        self.built_forge
            .get_or_try_init(|| {
                forge::build(&self.config, self.vcs.as_deref(), self.connector.as_deref())
            })
            .await
            .cloned()
    }

    /// One cheap read of the forge before anything changes; see [`check_forge`].
    pub async fn check_forge(&self, repo: &crate::forge::RepoId, tag: &str) -> Result<()> {
        let forge = self.forge().await?;
        check_forge(forge.as_ref(), &self.config, repo, tag).await
    }

    /// Plans `workflow` against the journal as it stands, changing nothing: the dry run. No
    /// lock is taken and no state is created.
    pub async fn preview<W: Workflow>(&self, workflow: &W) -> Result<W::Plan> {
        workflow.validate(self)?;
        let store = self.read_only_store().await?;
        workflow.plan(self, store.as_ref()).await
    }

    /// Gives up unfinished run `run` of `kind` for good, under the workspace lock: recorded in
    /// its journal, shown `abandoned`, never continued by a resume, so a new run of its kind can
    /// start. Bad input (no such run, another kind) changes nothing.
    pub async fn abandon(&self, kind: &str, run: RunId) -> Result<RunSummary> {
        let session = self.session(&format!("{kind} --abandon")).await?;
        let store = session.store();
        let summary = store
            .run(run)
            .await?
            .ok_or_else(|| Error::invalid_input(format!("--abandon {run}: no run {run}")))?;
        if summary.kind != kind {
            return Err(Error::invalid_input(format!(
                "--abandon {run}: run {run} is a {}, not a {kind}",
                summary.kind
            )));
        }
        store
            .abandon(run, &Holder::current(format!("{kind} --abandon {run}")))
            .await
    }

    /// Runs `workflow` with every guarantee: it is planned first without creating any state (bad
    /// input leaves nothing behind), then under the workspace lock planned again against the
    /// journal (what an earlier attempt finished is skipped), the forge is checked when the
    /// workflow names a probe, and the plan executes journaled, stopped by
    /// [`Workspace::cancel_token`].
    pub async fn run<W: Workflow>(&self, workflow: &W) -> Result<Finished<W::Report>> {
        workflow.validate(self)?;
        {
            let store = self.read_only_store().await?;
            workflow.plan(self, store.as_ref()).await?;
        }
        let session = self.session(&workflow.holder()).await?;
        let plan = workflow.plan(self, session.store().as_ref()).await?;
        if let Some((repo, tag)) = workflow.probe(&plan) {
            self.check_forge(&repo, &tag).await?;
        }
        let context = RunContext {
            workspace: self,
            store: session.store().clone(),
        };
        let report = workflow.execute(&context, plan).await?;
        let outcome = W::outcome(&report);
        Ok(Finished { report, outcome })
    }
}

/// A run's hold on the workspace: the lock and the writable store. Dropping it releases the lock.
#[derive(Debug)]
pub struct Session {
    store: Arc<dyn StateStore>,
    _lock: WorkspaceLock,
}

impl Session {
    /// The writable store.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }
}

/// The one way the state store is opened: the PostgreSQL database of `ORCHESTRATOR_STATE_URL` /
/// `[state] url`, else SQLite (`state.db` in `state_dir`). `read_only` never creates or changes
/// anything: it reads an existing store (to show what a resume would skip) or stands in an empty
/// in-memory one. A writing PostgreSQL store holds the database's workspace lock (an advisory
/// lock of its session, recorded with `holder`, host and pid) until it is dropped: one runner at
/// a time on the database, whatever its machine.
pub async fn open_state(
    config: &Config,
    state_dir: &Path,
    read_only: bool,
    holder: &str,
) -> Result<Arc<dyn StateStore>> {
    let db = state_dir.join("state.db");
    if let Some(url) = config.state.effective_url()? {
        if read_only {
            return Ok(match PgStateStore::connect_read_only(&url).await? {
                Some(store) => Arc::new(store),
                None => Arc::new(MemoryStateStore::default()),
            });
        }
        let store = PgStateStore::connect(&url).await?;
        if !inherits_shared_lock(&store).await? {
            let guard = store.lock_workspace(&Holder::current(holder)).await?;
            store.hold(guard);
        }
        return Ok(Arc::new(store));
    }
    if read_only {
        // Read-only: works in a read-only state directory and never creates a file.
        return Ok(if db.exists() {
            Arc::new(SqliteStateStore::open_read_only(&db)?)
        } else {
            Arc::new(MemoryStateStore::default())
        });
    }
    std::fs::create_dir_all(state_dir)
        .map_err(|e| Error::io(format!("creating {}", state_dir.display()), e))?;
    Ok(Arc::new(SqliteStateStore::open(&db)?))
}

/// A pipeline's capability step (`orchestrator = ["release", ...]`) runs under the lock of its
/// parent `orchestrator run`, which names it in `ORCHESTRATOR_INHERITED_LOCK`: on PostgreSQL the
/// child accepts it only when the database records the parent process (this host, the parent's
/// pid) as the holder of the lock, as the file lock does.
async fn inherits_shared_lock(store: &PgStateStore) -> Result<bool> {
    if std::env::var_os(crate::pipeline::INHERITED_LOCK_VAR).is_none() {
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
pub fn command_name() -> String {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "orchestrator".into())
}

/// Takes the workspace lock in `state_dir`: the one place the lock is taken (the state backend
/// decides what a lock is). A lock a killed run left behind is taken over, and said through
/// `notices`, so the next scheduled run's log points at what continues it.
pub fn lock_workspace(state_dir: &Path, holder: &str, notices: &Notices) -> Result<WorkspaceLock> {
    let lock = WorkspaceLock::acquire(state_dir, holder)?;
    if let Some(previous) = lock.recovered() {
        let journal = if state_dir.join("state.db").is_file() {
            "its journal is intact and --resume continues it"
        } else {
            // Someone deleted the database: claiming the journal survived would be a lie.
            "its state database is gone, so nothing of it can be resumed"
        };
        notices(&format!(
            "note: took over the workspace lock from a run that ended without releasing it ({previous}); {journal}"
        ));
    }
    Ok(lock)
}

#[cfg(test)]
mod tests;
