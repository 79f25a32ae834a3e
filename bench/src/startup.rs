//! Start-up: `orchestrator --version` as a process. Target: under 20 ms.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::{Figure, Options};

/// The `orchestrator` binary beside this one (same profile), built if missing.
fn binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dir = me
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no directory for {}", me.display()))?;
    let bin = dir.join("orchestrator");
    if !bin.exists() {
        let release = dir.ends_with("release");
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "-q", "-p", "orchestrator-cli"]);
        if release {
            build.arg("--release");
        }
        anyhow::ensure!(
            build.status()?.success(),
            "building orchestrator-cli failed"
        );
    }
    Ok(bin)
}

pub(crate) fn run(options: Options) -> anyhow::Result<Vec<Figure>> {
    let bin = binary()?;
    let runs = if options.quick { 10 } else { 100 };
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs + 3 {
        let started = Instant::now();
        let out = Command::new(&bin).arg("--version").output()?;
        anyhow::ensure!(out.status.success(), "orchestrator --version failed");
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.drain(..3); // warm-up: page cache
    let median = crate::median(&mut samples);
    let p90 = samples[(samples.len() * 9 / 10).min(samples.len() - 1)];
    Ok(vec![
        Figure::new(
            "startup",
            format!("orchestrator --version, median of {runs}"),
            median,
            "ms",
        )
        .target("< 20 ms", median < 20.0),
        Figure::new("startup", "orchestrator --version, p90", p90, "ms"),
    ])
}
