//! `orchestrator publish`, `cascade`, `status`, `graph` and `ci-snippet`.
//!
//! `publish` and `cascade` plan (`--dry-run` stops there) and then run on the engine through
//! [`publish::Publisher`]: commit, tag, push, trigger, follow the caused run, write notes;
//! journaled as `publish`/`cascade` runs that `--resume` continues.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use orchestrator_core::Error;
use orchestrator_core::config::Config;
use orchestrator_core::engine::CancelToken;
use orchestrator_core::forge::RepoId;
use orchestrator_core::publish::{
    self, BumpRequest, GraphFormat, GraphOptions, PublishPlan, PublishRequest,
};
use orchestrator_core::state::RunStatus;
use orchestrator_core::vcs::Vcs;
use orchestrator_git::GixVcs;

use crate::args::{Global, OutputFormat};
use crate::{progress, render, wiring};

/// `orchestrator publish`.
#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// How versions move: major, minor, patch, prerelease, or auto (from conventional commits).
    /// Not needed with --resume, which continues the recorded plan (used only when nothing is
    /// left to resume).
    #[arg(
        long,
        value_name = "BUMP",
        required_unless_present_any = ["resume", "abandon"],
        // Listed so --help and shell completions offer them.
        value_parser = ["major", "minor", "patch", "prerelease", "auto"]
    )]
    pub(crate) bump: Option<String>,

    /// Prerelease identifier (rc, beta...): with prerelease, or to make major/minor/patch
    /// prereleases.
    #[arg(long, value_name = "ID")]
    pub(crate) preid: Option<String>,

    /// `all`, or comma-separated repo or package names (a group member brings its group).
    #[arg(long, value_delimiter = ',', value_name = "all|A,B")]
    pub(crate) packages: Vec<String>,

    /// Also publish everything downstream of the selected packages.
    #[arg(long)]
    pub(crate) with_dependents: bool,

    /// Print the plan (versions, reasons, waves); change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Continue the last unfinished publish: nothing published or dispatched twice.
    #[arg(long)]
    pub(crate) resume: bool,
    /// Give up unfinished run RUN for good (recorded in its journal; `runs` shows it
    /// `abandoned`), so a new one can start; alone, only that.
    #[arg(long, value_name = "RUN", conflicts_with = "resume")]
    pub(crate) abandon: Option<i64>,

    /// Packages in flight at once (default: [publish] concurrency, else [release] concurrency).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) concurrency: Option<u16>,
}

/// `orchestrator cascade`.
#[derive(Debug, Args)]
pub(crate) struct CascadeArgs {
    /// The changed repo (or give --event-file or --all; with --resume, none is needed).
    #[arg(
        long,
        value_name = "REPO",
        required_unless_present_any = ["event_file", "resume", "all", "abandon"],
        conflicts_with_all = ["event_file", "all"]
    )]
    pub(crate) from: Option<String>,

    /// Every repo, in dependency order (what a `build_all` event asks; with --nightly, the
    /// nightly prerelease of the whole ecosystem).
    #[arg(long, conflicts_with = "event_file")]
    pub(crate) all: bool,

    /// A repository_dispatch event payload ($GITHUB_EVENT_PATH): client_payload.repo, ref, sha.
    #[arg(long, value_name = "PATH")]
    pub(crate) event_file: Option<PathBuf>,

    /// Tag each built repo nightly-YYYYMMDD-<sha> ([publish] nightly_tag) as a prerelease.
    #[arg(long)]
    pub(crate) nightly: bool,

    /// Print what would be built, in order; change nothing.
    #[arg(long, conflicts_with = "resume")]
    pub(crate) dry_run: bool,

    /// Continue the last unfinished cascade with the plan it recorded (the same tags, even a
    /// nightly's from an earlier day): nothing tagged or dispatched twice.
    #[arg(long)]
    pub(crate) resume: bool,
    /// Give up unfinished run RUN for good (recorded in its journal; `runs` shows it
    /// `abandoned`), so a new one can start; alone, only that.
    #[arg(long, value_name = "RUN", conflicts_with = "resume")]
    pub(crate) abandon: Option<i64>,
}

/// `orchestrator graph`.
#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    /// mermaid, dot or text.
    #[arg(long, default_value = "mermaid", value_name = "FORMAT")]
    pub(crate) format: String,

    /// Only this repo and what depends on it.
    #[arg(long, value_name = "REPO")]
    pub(crate) from: Option<String>,

    /// Colour nodes by the outcome of this publish or cascade run (`orchestrator runs`).
    #[arg(long, value_name = "ID")]
    pub(crate) run: Option<i64>,
}

/// `orchestrator ci-snippet`.
#[derive(Debug, Args)]
pub(crate) struct CiSnippetArgs {
    /// The repo whose CI notifies the orchestrator.
    pub(crate) repo: String,

    /// The repository that runs the orchestrator (receives the repository_dispatch).
    #[arg(long, value_name = "OWNER/NAME")]
    pub(crate) orchestrator_repo: String,

    /// Jobs that must succeed first (default: test).
    #[arg(long, value_delimiter = ',', value_name = "JOBS")]
    pub(crate) needs: Vec<String>,
}

/// `orchestrator status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Keep the status table in this tracking issue's body (between the
    /// `orchestrator-status` markers; the rest of the body is left as written). The issue is
    /// edited only when the table changed.
    #[arg(long, value_name = "OWNER/REPO#N")]
    pub(crate) update_issue: Option<String>,
}

fn publish_request(args: &PublishArgs, bump: &str) -> Result<PublishRequest, Error> {
    let bump = BumpRequest::parse(bump)?;
    if bump == BumpRequest::Auto && args.preid.is_some() {
        return Err(Error::invalid_input(
            "--preid does not combine with --bump auto",
        ));
    }
    Ok(PublishRequest {
        bump,
        preid: args.preid.clone(),
        packages: args
            .packages
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        with_dependents: args.with_dependents,
        resume: args.resume,
        concurrency: args.concurrency.map(usize::from),
    })
}

pub(crate) async fn publish(global: &Global, args: PublishArgs) -> anyhow::Result<ExitCode> {
    if let Some(run) = args.abandon {
        crate::commands::runs::abandon(global, publish::RUN_KIND, run).await?;
        if args.bump.is_none() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let Some(bump) = args.bump.as_deref() else {
        // A bare `--resume` (clap requires --bump otherwise): the recorded plan, or an error
        // saying there is none.
        let config = wiring::load_config(global)?;
        let vcs: Arc<dyn Vcs> = Arc::new(GixVcs::new());
        return run_plan(global, config, vcs, None, publish::RUN_KIND, true, false).await;
    };
    let request = publish_request(&args, bump)?;
    let config = wiring::load_config(global)?;
    let vcs: Arc<dyn Vcs> = Arc::new(GixVcs::new());
    let observed =
        publish::observe(&config, vcs.as_ref(), request.bump == BumpRequest::Auto).await?;
    let plan = publish::plan_publish(&config, &request, &observed)?;
    if args.dry_run {
        // The same preflight the real run makes first (clones, origins, tags, manifests): what
        // it would refuse is refused here too (exit 2), and what it would rewrite is shown.
        publish::preflight_publish(&config, vcs.clone(), &plan, false).await?;
        let rewrites = publish::manifest_rewrites(&config, &plan)
            .map_err(|failures| Error::Preflight { failures })?;
        let waits = registry_waits(&config, &plan)?;
        match global.output {
            OutputFormat::Human => {
                print!("{}", render_publish_plan(&plan));
                print!("{}", render_rewrites(&rewrites));
                if !waits.is_empty() {
                    println!("\nbefore each bump, wait until installable:");
                    for (repo, versions) in &waits {
                        println!("  {repo}: {}", versions.join(", "));
                    }
                }
            }
            OutputFormat::Json => {
                let mut value = serde_json::to_value(&plan)?;
                if let Some(object) = value.as_object_mut() {
                    object.insert("manifest_rewrites".into(), serde_json::to_value(&rewrites)?);
                    object.insert("registry_waits".into(), serde_json::to_value(&waits)?);
                }
                println!("{}", serde_json::to_string_pretty(&value)?);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    run_plan(
        global,
        config,
        vcs,
        Some(plan),
        publish::RUN_KIND,
        args.resume,
        false,
    )
    .await
}

/// Runs a plan for real (a resumed run continues the plan it recorded), printing the report.
async fn run_plan(
    global: &Global,
    config: Config,
    vcs: Arc<dyn Vcs>,
    plan: Option<PublishPlan>,
    kind: &str,
    resume: bool,
    nightly: bool,
) -> anyhow::Result<ExitCode> {
    let _lock = wiring::lock_workspace(&wiring::state_dir(&config), kind)?;
    let store = wiring::open_store(&config, false).await?;
    let plan = if resume {
        match publish::resumable_plan(store.as_ref(), kind).await? {
            Some(recorded) => {
                eprintln!(
                    "resuming the unfinished {kind} of {}",
                    publish::plan_key(&recorded)
                );
                recorded
            }
            None => plan.ok_or_else(|| {
                Error::invalid_input(format!(
                    "no unfinished {kind} to resume: give --bump to start one"
                ))
            })?,
        }
    } else {
        // Planned from manifests an unfinished run may already have bumped, beside a run that
        // would stay unfinished (and `running` forever): refused until it is finished or given up.
        if let Some(unfinished) = publish::resumable_run(store.as_ref(), kind).await? {
            return Err(crate::commands::runs::unfinished_refusal(
                store.as_ref(),
                kind,
                unfinished.run,
                &publish::plan_key(&unfinished.plan),
            )
            .await
            .into());
        }
        plan.ok_or_else(|| Error::invalid_input(format!("nothing planned for {kind}")))?
    };
    if plan.packages.is_empty() {
        println!("nothing to {kind}");
        return Ok(ExitCode::SUCCESS);
    }
    let forge = wiring::forge(&config, vcs.as_ref()).await?;
    if let Some(first) = plan.packages.first() {
        crate::commands::release::check_credentials(
            forge.as_ref(),
            &config,
            &first.github,
            &first.tag,
        )
        .await?;
    }
    let cancel = CancelToken::new();
    crate::signals::cancel_on_stop_signals(cancel.clone());
    let human = global.output == OutputFormat::Human;
    let config = Arc::new(config);
    let mut publisher =
        publish::Publisher::new(config.clone(), forge, vcs, store).with_cancel(cancel);
    if human {
        publisher = publisher.with_observer(progress::for_stderr());
        eprintln!(
            "{kind}: {} package(s) in {} wave(s)",
            plan.packages.len(),
            plan.waves.len()
        );
    }
    let options = publish::PublishOptions {
        resume,
        nightly,
        kind: Some(kind.to_owned()),
    };
    let report = publisher.execute_with(&plan, &options).await?;
    match global.output {
        OutputFormat::Human => print!("{}", render_publish_report(&report)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    crate::gha::publish_report(&config, &report);
    Ok(if report.status == RunStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One package's row of a result table: name, version, tag, outcome, run (`-` when none). The
/// terminal table adds the error; the step summary does not.
pub(crate) fn package_row(p: &publish::PackageReport) -> Vec<String> {
    vec![
        p.name.clone(),
        p.version.clone(),
        p.tag.clone(),
        p.outcome.as_str().to_owned(),
        p.run_url.clone().unwrap_or_else(|| "-".into()),
    ]
}

/// The result table of `publish` and `cascade`.
pub(crate) fn render_publish_report(report: &publish::PublishReport) -> String {
    let rows: Vec<Vec<String>> = report
        .packages
        .iter()
        .map(|p| {
            let mut row = package_row(p);
            row.push(p.error.clone().unwrap_or_default());
            row
        })
        .collect();
    let mut out = render::table(
        &["repo", "version", "tag", "outcome", "run", "error"],
        &rows,
    );
    let count = |o| report.with_outcome(o).len();
    let _ = writeln!(
        out,
        "\n{} run {}: {:?}; {} released, {} failed, {} held back",
        report.kind,
        report.run_id,
        report.status,
        count(publish::PackageOutcome::Released),
        count(publish::PackageOutcome::Failed),
        count(publish::PackageOutcome::HeldBack),
    );
    if let Some(tag) = &report.umbrella {
        let _ = writeln!(out, "umbrella release: {tag}");
    }
    if let Some(file) = &report.coordination {
        let _ = writeln!(out, "coordination manifest: {file}");
    }
    out
}

/// Per package whose released dependencies declare a `registry`: the versions its `available`
/// step will wait for (`pkg@version on URL`), in plan order.
fn registry_waits(
    config: &Config,
    plan: &PublishPlan,
) -> Result<Vec<(String, Vec<String>)>, Error> {
    let mut out = Vec::new();
    for p in &plan.packages {
        let awaited = publish::run::awaited_versions(config, plan, &p.name)?;
        if !awaited.is_empty() {
            out.push((
                p.name.clone(),
                awaited.iter().map(ToString::to_string).collect(),
            ));
        }
    }
    Ok(out)
}

/// The manifest rewrites `publish --dry-run` prints under the plan: per file, each key
/// `old -> new`.
pub(crate) fn render_rewrites(rewrites: &[publish::ManifestRewrite]) -> String {
    let mut out = String::new();
    for r in rewrites.iter().filter(|r| !r.changes.is_empty()) {
        let _ = writeln!(out, "\n{} ({}):", r.file.display(), r.repo);
        for c in &r.changes {
            let _ = writeln!(out, "  {}: {} -> {}", c.key, c.from, c.to);
        }
    }
    out
}

/// The plan `publish --dry-run` prints.
pub(crate) fn render_publish_plan(plan: &PublishPlan) -> String {
    let mut out = format!(
        "publish plan: {} package(s) in {} wave(s); longest chain {} (concurrency {})\n\n",
        plan.packages.len(),
        plan.waves.len(),
        plan.longest_chain,
        plan.concurrency
    );
    let rows: Vec<Vec<String>> = plan
        .packages
        .iter()
        .map(|p| {
            vec![
                (plan
                    .waves
                    .iter()
                    .position(|w| w.contains(&p.name))
                    .unwrap_or(0)
                    + 1)
                .to_string(),
                p.name.clone(),
                p.packages.join(","),
                format!("{} -> {}", p.current, p.next),
                p.tag.clone(),
                p.reason.clone(),
            ]
        })
        .collect();
    out.push_str(&render::table(
        &["wave", "repo", "packages", "version", "tag", "why"],
        &rows,
    ));
    if !plan.skipped.is_empty() {
        out.push_str("\nnot released:\n");
        for s in &plan.skipped {
            let _ = writeln!(out, "  {} stays at {}: {}", s.name, s.current, s.reason);
        }
    }
    if let Some(tag) = &plan.umbrella_tag {
        let _ = writeln!(out, "\numbrella release: {tag}");
    }
    out
}

pub(crate) async fn cascade(global: &Global, args: CascadeArgs) -> anyhow::Result<ExitCode> {
    if let Some(run) = args.abandon {
        crate::commands::runs::abandon(global, publish::CASCADE_RUN_KIND, run).await?;
        if args.from.is_none() && args.event_file.is_none() && !args.all {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let config = wiring::load_config(global)?;
    let trigger = cascade_trigger(&config, &args)?;
    if args.resume {
        let store = wiring::open_store(&config, true).await?;
        if let Some(recorded) =
            publish::resumable_run(store.as_ref(), publish::CASCADE_RUN_KIND).await?
        {
            drop(store);
            check_resumable_cascade(&config, &recorded, trigger.as_ref(), args.nightly)?;
            let vcs: Arc<dyn Vcs> = Arc::new(GixVcs::new());
            let nightly = recorded.nightly;
            return run_plan(
                global,
                config,
                vcs,
                Some(recorded.plan),
                publish::CASCADE_RUN_KIND,
                true,
                nightly,
            )
            .await;
        }
        if trigger.is_none() {
            return Err(Error::invalid_input(
                "no unfinished cascade to resume: give --from, --all or --event-file to start one",
            )
            .into());
        }
    }
    if let (Some(t), Some(path)) = (&trigger, &args.event_file) {
        // A new run only, before any state is written: an event about another commit changes
        // nothing. A resumed run was checked when it began; its own bump commits moved HEAD since.
        publish::check_trigger_sha(&config, &GixVcs::new(), t)
            .await
            .map_err(|e| match e {
                Error::InvalidInput { message } => {
                    Error::invalid_input(format!("{}: {message}", path.display()))
                }
                other => other,
            })?;
    }
    let trigger = trigger.expect("clap requires --from, --all or --event-file without --resume");
    let waves = publish::cascade_waves(&config, trigger.repo.as_deref())?;
    if args.dry_run {
        match global.output {
            OutputFormat::Human => {
                println!(
                    "cascade {}{}: {} repo(s) in {} wave(s)",
                    trigger
                        .repo
                        .as_deref()
                        .map_or_else(|| "of every repo".to_owned(), |r| format!("from {r}")),
                    if args.nightly { " (nightly)" } else { "" },
                    waves.iter().map(Vec::len).sum::<usize>(),
                    waves.len()
                );
                for (i, wave) in waves.iter().enumerate() {
                    println!("wave {}: {}", i + 1, wave.join(", "));
                }
            }
            OutputFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "trigger": trigger,
                    "nightly": args.nightly,
                    "waves": waves,
                }))?
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let vcs: Arc<dyn Vcs> = Arc::new(GixVcs::new());
    let observed = publish::observe(&config, vcs.as_ref(), false).await?;
    let plan = publish::plan_cascade(
        &config,
        vcs.as_ref(),
        &observed,
        trigger.repo.as_deref(),
        args.nightly,
        orchestrator_core::state::now_ms(),
    )
    .await?;
    run_plan(
        global,
        config,
        vcs,
        Some(plan),
        publish::CASCADE_RUN_KIND,
        args.resume,
        args.nightly,
    )
    .await
}

/// The cascade's trigger from `--event-file` or `--from`; `None` only with `--resume`.
fn cascade_trigger(
    config: &Config,
    args: &CascadeArgs,
) -> Result<Option<publish::CascadeTrigger>, Error> {
    Ok(match (&args.event_file, &args.from) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::invalid_input(format!("cannot read event file {}: {e}", path.display()))
            })?;
            let trigger = publish::parse_dispatch_event(config, &text).map_err(|e| match e {
                // Name the file: the payload came from it.
                Error::InvalidInput { message } => {
                    Error::invalid_input(format!("{}: {message}", path.display()))
                }
                other => other,
            })?;
            Some(trigger)
        }
        (None, Some(from)) => {
            // Checked here so a typo is refused before any state is read.
            publish::cascade_waves(config, Some(from))?;
            Some(publish::CascadeTrigger {
                repo: Some(from.clone()),
                git_ref: None,
                sha: None,
                event_type: None,
            })
        }
        (None, None) if args.all => Some(publish::CascadeTrigger {
            repo: None,
            git_ref: None,
            sha: None,
            event_type: None,
        }),
        (None, None) => None,
    })
}

/// A resumed cascade must be the one asked for. With a trigger: the same repos, and the same
/// kind (`--nightly` or not), so an event asking for a release never finishes a nightly instead.
/// A bare `--resume` continues whatever was recorded, except that `--nightly` must not resume a
/// regular cascade.
fn check_resumable_cascade(
    config: &Config,
    recorded: &publish::RecordedRun,
    trigger: Option<&publish::CascadeTrigger>,
    nightly: bool,
) -> Result<(), Error> {
    let recorded_repos: Vec<&str> = recorded
        .plan
        .packages
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    if let Some(trigger) = trigger {
        let wanted = publish::cascade_packages(config, trigger.repo.as_deref())?;
        let mut a: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let mut b = recorded_repos.clone();
        a.sort_unstable();
        b.sort_unstable();
        if a != b {
            return Err(Error::invalid_input(format!(
                "--resume: the unfinished cascade (run {}) covers {}, not the cascade {}; \
                 run it with a bare --resume to finish it, or without --resume to start a new one",
                recorded.run,
                recorded_repos.join(", "),
                trigger
                    .repo
                    .as_deref()
                    .map_or_else(|| "of every repo".to_owned(), |r| format!("from {r}"))
            )));
        }
    }
    let kind = |n: bool| if n { "a nightly" } else { "not a nightly" };
    if (nightly || trigger.is_some()) && nightly != recorded.nightly {
        return Err(Error::invalid_input(format!(
            "--resume: the unfinished cascade (run {}) is {}; {} it, or run without --resume to \
             start a new one",
            recorded.run,
            kind(recorded.nightly),
            if recorded.nightly {
                "add --nightly to finish"
            } else {
                "drop --nightly to finish"
            }
        )));
    }
    Ok(())
}

pub(crate) async fn graph(global: &Global, args: &GraphArgs) -> anyhow::Result<ExitCode> {
    let format = GraphFormat::parse(&args.format)?;
    let config = wiring::load_config(global)?;
    let mut options = GraphOptions {
        from: args.from.clone(),
        outcomes: BTreeMap::new(),
    };
    if let Some(run) = args.run {
        options.outcomes = run_outcomes(&config, run).await?;
    }
    let text = publish::render_graph(&config, format, &options)?;
    render::text_document(
        global,
        serde_json::json!({ "format": args.format }),
        "graph",
        &text,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Each repo's outcome in a run, as its journal finally leaves it (see
/// [`publish::journal_outcomes`]: after a resume, the retried steps' results count).
async fn run_outcomes(config: &Config, run: i64) -> anyhow::Result<BTreeMap<String, String>> {
    let store = wiring::open_store(config, true).await?;
    let run: orchestrator_core::state::RunId = run;
    if store.run(run).await?.is_none() {
        return Err(Error::NotFound {
            what: format!("run {run}"),
        }
        .into());
    }
    Ok(publish::journal_outcomes(
        config,
        &store.journal(run).await?,
    ))
}

pub(crate) fn ci_snippet(global: &Global, args: &CiSnippetArgs) -> anyhow::Result<ExitCode> {
    let config = wiring::load_config(global)?;
    let target: RepoId = args.orchestrator_repo.parse()?;
    let text = publish::ci_snippet(&config, &args.repo, &target, &args.needs)?;
    render::text_document(
        global,
        serde_json::json!({ "repo": args.repo }),
        "snippet",
        &text,
    )?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn status(global: &Global, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    // Parse the flag before touching the forge: a bad reference changes nothing.
    let issue = args
        .update_issue
        .as_deref()
        .map(publish::parse_issue_ref)
        .transpose()?;
    let config = wiring::load_config(global)?;
    let file = &config.publish.coordination;
    let expected = match std::fs::read_to_string(file) {
        Ok(text) => publish::read_coordination(&text)
            .map_err(|e| Error::invalid_input(format!("{}: {e}", file.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(Error::io(format!("reading {}", file.display()), e).into()),
    };
    let vcs: Arc<dyn Vcs> = Arc::new(GixVcs::new());
    let forge = wiring::forge(&config, vcs.as_ref()).await?;
    let now = orchestrator_core::state::now_ms();
    let rows = match publish::status_rows(&config, forge.clone(), &expected, now).await {
        Ok(rows) => rows,
        Err(e) if e.is_bad_input() => return Err(e.into()),
        Err(e) => {
            // No verdict is not drift: its own exit code, so a scheduled check can tell them apart.
            let message = format!(
                "cannot read the release status from the forge at {}: {e}",
                wiring::forge_label(&config)
            );
            eprintln!(
                "error: {}",
                orchestrator_core::forge::redact_userinfo(&message)
            );
            return Ok(ExitCode::from(STATUS_FORGE_UNREADABLE));
        }
    };
    let drifted = rows.iter().any(|r| r.drift.is_some());
    match global.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        OutputFormat::Human => print!("{}", render_status(&rows)),
    }
    let markdown = publish::status_markdown(&rows);
    if let Some((repo, number)) = issue {
        let current = forge.issue(&repo, number).await?;
        let checked_at = orchestrator_core::tasks::format_utc_ms(now);
        match publish::issue_body_with_status(&current.body, &markdown, &checked_at) {
            Some(body) => {
                forge.update_issue_body(&repo, number, &body).await?;
                eprintln!("updated the status table in {repo}#{number}");
            }
            None => eprintln!("{repo}#{number} already shows this status"),
        }
    }
    let drifted_repos: Vec<&str> = rows
        .iter()
        .filter(|r| r.drift.is_some())
        .map(|r| r.repo.as_str())
        .collect();
    crate::gha::write(
        &[
            ("status", if drifted { "drift" } else { "ok" }.to_owned()),
            ("drifted", drifted_repos.join(",")),
        ],
        Some(&format!("## Ecosystem status\n\n{markdown}\n")),
    );
    Ok(if drifted {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `status`'s exit code when the forge could not be read (1 is drift); see its `--help`.
const STATUS_FORGE_UNREADABLE: u8 = 3;

/// The table `status` prints.
fn render_status(rows: &[publish::StatusRow]) -> String {
    let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.repo.clone(),
                dash(&r.latest_release),
                dash(&r.age),
                dash(&r.expected),
                dash(&r.conclusion),
                dash(&r.latest_run),
                dash(&r.drift),
            ]
        })
        .collect();
    render::table(
        &[
            "repo",
            "latest release",
            "age",
            "expected",
            "release run",
            "run url",
            "drift",
        ],
        &table,
    )
}
