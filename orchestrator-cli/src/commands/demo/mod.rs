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

mod sandbox;
mod service;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use orchestrator_core::config::Config;
use orchestrator_core::release::ReleaseRequest;
use orchestrator_core::version::ReleaseVersion;
use orchestrator_github::GitHubForge;
use orchestrator_github::mock::{MockGitHub, MockOptions, MockWebhook};

use crate::args::{DemoArgs, Global, OutputFormat};
use service::DemoService;

/// How long the mock's CI takes from a pushed tag to the release, and per asset.
const CI_DELAY: Duration = Duration::from_millis(800);
const ASSET_INTERVAL: Duration = Duration::from_millis(150);

/// With `--serve`: how much slower the fallback polling is than the base interval.
const SERVE_POLL_STRETCH: u32 = 10;

pub(crate) async fn run(global: &Global, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let version = ReleaseVersion::parse(&args.version)?;
    let (root, _temp) = sandbox::root(args.dir.as_deref())?;
    let human = global.output == OutputFormat::Human;
    let say = |line: String| {
        if human {
            eprintln!("{line}");
        }
    };
    say(format!("demo: building a sandbox at {}", root.display()));
    for line in sandbox::build(&root)? {
        say(line);
    }
    // The mock needs the repos and their assets; the config needs the mock's URL.
    let config_file = root.join("orchestrator.toml");
    let blueprint = Config::parse(&sandbox::config("http://127.0.0.1"), &config_file)?;
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
    std::fs::write(&config_file, sandbox::config(mock.url()))
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
