//! `orchestrator config check`.

use std::process::ExitCode;

use crate::args::{ConfigArgs, ConfigCommand, Global, OutputFormat};
use crate::wiring;

pub(crate) fn run(global: &Global, args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ConfigCommand::Check => {
            let config = wiring::load_config(global)?;
            let waves = config.graph.waves(None);
            match global.output {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::json!({ "file": config.file, "repos": config.repos.len(), "waves": waves })
                ),
                OutputFormat::Human => {
                    println!(
                        "{}: ok, {} repo(s)",
                        config.file.display(),
                        config.repos.len()
                    );
                    for (i, wave) in waves.iter().enumerate() {
                        println!("  wave {}: {}", i + 1, wave.join(", "));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
