//! `orchestrator scale plan`: writes plan.yaml and SUMMARY.md; changes nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use orchestrator_core::Error;
use orchestrator_core::scale::{ScaleFlags, ScalePlan};

use super::args::PlanArgs;
use crate::args::{Global, OutputFormat};

fn now_rfc3339() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let full = orchestrator_core::tasks::format_utc_ms(ms);
    // Seconds precision, as in the seed's plans: 2025-10-11T00:00:00Z.
    format!("{}Z", &full[..19])
}

pub(super) async fn plan(global: &Global, args: PlanArgs) -> anyhow::Result<ExitCode> {
    let flags = ScaleFlags {
        target: args.target,
        namespace: args.namespace,
        kube_context: args.kube_context.clone(),
        workloads: args.workload,
        hpa: args.hpa,
        requests: args.requests,
        limits: args.limits,
        container: args.container,
    };
    let request = flags.parse()?;
    if let Some(out) = &args.out {
        for existing in [out.join("plan.yaml"), out.join("SUMMARY.md")] {
            if existing.exists() && !args.force {
                return Err(Error::invalid_input(format!(
                    "--out {}: {} exists; pass --force to overwrite it (a reviewed plan is not \
                     replaced silently)",
                    out.display(),
                    existing.display()
                ))
                .into());
            }
        }
    }
    let live = match &args.cluster {
        Some(spec) => Some(super::cluster(spec, args.kube_context.as_deref()).await?),
        None => None,
    };
    let created_at = now_rfc3339();
    let plan = ScalePlan::build(&request, live.as_deref(), &created_at).await?;
    let dir = args.out.unwrap_or_else(|| {
        let stamp: String = created_at.chars().filter(char::is_ascii_digit).collect();
        PathBuf::from("artifacts").join(format!("infra-scale-{}-{stamp}", request.target))
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let plan_yaml = dir.join("plan.yaml");
    let summary_md = dir.join("SUMMARY.md");
    std::fs::write(&plan_yaml, plan.to_yaml())
        .with_context(|| format!("writing {}", plan_yaml.display()))?;
    std::fs::write(&summary_md, plan.summary_md())
        .with_context(|| format!("writing {}", summary_md.display()))?;
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "artifacts_dir": dir, "plan_yaml": plan_yaml, "summary_md": summary_md,
                "plan_hash": plan.hash(), "risks": plan.risks, "notes": plan.notes,
                "status": "succeeded",
            }))?
        ),
        OutputFormat::Human => {
            for risk in &plan.risks {
                eprintln!("risk: {risk}");
            }
            for note in &plan.notes {
                eprintln!("note: {note}");
            }
            println!("artifacts_dir={}", dir.display());
            println!("plan_yaml={}", plan_yaml.display());
            println!("summary_md={}", summary_md.display());
            println!("plan_hash={}", plan.hash());
            println!("succeeded");
        }
    }
    crate::gha::write(
        &[
            ("status", "succeeded".to_owned()),
            ("plan_hash", plan.hash().to_owned()),
            ("plan_yaml", plan_yaml.display().to_string()),
        ],
        Some(&plan.summary_md()),
    );
    Ok(ExitCode::SUCCESS)
}
