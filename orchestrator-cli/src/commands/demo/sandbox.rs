//! The demo's sandbox: seven TruthDB-shaped repos with bare origins, and the config that
//! releases them against the mock GitHub.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use orchestrator_git::sandbox::Sandbox;

/// The demo's repos: name, what it depends on, its release assets (seed 000's real names).
pub(super) const REPOS: &[(&str, &[&str], &[&str])] = &[
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

/// Where the sandbox goes: `dir` (which must be empty or absent; it is kept), else a temporary
/// directory removed when the returned guard drops.
pub(super) fn root(dir: Option<&Path>) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    match dir {
        Some(dir) => {
            if dir.exists()
                && std::fs::read_dir(dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
            {
                bail!("--dir {} must be empty or absent", dir.display());
            }
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok((std::path::absolute(dir)?, None))
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("orchestrator-demo-")
                .tempdir()?;
            Ok((temp.path().to_owned(), Some(temp)))
        }
    }
}

/// The demo's config: the contract keys, with `[forge] api_url` pointing at the mock server.
pub(super) fn config(api_url: &str) -> String {
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

/// Creates the repos (clones with bare origins in `root/origins`) under `root`; a line per repo
/// saying what was made, for the narration.
pub(super) fn build(root: &Path) -> anyhow::Result<Vec<String>> {
    let sandbox = Sandbox::new(root)?;
    let mut made = Vec::new();
    for (name, deps, _) in REPOS {
        let readme = format!("# {name}\n\nPart of the TruthDB release demo.\n");
        sandbox.create_repo(
            name,
            &[("README.md", readme.as_str()), (".gitignore", "target/\n")],
        )?;
        let after = if deps.is_empty() {
            String::new()
        } else {
            format!(" (after {})", deps.join(", "))
        };
        made.push(format!("demo:   {name}: clone + bare origin{after}"));
    }
    Ok(made)
}
