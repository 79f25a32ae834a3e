//! Writes your own `Step`, runs a `Plan` of them on the `Engine`, and resumes it from the journal.
//!
//! `WriteFile` writes one file. Its read-only `check` reads the file back: when the content is
//! already there, the step is done and `apply` is skipped. That is what makes resuming safe: after
//! a crash between "file written" and "success journaled" the engine cannot know whether the
//! effect happened, so it asks `check` instead of writing again.
//!
//! The example runs a plan of four files (`index.html` after `style.css` and `app.js`,
//! `MANIFEST` after `index.html`) three times:
//! 1. a new run: every step is applied (`Succeeded`);
//! 2. the same run id again: the journal records every step as done, so each is skipped
//!    (`AlreadyDone`) without even running its check;
//! 3. a new run after `app.js` was edited by hand: there is no journal to go by, so each step's
//!    check decides; only `app.js` is written again.
//!
//! ```text
//! cargo run -p orchestrator-examples --example custom_step
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use orchestrator_core::engine::{Engine, EngineOptions, Plan, PlannedStep, RunReport};
use orchestrator_core::error::{Error, Result};
use orchestrator_core::state::{MemoryStateStore, StateStore};
use orchestrator_core::step::{Check, Step, StepContext, StepOutput};

/// Writes `content` to `path`; done when the file already holds exactly that content.
#[derive(Debug)]
struct WriteFile {
    id: String,
    path: PathBuf,
    content: String,
}

impl WriteFile {
    fn planned(dir: &Path, name: &str, content: &str, after: &[&str]) -> PlannedStep {
        PlannedStep {
            step: Arc::new(WriteFile {
                id: format!("write:{name}"),
                path: dir.join(name),
                content: content.to_owned(),
            }),
            after: after.iter().map(|a| format!("write:{a}")).collect(),
        }
    }

    /// The file name, for messages.
    fn name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

#[async_trait]
impl Step for WriteFile {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!(
            "write {} bytes to {}",
            self.content.len(),
            self.path.display()
        )
    }

    /// Read-only: compares what is on disk with what `apply` would write.
    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        match tokio::fs::read_to_string(&self.path).await {
            Ok(existing) if existing == self.content => {
                Ok(Check::Done(format!("{} is up to date", self.name())))
            }
            Ok(_) => Ok(Check::Pending(format!("{} differs", self.name()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Check::Pending(format!("{} is missing", self.name())))
            }
            Err(e) => Err(Error::io(format!("reading {}", self.path.display()), e)),
        }
    }

    async fn apply(&self, _ctx: &StepContext) -> Result<StepOutput> {
        tokio::fs::write(&self.path, &self.content)
            .await
            .map_err(|e| Error::io(format!("writing {}", self.path.display()), e))?;
        Ok(StepOutput::summary(format!(
            "wrote {} bytes",
            self.content.len()
        )))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let site = dir.path();
    let plan = Plan::new(vec![
        WriteFile::planned(site, "style.css", "body { margin: 0 }\n", &[]),
        WriteFile::planned(site, "app.js", "console.log('hi');\n", &[]),
        WriteFile::planned(
            site,
            "index.html",
            "<link rel=stylesheet href=style.css><script src=app.js></script>\n",
            &["style.css", "app.js"],
        ),
        WriteFile::planned(
            site,
            "MANIFEST",
            "style.css\napp.js\nindex.html\n",
            &["index.html"],
        ),
    ])?;
    println!("waves: {:?}\n", plan.waves());

    let store = Arc::new(MemoryStateStore::default());
    let engine = Engine::new(store.clone(), EngineOptions::default());

    // 1. A new run applies every step.
    let run = store
        .begin_run("site", "demo", &serde_json::json!({}))
        .await?;
    print_report("1. first run", &engine.run(&plan, run).await?);

    // 2. The same run again (as `--resume` would): the journal says everything is done.
    print_report("2. same run id again", &engine.run(&plan, run).await?);

    // 3. A new run, no journal to trust: each step's check looks at the files themselves.
    std::fs::write(site.join("app.js"), "console.log('edited by hand');\n")?;
    let fresh = store
        .begin_run("site", "demo", &serde_json::json!({}))
        .await?;
    print_report(
        "3. new run after app.js was edited",
        &engine.run(&plan, fresh).await?,
    );
    Ok(())
}

/// Prints one line per step: id, status, summary.
fn print_report(title: &str, report: &RunReport) {
    println!("{title}: run {} {}", report.run_id, report.status.as_str());
    for step in &report.steps {
        println!(
            "  {:<18} {:<12} {}",
            step.id,
            format!("{:?}", step.status),
            step.summary
        );
    }
    println!();
}
