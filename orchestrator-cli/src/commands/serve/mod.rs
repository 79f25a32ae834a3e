//! `orchestrator serve`: parses the flags and the environment, runs `orchestrator-serve`'s
//! [`Service`] with this binary's workspace and its `pr-command`, and prints where it listens.

mod args;

pub(crate) use args::ServeArgs;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use async_trait::async_trait;
use clap::Parser;
use orchestrator_core::Error;
use orchestrator_core::publish::PublishReport;
use orchestrator_core::workspace::signals::StopSignals;
use orchestrator_core::workspace::{Finished, Workspace};
use orchestrator_serve::{CommentCommands, JobReports, Service, WorkflowJobs};

use crate::args::{Global, OutputFormat};
use crate::commands::pr_command::PrCommandArgs;
use crate::wiring;

pub(crate) async fn run(global: &Global, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let secret = args::webhook_secret()?;
    let options = args.options()?;
    let job_global = global.clone();
    let workspace = move || {
        let config = wiring::load_config(&job_global)?;
        wiring::workspace(config, job_global.output == OutputFormat::Human)
    };
    let service_workspace = workspace()?;
    let commands = Arc::new(Commands {
        global: global.clone(),
        args,
    });
    let scratch = service_workspace.state_dir().join("serve-jobs");
    let mut jobs = WorkflowJobs::new(Arc::new(workspace), scratch).comments(commands.clone());
    // With --output json stdout is the one document below; the log has each cascade's outcome.
    if global.output == OutputFormat::Human {
        jobs = jobs.reports(commands.clone());
    }
    let service = Service::open(&service_workspace, secret, Arc::new(jobs), options).await?;
    // Registered before the address is announced: a SIGTERM from then on stops the service
    // cleanly, never the default action (death mid-write).
    let stop = StopSignals::register();
    let service = service.bind(commands.args.listen).await?;
    // The one line on stdout: where to send webhooks and where to look (with --output json, the
    // one JSON document).
    let address = format!("http://{}", service.local_addr());
    match global.output {
        OutputFormat::Human => println!("listening on {address}"),
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "listening_on": address,
                "webhook_url": format!("{address}/webhook"),
                "dashboard_url": format!("{address}/"),
                "metrics_url": format!("{address}/metrics"),
            })
        ),
    }
    let stopped = service.run(stop.stopped()).await?;
    Ok(ExitCode::from(u8::from(stopped.failed_tasks > 0)))
}

/// A job's command, as this binary runs it: a comment is `pr-command` with serve's cluster
/// flags, a cascade's report is printed as `cascade` prints it (human output only).
#[derive(Debug)]
struct Commands {
    global: Global,
    args: ServeArgs,
}

/// Parses `pr-command`'s arguments the way the command line would.
#[derive(Debug, Parser)]
struct PrCommandLine {
    #[command(flatten)]
    args: PrCommandArgs,
}

#[async_trait]
impl CommentCommands for Commands {
    async fn run(&self, _: &serde_json::Value, event_file: &Path) -> Result<bool, Error> {
        let mut line = vec!["pr-command", "--event-file"];
        let file = event_file.display().to_string();
        line.extend([file.as_str(), "--cluster", &self.args.cluster]);
        if let Some(context) = &self.args.kube_context {
            line.extend(["--kube-context", context]);
        }
        let parsed =
            PrCommandLine::try_parse_from(line).map_err(|e| Error::invalid_input(e.to_string()))?;
        match crate::commands::pr_command::run(&self.global, parsed.args).await {
            Ok(code) => Ok(code == ExitCode::SUCCESS),
            Err(e) => Err(e
                .downcast::<Error>()
                .unwrap_or_else(|other| Error::state(format!("{other:#}")))),
        }
    }
}

impl JobReports for Commands {
    fn cascade(&self, workspace: &Workspace, finished: &Finished<Option<PublishReport>>) {
        let kind = orchestrator_core::publish::CASCADE_RUN_KIND;
        if let Err(e) =
            crate::commands::publish::print_report(&self.global, workspace, kind, finished.clone())
        {
            tracing::warn!(error = %e, "printing the cascade report");
        }
    }
}
