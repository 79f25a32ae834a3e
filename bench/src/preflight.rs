//! Preflight at scale: 50 generated repos of 5,000 files with bare origins. Full preflight with
//! `GixVcs` (what `orchestrator release` runs) against the same checks through the git CLI one
//! repo after another, as the seed does. Target: at least 3x faster.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use orchestrator_core::config::Config;
use orchestrator_core::release::{ReleaseRequest, plan_release};
use orchestrator_core::state::MemoryStateStore;
use orchestrator_core::version::ReleaseVersion;
use orchestrator_git::GixVcs;
use orchestrator_git::sandbox::{Sandbox, git};

use crate::{Figure, Options};

fn run_git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The seed's preflight for one repo, through the git CLI.
fn seed_preflight(clone: &Path, tag: &str) -> anyhow::Result<()> {
    let url = run_git(clone, &["remote", "get-url", "origin"])?;
    anyhow::ensure!(!url.is_empty(), "no origin");
    run_git(clone, &["fetch", "--quiet", "origin"])?;
    let status = run_git(clone, &["status", "--porcelain"])?;
    anyhow::ensure!(status.is_empty(), "dirty: {status}");
    let branch = run_git(clone, &["symbolic-ref", "--short", "HEAD"])?;
    let head = run_git(clone, &["rev-parse", "HEAD"])?;
    let upstream = run_git(clone, &["rev-parse", &format!("origin/{branch}")])?;
    anyhow::ensure!(head == upstream, "HEAD differs from origin");
    anyhow::ensure!(
        run_git(clone, &["tag", "--list", tag])?.is_empty(),
        "tag exists locally"
    );
    anyhow::ensure!(
        run_git(clone, &["ls-remote", "--tags", "origin", tag])?.is_empty(),
        "tag exists on origin"
    );
    Ok(())
}

/// Builds `repos` clones with bare origins, each holding `files` files, under `root`.
fn build(root: &Path, repos: usize, files: usize) -> anyhow::Result<Vec<PathBuf>> {
    let sandbox = Sandbox::new(root)?;
    let contents: Vec<(String, String)> = (0..files)
        .map(|i| {
            (
                format!("src/m{:02}/f{i}.txt", i % 50),
                format!("file {i}\n"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = contents
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let template = sandbox.create_repo("repo-0", &refs)?;
    let mut clones = vec![template.clone.clone()];
    for i in 1..repos {
        let name = format!("repo-{i}");
        let repo = sandbox.repo(&name);
        run_git(
            root,
            &[
                "clone",
                "--quiet",
                "--bare",
                template.origin.to_str().unwrap_or_default(),
                repo.origin.to_str().unwrap_or_default(),
            ],
        )?;
        let status = Command::new("cp")
            .arg("-a")
            .arg(&template.clone)
            .arg(&repo.clone)
            .status()?;
        anyhow::ensure!(status.success(), "cp failed");
        git(
            &repo.clone,
            &[
                "remote",
                "set-url",
                "origin",
                repo.origin.to_str().unwrap_or_default(),
            ],
        )?;
        git(&repo.clone, &["fetch", "--quiet", "origin"])?;
        clones.push(repo.clone);
    }
    // Refresh every index once, so neither side pays for re-hashing copied files.
    for clone in &clones {
        run_git(clone, &["update-index", "--refresh", "-q"])?;
    }
    let mut config = String::from("[forge]\nowner = \"bench\"\n");
    for i in 0..repos {
        config.push_str(&format!("[[repo]]\nname = \"repo-{i}\"\n"));
    }
    std::fs::write(root.join("orchestrator.toml"), config)?;
    Ok(clones)
}

pub(crate) async fn run(options: Options) -> anyhow::Result<Vec<Figure>> {
    let (repos, files) = if options.quick { (5, 200) } else { (50, 5_000) };
    let dir = tempfile::tempdir()?;
    let setup = Instant::now();
    let clones = build(dir.path(), repos, files)?;
    eprintln!(
        "preflight: built {repos} repos x {files} files in {:.1}s",
        setup.elapsed().as_secs_f64()
    );
    let config = Config::load(&dir.path().join("orchestrator.toml"))?;
    let request = ReleaseRequest::new(ReleaseVersion::parse("9.9.9")?);
    let mut ours = f64::INFINITY;
    let mut seed = f64::INFINITY;
    // Best of three each, alternating, so cache warmth favours neither.
    for _ in 0..3 {
        let started = Instant::now();
        for clone in &clones {
            seed_preflight(clone, "v9.9.9")?;
        }
        seed = seed.min(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let plan = plan_release(
            &config,
            Arc::new(GixVcs::new()),
            &MemoryStateStore::default(),
            &request,
        )
        .await?;
        ours = ours.min(started.elapsed().as_secs_f64());
        anyhow::ensure!(plan.repos.len() == repos, "every repo passed preflight");
    }
    let speedup = seed / ours;
    Ok(vec![
        Figure::new(
            "preflight",
            format!("{repos} repos x {files} files: GixVcs, all repos at once"),
            ours * 1000.0,
            "ms",
        ),
        Figure::new(
            "preflight",
            "same checks via git CLI, one repo after another (seed)",
            seed * 1000.0,
            "ms",
        ),
        Figure::new(
            "preflight",
            "per repo: GixVcs (wall time / repos)",
            ours * 1000.0 / repos as f64,
            "ms",
        ),
        Figure::new(
            "preflight",
            "per repo: git CLI",
            seed * 1000.0 / repos as f64,
            "ms",
        ),
        Figure::new("preflight", "speed-up", speedup, "x").target(">= 3x", speedup >= 3.0),
    ])
}
