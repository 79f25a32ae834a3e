//! `orchestrator demo`: a full release rehearsal in a sandbox, no network, no token.
//!
//! It builds seven TruthDB-shaped repos with bare origins, writes an `orchestrator.toml` whose
//! `[forge.simulate]` section makes the in-process forge watch those origins and publish assets
//! shortly after each tag arrives, then runs exactly the code path of `orchestrator release`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use orchestrator_core::config::Config;
use orchestrator_core::release::ReleaseRequest;
use orchestrator_core::version::ReleaseVersion;
use orchestrator_git::sandbox::Sandbox;

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

/// The demo's config: the contract keys plus `[forge.simulate]`.
pub(crate) fn demo_config() -> String {
    let mut text = String::from(
        "# Written by `orchestrator demo`: a sandbox release on a simulated forge.\n\
         [forge]\nowner = \"Truthdb\"\n\n\
         [forge.simulate]\nci_delay = \"800ms\"\nasset_interval = \"150ms\"\n\n\
         [release]\ntag = \"v{version}\"\npoll_interval = \"100ms\"\ntimeout = \"60s\"\nstable_polls = 1\nconcurrency = 4\n",
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
    let config_file = build_sandbox(&root)?;
    for (name, deps, _) in REPOS {
        let after = if deps.is_empty() {
            String::new()
        } else {
            format!(" (after {})", deps.join(", "))
        };
        say(format!("demo:   {name}: clone + bare origin{after}"));
    }
    say(format!("demo: wrote {}", config_file.display()));
    say(
        "demo: the simulated forge publishes each release's assets ~1s after its tag is pushed"
            .into(),
    );
    say(format!(
        "demo: running `orchestrator --config {} release --version {version}`\n",
        config_file.display()
    ));
    let config = Config::load(&config_file)?;
    let code =
        super::release::release(global, config, &ReleaseRequest::new(version), false).await?;
    match &args.dir {
        Some(dir) => say(format!(
            "\ndemo: sandbox kept at {}; try `orchestrator --config {} runs`",
            dir.display(),
            config_file.display()
        )),
        None => say("\ndemo: done; the sandbox is removed (pass --dir DIR to keep it)".into()),
    }
    Ok(code)
}

/// Creates the repos and the config under `root`; returns the config path.
fn build_sandbox(root: &Path) -> anyhow::Result<PathBuf> {
    let sandbox = Sandbox::new(root)?;
    for (name, _, _) in REPOS {
        let readme = format!("# {name}\n\nPart of the TruthDB release demo.\n");
        sandbox.create_repo(
            name,
            &[("README.md", readme.as_str()), (".gitignore", "target/\n")],
        )?;
    }
    let file = root.join("orchestrator.toml");
    std::fs::write(&file, demo_config()).with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}
