//! Command-line arguments, as clap sees them. Converted once into library requests.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  the run failed, timed out or was interrupted (the journal says where; --resume continues)
  2  bad input (config, version, flags) or failed preflight: nothing was changed

Environment:
  GITHUB_TOKEN, else GH_TOKEN   forge token (read only from the environment, never printed)
  ORCHESTRATOR_FORGE_URL        overrides [forge] api_url
  ORCHESTRATOR_LOG              log filter (e.g. debug), as with -v";

/// Coordinate releases across many repositories: tag in dependency order, push, and wait until
/// every release's assets exist and have settled.
#[derive(Debug, Parser)]
#[command(name = "orchestrator", version, after_help = EXIT_CODES, term_width = 100)]
pub(crate) struct Cli {
    /// The config file (default: orchestrator.toml in this directory or the nearest parent).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// How to print results: human tables, or one JSON document on stdout.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) output: OutputFormat,

    /// The forge API URL (GitHub Enterprise, a mock server); overrides [forge] api_url.
    #[arg(
        long,
        global = true,
        env = "ORCHESTRATOR_FORGE_URL",
        value_name = "URL"
    )]
    pub(crate) forge_url: Option<String>,

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
    #[command(visible_alias = "release-iso", after_help = EXIT_CODES)]
    Release(ReleaseArgs),
    /// Build a sandbox of TruthDB-shaped repos with bare origins and release them end to end on a
    /// simulated forge (no network, no token).
    Demo(DemoArgs),
    /// List recent runs from the state store.
    Runs(RunsArgs),
    /// Inspect the configuration.
    Config(ConfigArgs),
    /// Serve a mock GitHub API (releases, ETags, pagination, rate limits, faults) whose simulated
    /// CI publishes releases for tags pushed to local bare origins.
    MockForge(crate::commands::mock_forge::MockForgeArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
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
pub(crate) struct DemoArgs {
    /// Build the sandbox here (must be empty or absent) and keep it; default: a temp dir, removed
    /// afterwards.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,

    /// The version the demo releases.
    #[arg(long = "version", default_value = "1.0.0", value_name = "SEMVER")]
    pub(crate) version: String,
}

#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    /// How many runs to show.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: usize,
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
