//! `orchestrator scale ci-workflows`: the GitHub Actions workflow that runs the comment commands.

use std::process::ExitCode;

use anyhow::Context;
use orchestrator_core::Error;

use super::args::CiWorkflowsArgs;
use crate::args::{Global, OutputFormat};

/// Writes or prints the generated workflows. With `--output json`, one document lists each file:
/// its name, the path written (with `--dir`) and its text.
pub(super) fn ci_workflows(global: &Global, args: &CiWorkflowsArgs) -> anyhow::Result<ExitCode> {
    let files = workflow_files(args)?;
    let mut written = Vec::with_capacity(files.len());
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, text) in &files {
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            written.push(Some(path));
        }
    } else {
        written.resize(files.len(), None);
    }
    match global.output {
        OutputFormat::Json => {
            let items: Vec<serde_json::Value> = files
                .iter()
                .zip(&written)
                .map(|((name, text), path)| {
                    serde_json::json!({
                        "name": name,
                        "path": path.as_ref().map(|p| p.display().to_string()),
                        "text": text,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "workflows": items }))?
            );
        }
        OutputFormat::Human => {
            for ((name, text), path) in files.iter().zip(&written) {
                match path {
                    Some(path) => println!("{}", path.display()),
                    None => println!("# .github/workflows/{name}\n{text}"),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The workflow templates, kept as YAML files so they read (and lint) as what they are. Each
/// `@NAME@` is filled in by [`workflow_files`].
const PLAN_COMMANDS_YML: &str = include_str!("../../../templates/workflows/plan-commands.yml");

/// The generated workflows, by file name: the templates with the pinned version, checksum and
/// download URL filled in. Refuses a checksum that is not 64 hex digits, and a URL or version
/// that would break out of the YAML string they are written into.
fn workflow_files(args: &CiWorkflowsArgs) -> Result<Vec<(&'static str, String)>, Error> {
    let sha = args.orchestrator_sha256.to_ascii_lowercase();
    if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::invalid_input(format!(
            "--orchestrator-sha256 {}: expected the 64 hex digits of the release archive's \
             SHA-256 (sha256sum orchestrator-*.tar.gz)",
            args.orchestrator_sha256
        )));
    }
    let plain = |flag: &str, value: &str| {
        if value.is_empty()
            || value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "\"'\\$`".contains(c))
        {
            Err(Error::invalid_input(format!(
                "{flag} {value:?}: must be non-empty, without spaces, quotes, `$` or backslashes"
            )))
        } else {
            Ok(())
        }
    };
    plain("--orchestrator-version", &args.orchestrator_version)?;
    plain("--asset-url", &args.asset_url)?;
    if !args.asset_url.starts_with("https://") {
        return Err(Error::invalid_input(format!(
            "--asset-url {}: must be an https:// URL",
            args.asset_url
        )));
    }
    let fill = |template: &str| {
        template
            .replace("@ORCHESTRATOR_VERSION@", &args.orchestrator_version)
            .replace("@ORCHESTRATOR_SHA256@", &sha)
            .replace("@ORCHESTRATOR_ASSET_URL@", &args.asset_url)
    };
    Ok(vec![("plan-commands.yml", fill(PLAN_COMMANDS_YML))])
}
