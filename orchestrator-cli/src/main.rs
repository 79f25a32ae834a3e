//! `orchestrator`: the command-line face of orchestrator-core.
//!
//! Each subcommand loads the config, builds a request struct, calls the library and prints the
//! result; nothing here decides anything the library could.

// Every module's `print!`/`println!`/`eprint!`/`eprintln!` is one of these (defined before the
// modules, they shadow std's): a closed stdout or stderr must not panic (see `output`).
macro_rules! print {
    ($($arg:tt)*) => { $crate::output::stdout(format_args!($($arg)*), false) };
}
macro_rules! println {
    () => { $crate::output::stdout(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::output::stdout(format_args!($($arg)*), true) };
}
macro_rules! eprintln {
    () => { $crate::output::stderr(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::output::stderr(format_args!($($arg)*), true) };
}

mod args;
mod commands;
mod gha;
mod help;
mod output;
mod progress;
mod render;
mod summaries;
mod wiring;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use args::{Cli, Command};

fn main() -> ExitCode {
    // One TLS provider for every HTTPS client in the process (octocrab, later kube).
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The clap definition plus each command's examples and exit codes (help.rs).
    let cli = match Cli::from_arg_matches(&help::decorate(Cli::command()).get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    output::set_quiet(cli.quiet);
    // The service logs one JSON object per line, for log collectors; commands log for people.
    let json_logs = matches!(cli.command, Command::Serve(_));
    init_tracing(cli.verbose, cli.quiet, cli.color.enabled(), json_logs);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli));
    let failure = output::finish();
    match result {
        Ok(code) => match failure {
            Some(failure) if code == ExitCode::SUCCESS => {
                eprintln!("error: {failure}");
                ExitCode::from(1)
            }
            _ => code,
        },
        Err(e) => {
            let code = e
                .downcast_ref::<orchestrator_core::Error>()
                .map_or(1, orchestrator_core::Error::exit_code);
            if !is_broken_pipe(&e) {
                let message = format!("{e:#}");
                eprintln!(
                    "error: {}",
                    orchestrator_core::forge::redact_userinfo(&message)
                );
            }
            ExitCode::from(code)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = cli.global();
    if let Some(dir) = &cli.state_dir {
        wiring::set_state_dir(dir)?;
    }
    match cli.command {
        Command::Release(args) => commands::release::run(&global, args).await,
        Command::Run(args) => commands::pipeline::run(&global, args).await,
        Command::Tasks(args) => commands::tasks::run(&global, args).await,
        #[cfg(feature = "mock")]
        Command::Demo(args) => commands::demo::run(&global, args).await,
        Command::Runs(args) => commands::runs::run(&global, &args).await,
        Command::Config(args) => commands::config::run(&global, &args),
        Command::Publish(args) => commands::publish::publish(&global, args).await,
        Command::Cascade(args) => commands::publish::cascade(&global, args).await,
        Command::Status(args) => commands::publish::status(&global, &args).await,
        Command::Graph(args) => commands::publish::graph(&global, &args).await,
        Command::CiSnippet(args) => commands::publish::ci_snippet(&global, &args),
        #[cfg(feature = "mock")]
        Command::MockForge(args) => commands::mock_forge::run(&global, args).await,
        Command::Scale(args) => commands::scale::run(&global, args).await,
        Command::PlanComment(args) => commands::pr_command::run(&global, args).await,
        Command::Serve(args) => commands::serve::run(&global, args).await,
        Command::Completions { shell } => {
            let mut command = help::decorate(Cli::command());
            // Into memory first: clap_complete panics when its writer fails (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "orchestrator", &mut script);
            print!("{}", String::from_utf8_lossy(&script));
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => commands::man::run(help::decorate(Cli::command()), dir.as_deref()),
    }
}

fn init_tracing(verbose: u8, quiet: bool, color: bool, json: bool) {
    // octocrab's own tracing logs every 5xx as ERROR, even one our transport retries with
    // success; the transport warns about retries itself, so octocrab is heard only at -vv.
    let default = match verbose {
        0 if quiet => "error,octocrab=off",
        // A service's log is its only record of what it did: jobs and deliveries at info.
        0 if json => "info,octocrab=off",
        0 => "warn,octocrab=off",
        1 => "info,orchestrator=debug,octocrab=off",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ORCHESTRATOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    if json {
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(|| RedactingStderr)
            .try_init();
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingStderr)
        .without_time()
        // Escape codes in a CI log or a file are noise (`^[[33m`): only where they render.
        .with_ansi(color)
        .try_init();
}

/// Stderr for log lines, with the `user:password@` of any URL removed (`-v` logs name URLs).
struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The formatter writes one event per call; a URL is never split across two calls.
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(orchestrator_core::forge::redact_userinfo(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let io = c.downcast_ref::<std::io::Error>().or_else(|| {
            match c.downcast_ref::<orchestrator_core::Error>() {
                Some(orchestrator_core::Error::Io { error, .. }) => Some(error),
                _ => None,
            }
        });
        io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
