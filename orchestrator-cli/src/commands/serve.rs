//! `orchestrator serve`: wires the service of `orchestrator-serve` to this binary's commands.
//!
//! The library owns intake, queue, workers, probes and dashboard; this module only supplies the
//! job handler, which runs a job through the same driver entry point as the command a workflow
//! would run (a cascade is core's `CascadeWorkflow`, a comment is `pr-command --event-file`),
//! in process, so a job obeys the same trust rules, lock and journal as the command, and
//! resumes on a later attempt.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use clap::{Args, Parser};
use orchestrator_core::Error;
use orchestrator_core::publish::{self, CascadeRequest, CascadeTrigger, CascadeWorkflow};
use orchestrator_core::state::StateUrl;
use orchestrator_serve::cron::Schedule;
use orchestrator_serve::dashboard::StoreDashboard;
use orchestrator_serve::queue::{Job, JobKind, JobQueue, PgJobQueue, SqliteJobQueue};
use orchestrator_serve::rate::{self, SharedRateLimit};
use orchestrator_serve::server::{DEFAULT_MAX_BODY, DashboardToken};
use orchestrator_serve::wake::{OnWake, PgWakeBus, SqliteWakeBus, WakeBus};
use orchestrator_serve::worker::{self, JobHandler, Worker, WorkerOptions};
use orchestrator_serve::{ServeState, WebhookSecret, router};
use tokio::sync::watch;

use crate::args::Global;
use crate::commands::pr_command::PrCommandArgs;
use crate::wiring;

/// `orchestrator serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Where to listen (port 0 picks a free one; the address is printed on stdout).
    #[arg(
        long,
        env = "ORCHESTRATOR_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    listen: SocketAddr,
    /// The job queue's SQLite file (default: serve-queue.db in the state dir). Replicas that
    /// share it share the work. With the state on PostgreSQL ([state] url or
    /// ORCHESTRATOR_STATE_URL) the queue is in that database and this is refused.
    #[arg(long, value_name = "FILE")]
    queue: Option<PathBuf>,
    /// Jobs this replica runs at once (0: receive webhooks only).
    #[arg(long, default_value_t = 1, value_name = "N")]
    workers: usize,
    /// Seconds a claimed job stays with a replica that stops renewing it (a killed replica's job
    /// passes to another after this).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    lease_secs: u64,
    /// Attempts before a failing job is given up on.
    #[arg(long, default_value_t = 3, value_name = "N")]
    max_attempts: u32,
    /// Seconds before the first retry of a failed job (doubled per attempt).
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    retry_secs: u64,
    /// Webhooks wake release waits; polling stays as the fallback, this many times slower.
    #[arg(long, default_value_t = 4, value_name = "N")]
    poll_stretch: u32,
    /// When the nightly cascade runs (five-field cron, UTC); overrides [serve] nightly.
    #[arg(long, value_name = "CRON")]
    nightly: Option<String>,
    /// The largest webhook body accepted, in bytes (larger: 413).
    #[arg(long, default_value_t = DEFAULT_MAX_BODY, value_name = "BYTES")]
    max_body: usize,
    /// The cluster /apply-plan and /rollback-plan act on (as pr-command --cluster).
    #[arg(long, default_value = "kube", value_name = "SPEC")]
    cluster: String,
    /// The kube context for PR commands (as pr-command --kube-context).
    #[arg(long, value_name = "NAME")]
    kube_context: Option<String>,
    /// Below this many requests left in the forge's rate-limit window (as any replica using the
    /// token last saw it), replicas defer polls until the reset; overrides [serve]
    /// rate_limit_floor (default 200).
    #[arg(long, value_name = "N")]
    rate_limit_floor: Option<u64>,
}

/// How often a replica on a SQLite queue looks for wakes the others received (a read of one
/// small table; PostgreSQL replicas are told at once instead).
const SQLITE_WAKE_POLL: Duration = Duration::from_millis(250);

/// Runs jobs as this binary's commands.
#[derive(Debug)]
struct CommandHandler {
    global: Global,
    jobs_dir: PathBuf,
    cluster: String,
    kube_context: Option<String>,
}

/// Parses a subcommand's arguments the way the command line would.
#[derive(Debug, Parser)]
struct PrCommandLine {
    #[command(flatten)]
    args: PrCommandArgs,
}

impl CommandHandler {
    /// Writes a trigger where `--event-file` reads it.
    fn event_file(&self, job: &Job, n: usize, value: &serde_json::Value) -> Result<PathBuf, Error> {
        std::fs::create_dir_all(&self.jobs_dir)
            .map_err(|e| Error::io(format!("creating {}", self.jobs_dir.display()), e))?;
        let path = self.jobs_dir.join(format!("job-{}-{n}.json", job.id));
        std::fs::write(&path, value.to_string())
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        Ok(path)
    }

    /// A cascade job through core's [`CascadeWorkflow`], the driver entry point the `cascade`
    /// command uses: the same lock, journal and resume. A push's cascade first brings the clone
    /// to the pushed commit (a journaled fetch and fast-forward): this service owns its clones.
    async fn cascade(
        &self,
        job: &Job,
        shutdown: &watch::Receiver<bool>,
    ) -> anyhow::Result<ExitCode> {
        let workspace = crate::commands::publish::cascade_workspace(&self.global)?;
        let (trigger, checkout) = match job.kind {
            JobKind::Nightly => (CascadeTrigger::all(), false),
            _ => {
                // Coalesced triggers name the same repos: one cascade from the newest covers all.
                let latest = job.triggers.last().context("a job without a trigger")?;
                let trigger =
                    publish::parse_dispatch_event(workspace.config(), &latest.to_string())
                        .map_err(|e| match e {
                            Error::InvalidInput { message } => {
                                Error::invalid_input(format!("job {}: {message}", job.id))
                            }
                            other => other,
                        })?;
                let push = latest.get("event").and_then(serde_json::Value::as_str) == Some("push");
                (trigger, push)
            }
        };
        let workflow = CascadeWorkflow {
            request: CascadeRequest {
                trigger: Some(trigger),
                source: None,
                nightly: job.kind == JobKind::Nightly,
                resume: job.attempts > 1,
                checkout,
            },
        };
        // The service's shutdown stops the job as a signal stops the command: its steps are
        // stopped and journaled as interrupted, and a later attempt resumes.
        workspace.cancel_on_stop_signals();
        let cancel = workspace.cancel_token().clone();
        let mut stopping = shutdown.clone();
        let watcher = tokio::spawn(async move {
            if stopping.wait_for(|stop| *stop).await.is_ok() {
                cancel.cancel();
            }
        });
        let finished = workspace.run(&workflow).await;
        watcher.abort();
        let kind = publish::CASCADE_RUN_KIND;
        crate::commands::publish::print_report(&self.global, &workspace, kind, finished?)
    }

    async fn pr_commands(&self, job: &Job) -> anyhow::Result<ExitCode> {
        // Each comment is its own command, in the order they came.
        let mut code = ExitCode::SUCCESS;
        for (n, trigger) in job.triggers.iter().enumerate() {
            let payload = trigger
                .get("payload")
                .context("a PR command without its event")?;
            let file = self.event_file(job, n, payload)?;
            let mut line = vec![
                "pr-command".to_owned(),
                "--event-file".to_owned(),
                file.display().to_string(),
                "--cluster".to_owned(),
                self.cluster.clone(),
            ];
            if let Some(context) = &self.kube_context {
                line.extend(["--kube-context".to_owned(), context.clone()]);
            }
            let parsed = PrCommandLine::try_parse_from(line)?;
            let this = crate::commands::pr_command::run(&self.global, parsed.args).await?;
            if this != ExitCode::SUCCESS {
                code = this;
            }
        }
        Ok(code)
    }
}

#[async_trait]
impl JobHandler for CommandHandler {
    async fn run(
        &self,
        job: &Job,
        shutdown: watch::Receiver<bool>,
    ) -> orchestrator_core::Result<()> {
        // Stopping already: leave the job to the next replica rather than start it.
        if *shutdown.borrow() {
            return Err(Error::Cancelled);
        }
        // SIGTERM reaches the running command's own signal handling: it stops its steps and
        // journals them as interrupted; the worker then gives the job back.
        let outcome = match job.kind {
            JobKind::Cascade | JobKind::Nightly => self.cascade(job, &shutdown).await,
            JobKind::PrCommand => self.pr_commands(job).await,
        };
        for n in 0..job.triggers.len() {
            let _ = std::fs::remove_file(self.jobs_dir.join(format!("job-{}-{n}.json", job.id)));
        }
        match outcome {
            Ok(code) if code == ExitCode::SUCCESS => Ok(()),
            Ok(code) => Err(Error::CommandFailed {
                command: format!("{} (job {})", job.kind.as_str(), job.id),
                status: format!("ended with {code:?}"),
                tail: Vec::new(),
            }),
            Err(e) => Err(match e.downcast::<Error>() {
                Ok(core) => core,
                Err(other) => Error::state(format!("{other:#}")),
            }),
        }
    }
}

/// A required secret from the environment, or the line that says how to set it.
fn secret_from_env(name: &str) -> Result<Option<String>, Error> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::invalid_input(format!("{name} is not valid UTF-8")))
        }
    }
}

pub(crate) async fn run(global: &Global, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let secret = secret_from_env("ORCHESTRATOR_WEBHOOK_SECRET")?.ok_or_else(|| {
        Error::invalid_input(
            "ORCHESTRATOR_WEBHOOK_SECRET is not set: give the webhook's secret (GitHub App or repository webhook settings)",
        )
    })?;
    let secret = WebhookSecret::new(secret)?;
    let dashboard_token = secret_from_env("ORCHESTRATOR_DASHBOARD_TOKEN")?
        .as_deref()
        .and_then(DashboardToken::new);
    let config = wiring::load_config(global)?;
    let nightly = match args.nightly.as_deref().or(config.serve.nightly.as_deref()) {
        Some(text) => Some(
            Schedule::parse(text)
                .map_err(|e| Error::invalid_input(format!("{}: {e}", config.file.display())))?,
        ),
        None => None,
    };
    let state_dir = wiring::state_dir(&config);
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    let state_url = config.state.effective_url()?;
    let QueueBackend {
        queue,
        shown: queue_at,
        wakes,
        budget,
    } = open_queue(state_url.as_ref(), args.queue.as_deref(), &state_dir).await?;
    // The dashboard only reads. On PostgreSQL a writing store would hold the shared workspace
    // lock for the service's lifetime and block every cascade, so it reads; a SQLite file is
    // created here so the page has runs to show as soon as the first job writes them.
    let shared = state_url.is_some();
    let store =
        orchestrator_core::workspace::open_state(&config, &state_dir, shared, "serve").await?;
    let repos = config
        .repos
        .iter()
        .map(|r| (r.name.clone(), r.depends_on.clone()))
        .collect();
    orchestrator_core::release::set_poll_stretch(args.poll_stretch);

    let mut state = ServeState::new(Arc::clone(&queue), secret);
    state.max_body = args.max_body;
    state.dashboard_token = dashboard_token;
    state.wakes = Some(Arc::clone(&wakes));
    state.dashboard = Some(Arc::new(StoreDashboard::new(
        store,
        repos,
        Arc::clone(&queue),
    )));
    let state = Arc::new(state);

    // Registered before the address is announced: a SIGTERM from then on stops the service
    // cleanly, never the default action (death mid-write).
    let stop_signal = stop_signal()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    // The one line on stdout: where to send webhooks and where to look. With --output json it
    // is the one JSON document the command prints.
    match global.output {
        crate::args::OutputFormat::Human => println!("listening on http://{address}"),
        crate::args::OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "listening_on": format!("http://{address}"),
                "webhook_url": format!("http://{address}/webhook"),
                "dashboard_url": format!("http://{address}/"),
                "metrics_url": format!("http://{address}/metrics"),
            })
        ),
    }
    tracing::info!(%address, queue = %queue_at, backend = queue.backend(), workers = args.workers, "serve started");

    let (stop, shutdown) = watch::channel(false);
    let handler: Arc<dyn JobHandler> = Arc::new(CommandHandler {
        global: global.clone(),
        jobs_dir: state_dir.join("serve-jobs"),
        cluster: args.cluster.clone(),
        kube_context: args.kube_context.clone(),
    });
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..args.workers {
        let mut options = WorkerOptions {
            lease: Duration::from_secs(args.lease_secs.max(1)),
            max_attempts: args.max_attempts.max(1),
            retry_base: Duration::from_secs(args.retry_secs),
            ..WorkerOptions::default()
        };
        options.name = format!("{}-{n}", options.name);
        let worker = Worker::new(
            Arc::clone(&queue),
            Arc::clone(&handler),
            Arc::clone(&state.metrics),
            Arc::clone(&state.wake),
            options,
        );
        let shutdown = shutdown.clone();
        tasks.spawn(async move { worker.run(shutdown).await });
    }
    // Webhooks another replica receives wake the waits of this one's jobs.
    let metrics = Arc::clone(&state.metrics);
    let on_wake: OnWake = Arc::new(move |repo| {
        metrics.remote_wakes.fetch_add(1, Ordering::Relaxed);
        let woken = orchestrator_core::release::wake_waits(repo);
        tracing::info!(%repo, woken, "woke waits for a webhook another replica received");
    });
    {
        let (wakes, shutdown) = (Arc::clone(&wakes), shutdown.clone());
        tasks.spawn(async move { wakes.listen(on_wake, shutdown).await });
    }
    // The forge's rate-limit budget, shared by the replicas that use this token.
    let floor = args
        .rate_limit_floor
        .or(config.serve.rate_limit_floor)
        .unwrap_or(rate::DEFAULT_FLOOR);
    let token = ["GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|t| !t.is_empty()));
    let bucket = rate::bucket(
        config
            .forge
            .api_url
            .as_deref()
            .unwrap_or(orchestrator_github::DEFAULT_API_URL),
        token.as_deref(),
    );
    tasks.spawn(share_rate_limit(
        budget,
        bucket,
        floor,
        Arc::clone(&state.metrics),
        shutdown.clone(),
    ));
    if let Some(schedule) = nightly {
        tasks.spawn(worker::schedule_nightly(
            Arc::clone(&queue),
            schedule,
            Arc::clone(&state.wake),
            shutdown.clone(),
        ));
    }

    let stopping = Arc::clone(&state);
    let server =
        axum::serve(listener, router(Arc::clone(&state))).with_graceful_shutdown(async move {
            stop_signal.await;
            tracing::info!("stopping: no new jobs; the current ones finish or are journaled");
            stopping.stopping.store(true, Ordering::SeqCst);
            let _ = stop.send(true);
        });
    server.await.context("serving HTTP")?;
    let mut failed = false;
    while let Some(ended) = tasks.join_next().await {
        let error = match ended {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        tracing::error!(%error, "a worker stopped with an error");
        failed = true;
    }
    tracing::info!("serve stopped");
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The queue and what the replicas share beside it, on one backend.
struct QueueBackend {
    queue: Arc<dyn JobQueue>,
    /// Where, for the log (a database URL without its password, or a file).
    shown: String,
    wakes: Arc<dyn WakeBus>,
    budget: Arc<dyn SharedRateLimit>,
}

/// The queue lives where the state lives: replicas that share a PostgreSQL state share its queue
/// (on any machine); otherwise a SQLite file beside the state (or `--queue`).
async fn open_queue(
    state_url: Option<&StateUrl>,
    queue_file: Option<&std::path::Path>,
    state_dir: &std::path::Path,
) -> anyhow::Result<QueueBackend> {
    match (state_url, queue_file) {
        (Some(_), Some(file)) => Err(Error::invalid_input(format!(
            "--queue {}: the state is on PostgreSQL, so the job queue is in that database; drop --queue",
            file.display()
        ))
        .into()),
        (Some(url), None) => {
            let queue = Arc::new(PgJobQueue::connect(url).await?);
            Ok(QueueBackend {
                queue: Arc::clone(&queue) as Arc<dyn JobQueue>,
                shown: url.redacted().to_owned(),
                wakes: Arc::new(PgWakeBus::connect(url).await?),
                budget: queue,
            })
        }
        (None, file) => {
            let file = file.map_or_else(|| state_dir.join("serve-queue.db"), ToOwned::to_owned);
            let queue = SqliteJobQueue::open(&file)?;
            let wakes = SqliteWakeBus::new(
                queue.clone(),
                WorkerOptions::default().name,
                SQLITE_WAKE_POLL,
            );
            let queue = Arc::new(queue);
            Ok(QueueBackend {
                queue: Arc::clone(&queue) as Arc<dyn JobQueue>,
                shown: file.display().to_string(),
                wakes: Arc::new(wakes),
                budget: queue,
            })
        }
    }
}

/// How often a replica shares what it saw of the rate limit and reads what the others saw.
const RATE_SHARE_INTERVAL: Duration = Duration::from_secs(1);

/// Until `shutdown`: records this process's newest rate-limit observation (from the forge
/// adapter's headers) in the shared store, reads the newest of any replica, shows it in
/// `/metrics`, and defers this process's polls while it is below `floor`. A store that does not
/// answer is logged and tried again (polls then go undeferred: the forge's own 403/429 handling
/// remains).
async fn share_rate_limit(
    store: Arc<dyn SharedRateLimit>,
    bucket: String,
    floor: u64,
    metrics: Arc<orchestrator_serve::Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> orchestrator_core::Result<()> {
    let replica = WorkerOptions::default().name;
    let budget = orchestrator_github::rate_budget();
    let mut shared_ms = None;
    loop {
        let local = budget
            .latest()
            .filter(|seen| Some(seen.seen_ms) != shared_ms)
            .map(|seen| rate::Observed {
                remaining: seen.remaining,
                reset: seen.reset,
                replica: replica.clone(),
                seen_ms: seen.seen_ms,
            });
        let now = orchestrator_serve::now_ms() / 1000;
        let seen_ms = local.as_ref().map(|l| l.seen_ms);
        match rate::share(store.as_ref(), &bucket, local, floor, now).await {
            Ok((shared, until)) => {
                shared_ms = seen_ms.or(shared_ms);
                if let Some(shared) = shared {
                    metrics
                        .rate_limit_remaining
                        .store(shared.remaining, Ordering::Relaxed);
                    metrics
                        .rate_limit_reset
                        .store(shared.reset, Ordering::Relaxed);
                }
                let until = until.unwrap_or(0);
                if until != budget.polls_deferred_until() {
                    tracing::info!(
                        until,
                        floor,
                        "rate-limit budget: polls {}",
                        if until == 0 {
                            "resume"
                        } else {
                            "deferred until the reset"
                        }
                    );
                }
                budget.defer_polls_until(until);
                metrics.polls_deferred_until.store(until, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "rate-limit budget: cannot share"),
        }
        tokio::select! {
            () = tokio::time::sleep(RATE_SHARE_INTERVAL) => {}
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

/// SIGTERM (Kubernetes, systemd) or Ctrl-C (SIGINT): both handlers are installed when this is
/// called, so a signal that arrives before the returned future is first polled is not lost.
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
