//! `orchestrator demo`: a full release rehearsal in a sandbox, no network, no token.
//!
//! It builds seven TruthDB-shaped repos with bare origins, starts the mock GitHub server on
//! loopback in this process (its simulated CI watches those origins and publishes each release's
//! assets shortly after the tag arrives), writes an `orchestrator.toml` whose `[forge] api_url`
//! points at it, then runs exactly the code path of `orchestrator release` through the real
//! GitHub adapter (`GitHubForge`) over HTTP.
//!
//! With `--serve`, `orchestrator serve`'s HTTP face (webhook intake, dashboard) runs in this
//! process on loopback too, and the mock delivers signed webhooks to it as GitHub would: each
//! release the simulated CI makes wakes the wait on it at once, and polling is only the fallback.
//! The summary says how late each wait learned its release was ready.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use orchestrator_core::config::Config;
use orchestrator_core::release::ReleaseRequest;
use orchestrator_core::version::ReleaseVersion;
use orchestrator_git::sandbox::Sandbox;
use orchestrator_github::GitHubForge;
use orchestrator_github::mock::{MockGitHub, MockOptions, MockWebhook};
use orchestrator_serve::dashboard::StoreDashboard;
use orchestrator_serve::queue::InMemoryJobQueue;
use orchestrator_serve::{ServeState, WebhookSecret};

use crate::args::{DemoArgs, Global, OutputFormat};

/// The demo's repos: name, what it depends on, its release assets (seed 000's real names).
const REPOS: &[(&str, &[&str], &[&str])] = &[
    ("truthdb-proto", &[], &["truthdb-proto-v{version}.tar.gz"]),
    (
        "truthdb-net",
        &["truthdb-proto"],
        &["truthdb-net-v{version}.tar.gz"],
    ),
    (
        "truthdb-cli",
        &["truthdb-proto"],
        &["truthdb-cli-v{version}-x86_64-linux-gnu.tar.gz"],
    ),
    (
        "truthdb",
        &["truthdb-proto", "truthdb-net", "truthdb-cli"],
        &[
            "truthdb-v{version}-x86_64-linux-gnu.tar.gz",
            "truthdb-v{version}-x86_64-linux-gnu.sha256",
        ],
    ),
    ("installer-kernel", &[], &["BOOTX64.EFI"]),
    (
        "installer",
        &[],
        &[
            "truthdb-installer-v{version}-x86_64-linux-musl.tar.gz",
            "truthdb-installer-v{version}-x86_64-linux-musl.sha256",
        ],
    ),
    (
        "installer-iso",
        &["installer", "installer-kernel", "truthdb"],
        &[
            "truthdb-installer-v{version}.iso",
            "truthdb-installer-v{version}.iso.sha256",
        ],
    ),
];

/// How long the mock's CI takes from a pushed tag to the release, and per asset.
const CI_DELAY: Duration = Duration::from_millis(800);
const ASSET_INTERVAL: Duration = Duration::from_millis(150);

/// With `--serve`: how much slower the fallback polling is than the base interval.
const SERVE_POLL_STRETCH: u32 = 10;

/// The demo's config: the contract keys, with `[forge] api_url` pointing at the mock server.
pub(crate) fn demo_config(api_url: &str) -> String {
    let mut text = format!(
        "# Written by `orchestrator demo`: a sandbox release against a mock GitHub on loopback.\n\
         [forge]\nowner = \"Truthdb\"\napi_url = \"{api_url}\"\n\n\
         [release]\ntag = \"v{{version}}\"\npoll_interval = \"100ms\"\ntimeout = \"60s\"\nstable_polls = 1\nconcurrency = 4\n",
    );
    for (name, deps, assets) in REPOS {
        let quote = |items: &[&str]| {
            items
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        text.push_str(&format!(
            "\n[[repo]]\nname = \"{name}\"\ndepends_on = [{}]\nassets = [{}]\n",
            quote(deps),
            quote(assets)
        ));
    }
    text
}

pub(crate) async fn run(global: &Global, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let version = ReleaseVersion::parse(&args.version)?;
    let (root, _temp) = match &args.dir {
        Some(dir) => {
            if dir.exists()
                && std::fs::read_dir(dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
            {
                bail!("--dir {} must be empty or absent", dir.display());
            }
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            (std::path::absolute(dir)?, None)
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("orchestrator-demo-")
                .tempdir()?;
            (temp.path().to_owned(), Some(temp))
        }
    };
    let human = global.output == OutputFormat::Human;
    let say = |line: String| {
        if human {
            eprintln!("{line}");
        }
    };
    say(format!("demo: building a sandbox at {}", root.display()));
    build_sandbox(&root)?;
    for (name, deps, _) in REPOS {
        let after = if deps.is_empty() {
            String::new()
        } else {
            format!(" (after {})", deps.join(", "))
        };
        say(format!("demo:   {name}: clone + bare origin{after}"));
    }
    // The mock needs the repos and their assets; the config needs the mock's URL.
    let config_file = root.join("orchestrator.toml");
    let blueprint = Config::parse(&demo_config("http://127.0.0.1"), &config_file)?;
    let mut options = MockOptions::default()
        .origins(root.join("origins"))
        .config(blueprint.clone())
        .ci_delay(CI_DELAY)
        .asset_interval(ASSET_INTERVAL);
    let service = match args.serve {
        true => {
            let service = DemoService::start(&blueprint).await?;
            options =
                options.webhook(MockWebhook::new(&service.webhook_url).secret(&service.secret));
            Some(service)
        }
        false => None,
    };
    let mock = MockGitHub::start(options)
        .await
        .context("starting the mock GitHub server")?;
    std::fs::write(&config_file, demo_config(mock.url()))
        .with_context(|| format!("writing {}", config_file.display()))?;
    say(format!(
        "demo: mock GitHub API at {} (in this process); its CI publishes each release's assets ~1s after the tag is pushed",
        mock.url()
    ));
    if let Some(service) = &service {
        say(format!(
            "demo: serve's webhook intake at {} (in this process; the mock signs each delivery); \
             waits wake on webhooks and poll only as a fallback, x{SERVE_POLL_STRETCH} slower",
            service.webhook_url
        ));
        say(format!("demo: dashboard at {}", service.dashboard_url));
        orchestrator_core::release::set_poll_stretch(SERVE_POLL_STRETCH);
    }
    say(format!("demo: wrote {}", config_file.display()));
    say(format!(
        "demo: running `orchestrator --config {} release --version {version}` through the GitHub adapter over HTTP\n",
        config_file.display()
    ));
    let config = Config::load(&config_file)?;
    // Anonymous on purpose: a token from the environment is never sent, not even to loopback.
    let forge = GitHubForge::builder()
        .api_url(mock.url())
        .retry_base_delay(Duration::from_millis(50))
        .build()?;
    // The demo's forge is the mock's, whatever the environment says.
    let workspace = crate::wiring::workspace_builder(config, human)?
        .forge(Arc::new(forge))
        .build();
    let result =
        super::release::release(global, workspace, ReleaseRequest::new(version), false).await;
    if let Some(service) = &service {
        orchestrator_core::release::set_poll_stretch(1);
        // Deliveries still in flight are counted before the summary.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let summary = service.summary(&mock).await;
        if result.is_ok() {
            for line in summary? {
                say(line);
            }
        }
    }
    mock.shutdown().await;
    let code = result?;
    if let Some(service) = service {
        if human && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            say(format!(
                "demo: the dashboard stays up at {}; Ctrl-C to stop",
                service.dashboard_url
            ));
            let _ = tokio::signal::ctrl_c().await;
        }
        drop(service);
    }
    match &args.dir {
        Some(dir) => say(format!(
            "\ndemo: sandbox kept at {}; try `orchestrator --config {} runs`, or serve it again with \
             `orchestrator --config {} mock-forge --origins {}`",
            dir.display(),
            config_file.display(),
            config_file.display(),
            root.join("origins").display()
        )),
        None => say("\ndemo: done; the sandbox is removed (pass --dir DIR to keep it)".into()),
    }
    Ok(code)
}

/// Creates the repos (clones with bare origins in `root/origins`) under `root`.
fn build_sandbox(root: &Path) -> anyhow::Result<()> {
    let sandbox = Sandbox::new(root)?;
    for (name, _, _) in REPOS {
        let readme = format!("# {name}\n\nPart of the TruthDB release demo.\n");
        sandbox.create_repo(
            name,
            &[("README.md", readme.as_str()), (".gitignore", "target/\n")],
        )?;
    }
    Ok(())
}

/// `orchestrator serve`'s HTTP face in this process, for `demo --serve`: the webhook intake that
/// wakes the release's waits, and the dashboard over the demo's state. Stops when dropped.
struct DemoService {
    webhook_url: String,
    dashboard_url: String,
    /// Made for this run, shared with the mock only; never printed.
    secret: String,
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
    async fn start(config: &Config) -> anyhow::Result<Self> {
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
    async fn summary(&self, mock: &MockGitHub) -> anyhow::Result<Vec<String>> {
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
