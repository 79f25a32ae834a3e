//! GitHub Actions integration: key results to `$GITHUB_OUTPUT` and a Markdown summary to
//! `$GITHUB_STEP_SUMMARY`, from every command that acts.
//!
//! One module so every command writes them the same way: values with a newline use GitHub's
//! `name<<DELIMITER` form with a delimiter drawn at random (a value cannot end the block early and
//! inject outputs of its own), table cells are escaped, and a failure to write is a warning on
//! stderr, never a failed run: the work is done by then, and exit 1 would make a scheduler retry
//! it.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::Path;

/// Appends `outputs` to `$GITHUB_OUTPUT` and `summary` (Markdown) to `$GITHUB_STEP_SUMMARY`, each
/// when that variable is set; outside Actions, nothing happens.
pub(crate) fn write(outputs: &[(&str, String)], summary: Option<&str>) {
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT") {
        append_or_warn("GITHUB_OUTPUT", Path::new(&path), &output_lines(outputs));
    }
    if let (Some(path), Some(summary)) = (std::env::var_os("GITHUB_STEP_SUMMARY"), summary) {
        let mut text = summary.to_owned();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        append_or_warn("GITHUB_STEP_SUMMARY", Path::new(&path), &text);
    }
}

/// `publish` and `cascade` in a GitHub Actions job: the graph coloured by outcome and the
/// result table as the step summary; `status`, `released`, `failed`, `held_back` (comma-separated)
/// and `umbrella` as outputs.
pub(crate) fn publish_report(
    config: &orchestrator_core::config::Config,
    report: &orchestrator_core::publish::PublishReport,
) {
    use orchestrator_core::publish::{self, GraphFormat, GraphOptions, PackageOutcome};
    if std::env::var_os("GITHUB_OUTPUT").is_none()
        && std::env::var_os("GITHUB_STEP_SUMMARY").is_none()
    {
        return;
    }
    let options = GraphOptions {
        from: None,
        outcomes: report
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.outcome.as_str().to_owned()))
            .collect(),
    };
    let graph = match publish::render_graph(config, GraphFormat::Mermaid, &options) {
        Ok(graph) => format!("```mermaid\n{}\n```\n\n", graph.trim_end()),
        Err(e) => {
            eprintln!("warning: the step summary goes without its graph: {e}");
            String::new()
        }
    };
    let rows: Vec<Vec<String>> = report
        .packages
        .iter()
        .map(crate::commands::publish::package_row)
        .collect();
    let summary = format!(
        "## {} {}: {}\n\n{graph}{}",
        report.kind,
        report.key,
        report.status,
        table(&["package", "version", "tag", "outcome", "run"], &rows)
    );
    let list = |outcome| report.with_outcome(outcome).join(",");
    write(
        &[
            ("status", report.status.to_string()),
            ("released", list(PackageOutcome::Released)),
            ("failed", list(PackageOutcome::Failed)),
            ("held_back", list(PackageOutcome::HeldBack)),
            ("umbrella", report.umbrella.clone().unwrap_or_default()),
        ],
        Some(&summary),
    );
}

/// The `$GITHUB_OUTPUT` text for `outputs`: `name=value`, or the delimiter form for a value with
/// a line break.
pub(crate) fn output_lines(outputs: &[(&str, String)]) -> String {
    let mut text = String::new();
    for (name, value) in outputs {
        if value.contains('\n') || value.contains('\r') {
            let delimiter = delimiter_for(value);
            let _ = write!(text, "{name}<<{delimiter}\n{value}\n{delimiter}\n");
        } else {
            let _ = writeln!(text, "{name}={value}");
        }
    }
    text
}

/// A Markdown table cell: `|` escaped and line breaks turned into `<br>`, so a value (an error
/// message, a URL) stays in its cell and its row.
pub(crate) fn cell(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace(['\n', '\r'], "<br>")
}

/// A Markdown table with escaped cells.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut text = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        let _ = writeln!(text, "| {} |", cells.join(" | "));
    }
    text
}

/// `ghadelimiter_` and 32 random hex digits, drawn again in the (astronomically unlikely) case
/// that the value contains it.
fn delimiter_for(value: &str) -> String {
    loop {
        let delimiter = format!("ghadelimiter_{}", random_hex());
        if !value.contains(&delimiter) {
            return delimiter;
        }
    }
}

/// 16 bytes from the OS's random source as hex. Should /dev/urandom be unreadable, the clock and
/// process id stand in: still unknown to whoever wrote the value, and [`delimiter_for`] checks
/// the value anyway.
fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mixed = nanos ^ (u128::from(std::process::id()) << 64);
        bytes = mixed.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn append_or_warn(variable: &str, path: &Path, text: &str) {
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()));
    if let Err(e) = written {
        eprintln!(
            "warning: could not write ${variable} ({}): {e}; the run itself is unaffected",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_values_are_name_equals_value() {
        let text = output_lines(&[("status", "succeeded".into()), ("run_id", "7".into())]);
        assert_eq!(text, "status=succeeded\nrun_id=7\n");
    }

    #[test]
    fn multi_line_values_use_a_random_delimiter_the_value_cannot_close() {
        let value = "line one\nEOF\nghadelimiter_\nfailed=injected";
        let text = output_lines(&[("summary", value.to_owned())]);
        let (head, rest) = text.split_once('\n').expect("a header line");
        let delimiter = head.strip_prefix("summary<<").expect("delimiter form");
        assert!(delimiter.len() > "ghadelimiter_".len() + 16, "{delimiter}");
        assert_eq!(rest, format!("{value}\n{delimiter}\n"));
        // Parsed as the runner does: the value ends only at the delimiter line.
        let body: Vec<&str> = rest.lines().take_while(|l| *l != delimiter).collect();
        assert_eq!(body.join("\n"), value);
        let again = output_lines(&[("summary", value.to_owned())]);
        assert_ne!(text, again, "a fresh delimiter each time");
    }

    #[test]
    fn table_cells_escape_pipes_and_line_breaks() {
        assert_eq!(cell("a|b\nc\r\nd"), "a\\|b<br>c<br>d");
        let t = table(
            &["repo", "error"],
            &[vec!["x".into(), "exit 1 | tail\nmore".into()]],
        );
        assert_eq!(
            t,
            "| repo | error |\n|---|---|\n| x | exit 1 \\| tail<br>more |\n"
        );
    }
}
