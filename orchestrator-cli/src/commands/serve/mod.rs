//! `orchestrator serve`: parses the flags and the environment, runs `orchestrator-serve`'s
//! [`Service`] with this binary's workspace, its cluster for comment commands, and its cascade
//! report, and prints where it listens.
//!
//! A comment job runs through core's one entry point ([`WorkflowComments`]), as `pr-command`
//! does, with serve's `--cluster`/`--kube-context` and the default policy (the base branch's
//! `[scale]`): nothing of a job reaches stdout, which holds only the line (or, with
//! `--output json`, the one document) saying where the service listens.

mod args;

pub(crate) use args::ServeArgs;

use std::process::ExitCode;
use std::sync::Arc;

use orchestrator_core::publish::PublishReport;
use orchestrator_core::workspace::signals::StopSignals;
use orchestrator_core::workspace::{Finished, Workspace};
use orchestrator_serve::{JobReports, Service, WorkflowComments, WorkflowJobs, Workspaces};

use crate::args::{Global, OutputFormat};
use crate::commands::pr_command::PlanCluster;
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
    let workspaces: Workspaces = Arc::new(workspace);
    let comments = WorkflowComments::new(workspaces.clone()).cluster(Arc::new(PlanCluster {
        spec: args.cluster.clone(),
        kube_context: args.kube_context.clone(),
    }));
    let scratch = service_workspace.state_dir().join("serve-jobs");
    let mut jobs = WorkflowJobs::new(workspaces, scratch).comments(Arc::new(comments));
    // With --output json stdout is the one document below; the log has each cascade's outcome.
    if global.output == OutputFormat::Human {
        jobs = jobs.reports(Arc::new(CascadeReports {
            global: global.clone(),
        }));
    }
    let service = Service::open(&service_workspace, secret, Arc::new(jobs), options).await?;
    // Registered before the address is announced: a SIGTERM from then on stops the service
    // cleanly, never the default action (death mid-write).
    let stop = StopSignals::register();
    let service = service.bind(args.listen).await?;
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

/// A cascade's report, printed as `cascade` prints it (human output only).
#[derive(Debug)]
struct CascadeReports {
    global: Global,
}

impl JobReports for CascadeReports {
    fn cascade(&self, workspace: &Workspace, finished: &Finished<Option<PublishReport>>) {
        let kind = orchestrator_core::publish::CASCADE_RUN_KIND;
        if let Err(e) =
            crate::commands::publish::print_report(&self.global, workspace, kind, finished.clone())
        {
            tracing::warn!(error = %e, "printing the cascade report");
        }
    }
}
