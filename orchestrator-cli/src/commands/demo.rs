//! `orchestrator demo`: a full release rehearsal in a sandbox, no network, no token.
//!
//! It builds seven TruthDB-shaped repos with bare origins, starts the mock GitHub server on
//! loopback in this process (its simulated CI watches those origins and publishes each release's
//! assets shortly after the tag arrives), writes an `orchestrator.toml` whose `[forge] api_url`
//! points at it, then runs exactly the code path of `orchestrator release` through the real
//! GitHub adapter (`GitHubForge`) over HTTP.

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
use orchestrator_github::mock::{MockGitHub, MockOptions};

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
    let options = MockOptions::default()
        .origins(root.join("origins"))
        .config(blueprint)
        .ci_delay(CI_DELAY)
        .asset_interval(ASSET_INTERVAL);
    let mock = MockGitHub::start(options)
        .await
        .context("starting the mock GitHub server")?;
    std::fs::write(&config_file, demo_config(mock.url()))
        .with_context(|| format!("writing {}", config_file.display()))?;
    say(format!(
        "demo: mock GitHub API at {} (in this process); its CI publishes each release's assets ~1s after the tag is pushed",
        mock.url()
    ));
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
    mock.shutdown().await;
    let code = result?;
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
