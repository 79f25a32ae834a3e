//! `orchestrator man`: man pages generated from the clap definition, so they never disagree with
//! `--help` (examples and exit codes included).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Command;

/// Prints the top page, or writes one page per command (nested ones joined by `-`) into `dir`.
pub(crate) fn run(mut command: Command, dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    // Propagates the global options (--config, --output...) into every subcommand's page.
    command.build();
    let Some(dir) = dir else {
        print!("{}", String::from_utf8_lossy(&page(&command)?));
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    write_pages(&command, "orchestrator", dir, &mut written)?;
    for path in &written {
        println!("{path}");
    }
    Ok(ExitCode::SUCCESS)
}

/// One command's page, in roff.
fn page(command: &Command) -> anyhow::Result<Vec<u8>> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut roff)
        .context("cannot render the man page")?;
    Ok(roff)
}

fn write_pages(
    command: &Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<String>,
) -> anyhow::Result<()> {
    // clap_mangen titles a page by the command's name: give nested ones their full name.
    let named = command
        .clone()
        .name(name.to_string())
        .version(env!("CARGO_PKG_VERSION"));
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page(&named)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path.display().to_string());
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// One page per command, nested ones named by their path, each with the examples and exit
    /// codes `--help` shows.
    #[test]
    fn writes_a_page_per_command_with_examples() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut command = crate::help::decorate(crate::args::Cli::command());
        command.build();
        let mut written = Vec::new();
        super::write_pages(&command, "orchestrator", dir.path(), &mut written).expect("pages");
        let page = std::fs::read_to_string(dir.path().join("orchestrator-scale-plan.1"))
            .expect("a page for a nested command");
        assert!(page.contains(".TH orchestrator-scale-plan 1"), "{page}");
        assert!(
            page.contains("\\-\\-state\\-dir"),
            "global options are listed: {page}"
        );
        assert!(page.contains("Examples:"), "{page}");
        assert!(page.contains("Exit codes:"), "{page}");
        assert!(written.len() > 20, "{written:?}");
        assert!(
            !written.iter().any(|p| p.ends_with("-help.1")),
            "{written:?}"
        );
    }
}
