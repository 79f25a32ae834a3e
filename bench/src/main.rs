//! Benchmarks that print figures (a table, or JSON with `--json`), comparing in the same run.
//!
//! ```text
//! cargo run --release -p orchestrator-bench -- [all|cost|journal|makespan|planning|preflight|serve|startup|state] [--json] [--quick]
//! ```
//! `--quick` shrinks every workload (CI uses it to keep the benchmarks compiling and running);
//! the figures in BENCHMARKS.md come from the full run.

mod forge_cost;
mod journal;
mod makespan;
mod planning;
mod preflight;
mod release_state;
mod serve;
mod startup;

use serde::Serialize;

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Figure {
    /// Which benchmark.
    pub(crate) bench: &'static str,
    /// What was measured.
    pub(crate) metric: String,
    /// The value.
    pub(crate) value: f64,
    /// Its unit.
    pub(crate) unit: &'static str,
    /// The target, as text.
    pub(crate) target: String,
    /// Whether the target was met (`None` when there is no target).
    pub(crate) met: Option<bool>,
}

impl Figure {
    pub(crate) fn new(
        bench: &'static str,
        metric: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Self {
        Self {
            bench,
            metric: metric.into(),
            value,
            unit,
            target: String::new(),
            met: None,
        }
    }

    pub(crate) fn target(mut self, target: impl Into<String>, met: bool) -> Self {
        self.target = target.into();
        self.met = Some(met);
        self
    }
}

/// Options every benchmark reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Smaller workloads, for CI.
    pub(crate) quick: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let options = Options {
        quick: args.iter().any(|a| a == "--quick"),
    };
    let which: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let all = which.is_empty() || which.contains(&"all");
    let wants = |name: &str| all || which.contains(&name);
    for name in &which {
        if ![
            "all",
            "cost",
            "journal",
            "makespan",
            "planning",
            "preflight",
            "serve",
            "startup",
            "state",
        ]
        .contains(name)
        {
            anyhow::bail!(
                "unknown benchmark {name:?} (all, cost, journal, makespan, planning, preflight, serve, startup, state)"
            );
        }
    }
    let mut figures = Vec::new();
    if wants("planning") {
        figures.extend(planning::run(options)?);
    }
    if wants("startup") {
        figures.extend(startup::run(options)?);
    }
    if wants("preflight") {
        figures.extend(preflight::run(options).await?);
    }
    if wants("cost") {
        figures.extend(forge_cost::run(options).await?);
    }
    if wants("journal") {
        figures.extend(journal::run(options).await?);
    }
    if wants("state") {
        figures.extend(release_state::run(options).await?);
    }
    if wants("makespan") {
        figures.extend(makespan::run(options).await?);
    }
    if wants("serve") {
        figures.extend(serve::run(options).await?);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        print_table(&figures);
    }
    Ok(())
}

fn print_table(figures: &[Figure]) {
    println!(
        "{:<10} {:<52} {:>12} {:<6} {:<22} MET",
        "BENCH", "METRIC", "VALUE", "UNIT", "TARGET"
    );
    for f in figures {
        let met = match f.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        println!(
            "{:<10} {:<52} {:>12.3} {:<6} {:<22} {met}",
            f.bench, f.metric, f.value, f.unit, f.target
        );
    }
}

/// Peak resident memory of this process so far, in MiB (Linux `VmHWM`), if known.
pub(crate) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The median of some samples (sorted in place).
pub(crate) fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    match samples.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => samples[n / 2],
        n => (samples[n / 2 - 1] + samples[n / 2]) / 2.0,
    }
}
