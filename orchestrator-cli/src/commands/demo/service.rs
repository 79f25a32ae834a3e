//! `orchestrator serve`'s HTTP face inside `demo --serve`.

use std::sync::Arc;

use anyhow::Context;
use orchestrator_core::config::Config;
use orchestrator_github::mock::MockGitHub;
use orchestrator_serve::dashboard::StoreDashboard;
use orchestrator_serve::queue::InMemoryJobQueue;
use orchestrator_serve::{ServeState, WebhookSecret};

use super::sandbox::REPOS;
use super::{ASSET_INTERVAL, CI_DELAY};

/// `orchestrator serve`'s HTTP face in this process, for `demo --serve`: the webhook intake that
/// wakes the release's waits, and the dashboard over the demo's state. Stops when dropped.
pub(super) struct DemoService {
    /// Where the mock delivers its webhooks.
    pub(super) webhook_url: String,
    /// The dashboard, for people.
    pub(super) dashboard_url: String,
    /// Made for this run, shared with the mock only; never printed.
    pub(super) secret: String,
    state: Arc<ServeState>,
    task: tokio::task::JoinHandle<()>,
    store: Arc<dyn orchestrator_core::state::StateStore>,
}

impl Drop for DemoService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DemoService {
    pub(super) async fn start(config: &Config) -> anyhow::Result<Self> {
        let secret = random_secret();
        let queue = Arc::new(InMemoryJobQueue::new());
        let state_dir = crate::wiring::state_dir(config);
        std::fs::create_dir_all(&state_dir)
            .with_context(|| format!("creating {}", state_dir.display()))?;
        // Reads only: the release in this process writes the same store.
        let store =
            orchestrator_core::workspace::open_state(config, &state_dir, false, "demo-serve")
                .await?;
        let mut state = ServeState::new(queue.clone(), WebhookSecret::new(secret.clone())?);
        state.dashboard = Some(Arc::new(StoreDashboard::for_config(
            Arc::clone(&store),
            config,
            queue,
        )));
        let state = Arc::new(state);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("listening on loopback")?;
        let address = listener.local_addr()?;
        let app = orchestrator_serve::router(Arc::clone(&state));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("demo: serve stopped: {e}");
            }
        });
        Ok(Self {
            webhook_url: format!("http://{address}/webhook"),
            dashboard_url: format!("http://{address}/"),
            secret,
            state,
            task,
            store,
        })
    }

    /// What the service saw, and how late each wait learned its release was ready: its end in
    /// the journal minus the moment the mock's CI settled the release's last asset.
    pub(super) async fn summary(&self, mock: &MockGitHub) -> anyhow::Result<Vec<String>> {
        use std::sync::atomic::Ordering::Relaxed;
        let m = &self.state.metrics;
        let delivered = mock.stats().webhooks;
        let mut lines = vec![
            String::new(),
            format!(
                "demo: serve took {} webhook(s): {} woke waits, {} queued as jobs, {} ignored (tag pushes); \
                 {} refused; the mock delivered {} ({} failed, {} retried)",
                m.webhooks_woke.load(Relaxed)
                    + m.webhooks_accepted.load(Relaxed)
                    + m.webhooks_ignored.load(Relaxed),
                m.webhooks_woke.load(Relaxed),
                m.webhooks_accepted.load(Relaxed),
                m.webhooks_ignored.load(Relaxed),
                m.verification_failures.load(Relaxed) + m.bad_payloads.load(Relaxed),
                delivered.delivered,
                delivered.failed,
                delivered.retries,
            ),
        ];
        let runs = self.store.runs(Some("release"), None, 1).await?;
        let Some(run) = runs.first() else {
            return Ok(lines);
        };
        let journal = self.store.journal(run.id).await?;
        let tag = format!("v{}", run.key);
        let mut lags = Vec::new();
        for record in &journal {
            let orchestrator_core::state::JournalEntry::StepSucceeded { step, .. } = &record.entry
            else {
                continue;
            };
            let Some(repo) = step.strip_prefix("wait:") else {
                continue;
            };
            let Some((_, _, assets)) = REPOS.iter().find(|(name, _, _)| *name == repo) else {
                continue;
            };
            let Some(seen) = mock.tag_seen_ms("Truthdb", repo, &tag) else {
                continue;
            };
            // The last asset settles one interval after it starts, one interval after the
            // previous one.
            let ready = seen
                + i64::try_from(
                    (CI_DELAY + ASSET_INTERVAL * (assets.len() as u32 + 1)).as_millis(),
                )
                .unwrap_or(i64::MAX);
            lags.push(record.at_ms - ready);
        }
        lags.sort_unstable();
        if let (Some(first), Some(last)) = (lags.first(), lags.last()) {
            lines.push(format!(
                "demo: detection lag (release ready on the mock's CI → its wait ended): median {} ms, \
                 {first} to {last} ms over {} waits (base poll 100 ms)",
                lags[lags.len() / 2],
                lags.len()
            ));
        }
        lines.push(format!("demo: the dashboard was at {}", self.dashboard_url));
        Ok(lines)
    }
}

/// 32 random hex digits (std's per-instance random hasher keys), for a secret that lives as long
/// as this process.
fn random_secret() -> String {
    use std::hash::{BuildHasher, Hasher};
    (0..2)
        .map(|i| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(i);
            format!("{:016x}", h.finish())
        })
        .collect()
}
