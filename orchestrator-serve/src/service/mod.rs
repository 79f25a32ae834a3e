//! [`Service`]: the whole of `orchestrator serve` as one library call, so a Rust program runs the
//! same service as the binary, with the same guarantees, in a few lines:
//!
//! ```no_run
//! # async fn run(workspace: orchestrator_core::workspace::Workspace, jobs: std::sync::Arc<dyn orchestrator_serve::JobHandler>) -> orchestrator_core::Result<()> {
//! use orchestrator_serve::{Service, ServiceOptions, WebhookSecret};
//! let secret = WebhookSecret::new("the webhook's secret")?;
//! let service = Service::open(&workspace, secret, jobs, ServiceOptions::default()).await?;
//! let service = service.bind("127.0.0.1:8080".parse().expect("an address")).await?;
//! println!("webhooks to http://{}/webhook", service.local_addr());
//! service.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! What it decides, so that no embedder (the binary included) decides it again:
//! - the queue lives where the state lives ([`QueueBackend`]);
//! - the dashboard reads the state store (read-only on PostgreSQL: a writing store would hold the
//!   shared workspace lock for the service's lifetime and block every job);
//! - workers claim jobs and run them through the [`JobHandler`] (usually
//!   [`crate::jobs::WorkflowJobs`]), with the lease, attempts and backoff of [`ServiceOptions`];
//! - webhooks stretch polling ([`ServiceOptions::poll_stretch`]), and webhooks another replica
//!   receives wake this replica's waits, release-aware as on the receiving replica; when the
//!   wake bus may have missed some (its `LISTEN` session was re-established), every wait looks
//!   once ([`crate::wake`]);
//! - the replicas share the forge's rate-limit budget ([`crate::rate`]);
//! - the nightly is enqueued once per slot of `[serve] nightly` (or the option's schedule);
//! - stopping (the future given to [`Listening::run`]): `/readyz` fails, workers take no new
//!   job, a running job stops its step, journals it and is handed back to the queue.

mod backend;

pub use backend::{DEFAULT_QUEUE_FILE, QueueBackend};

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use orchestrator_core::workspace::Workspace;
use orchestrator_core::{Error, Result};
use tokio::sync::watch;

use crate::cron::Schedule;
use crate::dashboard::StoreDashboard;
use crate::server::{DEFAULT_MAX_BODY, DashboardToken, ServeState, router};
use crate::signature::WebhookSecret;
use crate::wake::{Heard, OnWake, wake_waits_here};
use crate::worker::{self, JobHandler, Worker, WorkerOptions};

/// How the service behaves; every field has the binary's default.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// The SQLite queue file (default: [`DEFAULT_QUEUE_FILE`] in the state dir); refused when the
    /// state is on PostgreSQL (the queue is in that database).
    pub queue_file: Option<PathBuf>,
    /// Jobs this replica runs at once (0: it only receives webhooks).
    pub workers: usize,
    /// How long a claim holds without renewal (at least 1 s).
    pub lease: Duration,
    /// Attempts before a failing job is given up on (at least 1).
    pub max_attempts: u32,
    /// The first retry's delay, doubled per attempt.
    pub retry_base: Duration,
    /// Webhooks wake waits; polling stays as the fallback, this many times slower.
    pub poll_stretch: u32,
    /// When the nightly runs (five-field cron, UTC); overrides `[serve] nightly`.
    pub nightly: Option<String>,
    /// The largest webhook body accepted, in bytes.
    pub max_body: usize,
    /// Below this many requests left in the forge's window, polls wait for the reset; overrides
    /// `[serve] rate_limit_floor` (default [`crate::rate::DEFAULT_FLOOR`]).
    pub rate_limit_floor: Option<u64>,
    /// When set, the dashboard needs it.
    pub dashboard_token: Option<DashboardToken>,
    /// The forge token whose rate-limit budget the replicas share (only its digest is stored;
    /// default: none, the anonymous budget).
    pub forge_token: Option<orchestrator_core::secret::SecretString>,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        let worker = WorkerOptions::default();
        Self {
            queue_file: None,
            workers: 1,
            lease: worker.lease,
            max_attempts: worker.max_attempts,
            retry_base: worker.retry_base,
            poll_stretch: 4,
            nightly: None,
            max_body: DEFAULT_MAX_BODY,
            rate_limit_floor: None,
            dashboard_token: None,
            forge_token: None,
        }
    }
}

/// The service, opened: its queue, store and handler are ready; nothing listens yet.
#[derive(Debug)]
pub struct Service {
    state: Arc<ServeState>,
    backend: QueueBackend,
    handler: Arc<dyn JobHandler>,
    options: ServiceOptions,
    nightly: Option<Schedule>,
    bucket: String,
    floor: u64,
}

impl Service {
    /// Opens the service of `workspace`'s config, with its state in the workspace's state
    /// directory (created when missing), where the jobs' workspaces keep theirs: webhooks are
    /// verified with `secret` and jobs run through `handler`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad nightly schedule (naming the config file) or a queue
    /// file beside a PostgreSQL state; the queue's and the state store's errors when they cannot
    /// be opened.
    pub async fn open(
        workspace: &Workspace,
        secret: WebhookSecret,
        handler: Arc<dyn JobHandler>,
        options: ServiceOptions,
    ) -> Result<Self> {
        let (config, state_dir) = (workspace.config(), workspace.state_dir());
        let nightly = match options
            .nightly
            .as_deref()
            .or(config.serve.nightly.as_deref())
        {
            Some(text) => Some(
                Schedule::parse(text)
                    .map_err(|e| Error::invalid_input(format!("{}: {e}", config.file.display())))?,
            ),
            None => None,
        };
        std::fs::create_dir_all(state_dir)
            .map_err(|e| Error::io(format!("creating {}", state_dir.display()), e))?;
        let state_url = config.state.effective_url()?;
        let replica = WorkerOptions::default().name;
        let backend = QueueBackend::open(
            state_url.as_ref(),
            options.queue_file.as_deref(),
            state_dir,
            &replica,
        )
        .await?;
        // The dashboard only reads. On PostgreSQL a writing store would hold the shared
        // workspace lock for the service's lifetime and block every job, so it reads; a SQLite
        // file is created here so the page has runs to show as soon as the first job writes them.
        let store = orchestrator_core::workspace::open_state(
            config,
            state_dir,
            state_url.is_some(),
            "serve",
        )
        .await?;
        let mut state = ServeState::new(Arc::clone(&backend.queue), secret);
        state.max_body = options.max_body;
        state.dashboard_token = options.dashboard_token.clone();
        state.wakes = Some(Arc::clone(&backend.wakes));
        state.dashboard = Some(Arc::new(StoreDashboard::for_config(
            store,
            config,
            Arc::clone(&backend.queue),
        )));
        let api_url = config
            .forge
            .api_url
            .as_deref()
            .unwrap_or(orchestrator_github::DEFAULT_API_URL);
        let token = options.forge_token.as_ref().map(|t| t.expose());
        Ok(Self {
            state: Arc::new(state),
            bucket: crate::rate::bucket(api_url, token),
            floor: options
                .rate_limit_floor
                .or(config.serve.rate_limit_floor)
                .unwrap_or(crate::rate::DEFAULT_FLOOR),
            backend,
            handler,
            options,
            nightly,
        })
    }

    /// What the handlers share: the queue, the counters of `/metrics`, the stop flag.
    pub fn state(&self) -> &Arc<ServeState> {
        &self.state
    }

    /// Listens on `address` (port 0 picks a free one).
    ///
    /// # Errors
    /// [`Error::Io`] when the address cannot be bound.
    pub async fn bind(self, address: SocketAddr) -> Result<Listening> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| Error::io(format!("listening on {address}"), e))?;
        let address = listener
            .local_addr()
            .map_err(|e| Error::io("reading the listening address", e))?;
        Ok(Listening {
            service: self,
            listener,
            address,
        })
    }
}

/// A bound [`Service`]: webhooks can be sent to it once [`Listening::run`] runs.
#[derive(Debug)]
pub struct Listening {
    service: Service,
    listener: tokio::net::TcpListener,
    address: SocketAddr,
}

/// How the service ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Workers and background tasks that ended with an error (each was logged).
    pub failed_tasks: usize,
}

impl Listening {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// What the handlers share (as [`Service::state`]).
    pub fn state(&self) -> &Arc<ServeState> {
        &self.service.state
    }

    /// Serves until `stop` resolves, then stops as the module docs say and returns once every
    /// worker has ended. Register the stop signals before the address is announced (so a signal
    /// from then on stops the service cleanly rather than killing it mid-write).
    ///
    /// # Errors
    /// [`Error::Io`] when serving HTTP fails.
    pub async fn run(self, stop: impl Future<Output = ()> + Send + 'static) -> Result<Stopped> {
        let Self {
            service,
            listener,
            address,
        } = self;
        let state = service.state;
        let queue = &service.backend.queue;
        let options = &service.options;
        tracing::info!(%address, queue = %service.backend.shown, backend = queue.backend(), workers = options.workers, "serve started");
        orchestrator_core::release::set_poll_stretch(options.poll_stretch);
        let (stopper, shutdown) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..options.workers {
            let mut worker_options = WorkerOptions {
                lease: options.lease.max(Duration::from_secs(1)),
                max_attempts: options.max_attempts.max(1),
                retry_base: options.retry_base,
                ..WorkerOptions::default()
            };
            worker_options.name = format!("{}-{n}", worker_options.name);
            let worker = Worker::new(
                Arc::clone(queue),
                Arc::clone(&service.handler),
                Arc::clone(&state.metrics),
                Arc::clone(&state.wake),
                worker_options,
            );
            let shutdown = shutdown.clone();
            tasks.spawn(async move { worker.run(shutdown).await });
        }
        // Webhooks another replica receives wake the waits of this one's jobs, the same waits
        // the receiving replica would have woken (a release wakes only those it could settle).
        // After the bus may have missed some, every wait looks once.
        let metrics = Arc::clone(&state.metrics);
        let on_wake: OnWake = Arc::new(move |heard| {
            let woken = wake_waits_here(heard);
            match heard {
                Heard::Wake(wake) => {
                    metrics.remote_wakes.fetch_add(1, Ordering::Relaxed);
                    let repo = &wake.repo;
                    let tag = wake.release.as_ref().map(|r| r.tag.as_str());
                    tracing::info!(%repo, tag, woken, "woke waits for a webhook another replica received");
                }
                Heard::MaybeMissed => tracing::info!(
                    woken,
                    "wake listener (re)started: every wait looks once, for wakes it may have missed"
                ),
            }
        });
        let wakes = Arc::clone(&service.backend.wakes);
        let listening = shutdown.clone();
        tasks.spawn(async move { wakes.listen(on_wake, listening).await });
        tasks.spawn(crate::rate::share_until_shutdown(
            Arc::clone(&service.backend.budget),
            service.bucket,
            service.floor,
            WorkerOptions::default().name,
            Arc::clone(&state.metrics),
            shutdown.clone(),
        ));
        if let Some(schedule) = service.nightly {
            tasks.spawn(worker::schedule_nightly(
                Arc::clone(queue),
                schedule,
                Arc::clone(&state.wake),
                shutdown.clone(),
            ));
        }
        let stopping = Arc::clone(&state);
        axum::serve(listener, router(Arc::clone(&state)))
            .with_graceful_shutdown(async move {
                stop.await;
                tracing::info!("stopping: no new jobs; the current ones finish or are journaled");
                stopping.stopping.store(true, Ordering::SeqCst);
                let _ = stopper.send(true);
            })
            .await
            .map_err(|e| Error::io("serving HTTP", e))?;
        let mut failed_tasks = 0;
        while let Some(ended) = tasks.join_next().await {
            let error = match ended {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            tracing::error!(%error, "a worker stopped with an error");
            failed_tasks += 1;
        }
        tracing::info!("serve stopped");
        Ok(Stopped { failed_tasks })
    }
}

#[cfg(test)]
mod tests {
    use orchestrator_core::config::Config;

    use super::*;

    /// Never asked: the service is refused before it runs anything.
    #[derive(Debug)]
    struct Unused;

    #[async_trait::async_trait]
    impl JobHandler for Unused {
        async fn run(&self, _: &crate::Job, _: watch::Receiver<bool>) -> Result<()> {
            unreachable!("no job runs in these tests")
        }
    }

    /// A schedule that is not cron is one line naming the config file, and nothing is created.
    #[tokio::test]
    async fn a_bad_nightly_schedule_is_refused_naming_the_config_and_creates_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config::parse(
            "[serve]\nnightly = \"0 2 * *\"\n",
            &dir.path().join("o.toml"),
        )
        .expect("parsed: the schedule is checked when the service opens");
        let state_dir = dir.path().join("state");
        let workspace = Workspace::builder(config)
            .state_dir(&state_dir)
            .expect("absolute")
            .build();
        let err = Service::open(
            &workspace,
            WebhookSecret::new("s").expect("secret"),
            Arc::new(Unused),
            ServiceOptions::default(),
        )
        .await
        .expect_err("refused");
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert!(err.to_string().contains("o.toml"), "{err}");
        assert!(!state_dir.exists(), "nothing created");
    }

    /// The options carry the dashboard token and the forge token; neither shows in `Debug`.
    #[test]
    fn options_never_show_their_tokens() {
        let options = ServiceOptions {
            dashboard_token: DashboardToken::new("dash-secret-token"),
            forge_token: Some(orchestrator_core::secret::SecretString::new(
                "ghp_forge_secret",
            )),
            ..ServiceOptions::default()
        };
        let shown = format!("{options:?}");
        assert!(!shown.contains("dash-secret-token"), "{shown}");
        assert!(!shown.contains("ghp_forge_secret"), "{shown}");
    }
}
