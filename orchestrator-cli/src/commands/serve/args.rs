//! The flags of `orchestrator serve`, turned once into the service's options.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use orchestrator_core::Error;
use orchestrator_core::secret::SecretString;
use orchestrator_serve::server::{DEFAULT_MAX_BODY, DashboardToken};
use orchestrator_serve::{ServiceOptions, WebhookSecret};

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
    pub(super) listen: SocketAddr,
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
    pub(super) cluster: String,
    /// The kube context for PR commands (as pr-command --kube-context).
    #[arg(long, value_name = "NAME")]
    pub(super) kube_context: Option<String>,
    /// Below this many requests left in the forge's rate-limit window (as any replica using the
    /// token last saw it), replicas defer polls until the reset; overrides [serve]
    /// rate_limit_floor (default 200).
    #[arg(long, value_name = "N")]
    rate_limit_floor: Option<u64>,
}

/// A secret from the environment; one line naming the variable when it is not UTF-8.
fn env_secret(name: &str) -> Result<Option<String>, Error> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::invalid_input(format!("{name} is not valid UTF-8")))
        }
    }
}

/// `ORCHESTRATOR_WEBHOOK_SECRET`, required: without it the service does not start.
pub(super) fn webhook_secret() -> Result<WebhookSecret, Error> {
    let secret = env_secret("ORCHESTRATOR_WEBHOOK_SECRET")?.ok_or_else(|| {
        Error::invalid_input(
            "ORCHESTRATOR_WEBHOOK_SECRET is not set: give the webhook's secret (GitHub App or repository webhook settings)",
        )
    })?;
    WebhookSecret::new(secret)
}

impl ServeArgs {
    /// The service's options: these flags, the dashboard token and the forge token from the
    /// environment.
    pub(super) fn options(&self) -> Result<ServiceOptions, Error> {
        Ok(ServiceOptions {
            queue_file: self.queue.clone(),
            workers: self.workers,
            lease: Duration::from_secs(self.lease_secs),
            max_attempts: self.max_attempts,
            retry_base: Duration::from_secs(self.retry_secs),
            poll_stretch: self.poll_stretch,
            nightly: self.nightly.clone(),
            max_body: self.max_body,
            rate_limit_floor: self.rate_limit_floor,
            dashboard_token: env_secret("ORCHESTRATOR_DASHBOARD_TOKEN")?
                .as_deref()
                .and_then(DashboardToken::new),
            forge_token: SecretString::forge_token_from_env(),
        })
    }
}
