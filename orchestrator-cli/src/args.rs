//! Command-line arguments, as clap sees them. Converted once into library requests.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Coordinate releases across many repositories: tag in dependency order, push, and wait until
/// every release's assets exist and have settled.
#[derive(Debug, Parser)]
#[command(name = "orchestrator", version, term_width = 100)]
pub(crate) struct Cli {
    /// The config file (default: orchestrator.toml in this directory or the nearest parent).
    #[arg(long, global = true, env = "ORCHESTRATOR_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// How to print results: human tables, or one JSON document on stdout.
    #[arg(
        long,
        global = true,
        env = "ORCHESTRATOR_OUTPUT",
        value_enum,
        default_value_t = OutputFormat::Human
    )]
    pub(crate) output: OutputFormat,

    /// Colour on stderr: auto (only on a terminal, and not when NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub(crate) color: ColorChoice,

    /// Errors only on stderr: no progress, notes or warnings (results still go to stdout).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    /// The forge API URL (GitHub Enterprise, a mock server); overrides [forge] api_url.
    #[arg(
        long,
        global = true,
        env = "ORCHESTRATOR_FORGE_URL",
        // `--help` would print the variable's value, and a URL may carry user:password@.
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) forge_url: Option<String>,

    /// Where the journal, workspace lock, task records and state.db live (default:
    /// .orchestrator beside the config, or in this directory for commands without one). Keep it
    /// between CI jobs to resume or list runs from another runner; relative to this directory.
    #[arg(
        long,
        global = true,
        env = "ORCHESTRATOR_STATE_DIR",
        // The help text must not depend on the runner's environment.
        hide_env_values = true,
        value_name = "DIR"
    )]
    pub(crate) state_dir: Option<PathBuf>,

    /// More logging (-v: progress details and retries; -vv: everything).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command shares.
#[derive(Debug, Clone)]
pub(crate) struct Global {
    pub(crate) config: Option<PathBuf>,
    pub(crate) output: OutputFormat,
    pub(crate) forge_url: Option<String>,
}

impl Cli {
    pub(crate) fn global(&self) -> Global {
        Global {
            config: self.config.clone(),
            output: self.output,
            forge_url: self.forge_url.clone(),
        }
    }
}

/// When stderr is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set to a non-empty value.
    Auto,
    /// Always, even into a pipe or file.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour stderr. `auto` follows <https://no-color.org>: a non-empty NO_COLOR
    /// turns colour off; an explicit `--color always` still wins, as that convention allows.
    pub(crate) fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        }
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Tables and progress lines for people.
    Human,
    /// One JSON document on stdout.
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Tag every repo at HEAD in dependency order, push the tags, and wait for their release
    /// assets.
    #[command(visible_alias = "release-iso")]
    Release(ReleaseArgs),
    /// Run a pipeline: its apply flow (or --delete flow) step by step, over layered env files.
    Run(RunArgs),
    /// Run a scheduled task list: gated tasks, one record per task in the state store.
    Tasks(TasksArgs),
    /// Build a sandbox of TruthDB-shaped repos with bare origins and release them end to end on a
    /// simulated forge (no network, no token).
    #[cfg(feature = "mock")]
    Demo(DemoArgs),
    /// Recent runs and their task records from the state store (`runs` alone lists them).
    Runs(RunsArgs),
    /// Inspect the configuration.
    Config(ConfigArgs),
    /// Publish packages across the dependency graph: bump versions, rewrite manifests, commit,
    /// tag, trigger each release and follow the run it caused.
    Publish(crate::commands::publish::PublishArgs),
    /// Rebuild a changed repo and everything downstream of it (from --from or a
    /// repository_dispatch event), optionally as nightly prereleases; --resume finishes one.
    Cascade(crate::commands::publish::CascadeArgs),
    /// One row per repo: latest release and its age, the version the coordination manifest
    /// expects, the latest release run, drift; exit 1 on drift (optionally kept in an issue).
    Status(crate::commands::publish::StatusArgs),
    /// The dependency graph as Mermaid, DOT or text: groups as subgraphs, the longest chain
    /// highlighted.
    Graph(crate::commands::publish::GraphArgs),
    /// Print the CI job a repo adds to notify the orchestrator after a green push.
    CiSnippet(crate::commands::publish::CiSnippetArgs),
    /// Serve a mock GitHub API (releases, ETags, pagination, rate limits, faults) whose simulated
    /// CI publishes releases for tags pushed to local bare origins.
    #[cfg(feature = "mock")]
    MockForge(crate::commands::mock_forge::MockForgeArgs),
    /// Kubernetes scaling plans: plan, propose as a PR, apply and roll back behind reviews.
    Scale(crate::commands::scale::ScaleArgs),
    /// Act on /apply-plan, /rollback-plan, /unlock-plan (and answer /approve-plan) from a GitHub
    /// issue_comment event, in this job.
    #[command(name = "pr-command")]
    PlanComment(crate::commands::pr_command::PrCommandArgs),
    /// Receive GitHub webhooks and run their cascades and PR commands from a durable queue, with
    /// /healthz, /readyz, /metrics and a dashboard (ORCHESTRATOR_WEBHOOK_SECRET required).
    Serve(crate::commands::serve::ServeArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a directory.
    Man {
        /// Write orchestrator.1, orchestrator-release.1, ... here instead of printing the top page.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ReleaseArgs {
    /// The version to release: SemVer with an optional leading v (1.2.3, v1.2.3, 1.2.3-rc.1).
    #[arg(long = "version", value_name = "SEMVER")]
    pub(crate) version: String,

    /// Continue an interrupted release: skip what the journal or origin shows as done.
    #[arg(long)]
    pub(crate) resume: bool,

    /// Preflight and print the plan; change nothing, locally or on the forge (no token needed).
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Release only these repos (comma-separated names from the config).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub(crate) only: Vec<String>,

    /// Repos in flight at once (default: [release] concurrency).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) concurrency: Option<u16>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The pipeline ([pipeline.NAME] in the config).
    pub(crate) pipeline: String,

    /// An env file loaded last, over every configured layer.
    #[arg(long, value_name = "FILE")]
    pub(crate) profile: Option<PathBuf>,

    /// Only these steps: numbers (as --dry-run shows them) or basenames, with or without
    /// extension (default: $ONLY).
    #[arg(long, value_delimiter = ',', value_name = "N[,N...]")]
    pub(crate) only: Vec<String>,

    /// Print the resolved plan and variables (secrets redacted); run nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Run the delete flow, passing --delete to each step.
    #[arg(long)]
    pub(crate) delete: bool,

    /// Continue the last unfinished run of this pipeline from its first unfinished step.
    #[arg(long)]
    pub(crate) resume: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Build the sandbox here (must be empty or absent) and keep it; default: a temp dir, removed
    /// afterwards.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,

    /// The version the demo releases.
    #[arg(long = "version", default_value = "1.0.0", value_name = "SEMVER")]
    pub(crate) version: String,

    /// Also run `orchestrator serve`'s intake and dashboard in this process: the mock GitHub
    /// delivers signed webhooks to it, which wake the release's waits (polling only as the
    /// fallback); prints the dashboard URL and a summary (webhooks, jobs, detection lag). On a
    /// terminal the dashboard stays up until Ctrl-C.
    #[arg(long)]
    pub(crate) serve: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    /// How many runs to show (before or after `list`).
    #[arg(long, default_value_t = 20, global = true)]
    pub(crate) limit: usize,

    #[command(subcommand)]
    pub(crate) command: Option<RunsCommand>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RunsCommand {
    /// List recent runs, with the status of each task of task-list runs.
    List,
    /// One run: its journal and its task records.
    Show {
        /// The run id (from `runs list`).
        id: i64,
    },
}

#[derive(Debug, Args)]
pub(crate) struct TasksArgs {
    #[command(subcommand)]
    pub(crate) command: TasksCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TasksCommand {
    /// Run every task of a list in order and store a record per task.
    Run(TasksRunArgs),
}

#[derive(Debug, Args)]
pub(crate) struct TasksRunArgs {
    /// The list ([[tasks.NAME]] in the config).
    pub(crate) list: String,

    /// Skip these tasks (comma-separated names), on top of $SKIP_TASKS.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub(crate) skip: Vec<String>,

    /// Print which tasks would run and why; run nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Continue the newest unfinished run of this list: run only the tasks it did not finish.
    #[arg(long)]
    pub(crate) resume: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    pub(crate) command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Validate the config and show the repos in release order; touches nothing.
    Check,
}

/// A comma-separated list flag's names, trimmed, without empty ones (`--only a, b,`).
pub(crate) fn names(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}
