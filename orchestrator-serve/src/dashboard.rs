//! The dashboard at `/`: what the service is doing, for people, in one server-rendered page.
//!
//! Runs (state, duration, trigger), the dependency graph of the current or chosen run coloured by
//! each repo's outcome (inline SVG, no script), waits in progress, jobs holding a key, and
//! approvals pending. Read-only and built from the journal and the queue, which hold no secrets;
//! every text is HTML-escaped. The data comes through [`DashboardSource`], so the page renders
//! from any store and its tests need no server.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use async_trait::async_trait;
use orchestrator_core::Result;
use orchestrator_core::state::{JournalEntry, JournalRecord, RunStatus, StateStore};

use crate::queue::{Job, JobQueue, JobState};

/// A repo's outcome within one run (its node's colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeOutcome {
    /// No step started yet.
    Pending,
    /// A step started and has not ended.
    Running,
    /// Every step it started completed.
    Succeeded,
    /// A step failed or was interrupted.
    Failed,
}

impl NodeOutcome {
    /// The word on the page and in `data-outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Self::Pending => "#d0d7de",
            Self::Running => "#f2cc60",
            Self::Succeeded => "#4ac26b",
            Self::Failed => "#ff8182",
        }
    }
}

/// One run in the history table.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// The run id.
    pub id: i64,
    /// `cascade`, `release`...
    pub kind: String,
    /// `running`, `succeeded`, `failed`, `cancelled`.
    pub status: String,
    /// Start (ms since the epoch).
    pub started_ms: i64,
    /// End, when it ended.
    pub finished_ms: Option<i64>,
    /// What started it (the run's key and the trigger recorded with it).
    pub trigger: String,
}

/// A repo in the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphNode {
    /// The repo's name.
    pub name: String,
    /// Its dependencies (edges point from them to it).
    pub depends_on: Vec<String>,
    /// Its outcome in the run.
    pub outcome: NodeOutcome,
}

/// A wait in progress: a `wait:` step started and not ended.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitRow {
    /// The run.
    pub run: i64,
    /// The step id (`wait:<repo>`).
    pub step: String,
    /// Started (ms since the epoch).
    pub since_ms: i64,
}

/// A task awaiting approval.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRow {
    /// The run.
    pub run: i64,
    /// The task.
    pub task: String,
    /// Where to approve (its pull request), when known.
    pub link: Option<String>,
}

/// Everything the page shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DashboardSnapshot {
    /// Runs, newest first.
    pub runs: Vec<RunRow>,
    /// The run the graph shows, and its nodes.
    pub graph: Option<(i64, Vec<GraphNode>)>,
    /// Waits in progress.
    pub waits: Vec<WaitRow>,
    /// Approvals pending.
    pub approvals: Vec<ApprovalRow>,
    /// Recent jobs, newest first (running ones hold their key: the service's locks).
    pub jobs: Vec<Job>,
}

/// Where the page's data comes from.
#[async_trait]
pub trait DashboardSource: Send + Sync + std::fmt::Debug {
    /// The data, with the graph of run `run` (else the newest running run, else the newest).
    async fn snapshot(&self, run: Option<i64>) -> Result<DashboardSnapshot>;
}

/// Each repo's outcome from a run's journal: step ids are `<action>:<repo>`.
pub fn outcomes(journal: &[JournalRecord]) -> HashMap<String, NodeOutcome> {
    let mut open: HashMap<String, usize> = HashMap::new();
    let mut result: HashMap<String, NodeOutcome> = HashMap::new();
    for record in journal {
        let Some(step) = record.entry.step() else {
            continue;
        };
        let Some((_, repo)) = step.split_once(':') else {
            continue;
        };
        let repo = repo.to_owned();
        let running = open.entry(repo.clone()).or_default();
        let outcome = match &record.entry {
            JournalEntry::StepStarted { .. } => {
                *running += 1;
                NodeOutcome::Running
            }
            JournalEntry::StepSucceeded { .. } | JournalEntry::StepAlreadyDone { .. } => {
                *running = running.saturating_sub(1);
                if *running == 0 {
                    NodeOutcome::Succeeded
                } else {
                    NodeOutcome::Running
                }
            }
            JournalEntry::StepFailed { .. } | JournalEntry::StepInterrupted { .. } => {
                *running = running.saturating_sub(1);
                NodeOutcome::Failed
            }
            JournalEntry::RunFinished { .. } => continue,
        };
        let entry = result.entry(repo).or_insert(outcome);
        if *entry != NodeOutcome::Failed {
            *entry = outcome;
        }
    }
    result
}

/// A [`DashboardSource`] over the state store (runs, journals, tasks), the configured repos'
/// graph, and the job queue.
#[derive(Debug, Clone)]
pub struct StoreDashboard {
    store: Arc<dyn StateStore>,
    repos: Vec<(String, Vec<String>)>,
    queue: Arc<dyn JobQueue>,
}

impl StoreDashboard {
    /// `repos` is each configured repo's name and dependencies.
    pub fn new(
        store: Arc<dyn StateStore>,
        repos: Vec<(String, Vec<String>)>,
        queue: Arc<dyn JobQueue>,
    ) -> Self {
        Self {
            store,
            repos,
            queue,
        }
    }

    /// [`StoreDashboard::new`] with the graph of `config`'s repos.
    pub fn for_config(
        store: Arc<dyn StateStore>,
        config: &orchestrator_core::config::Config,
        queue: Arc<dyn JobQueue>,
    ) -> Self {
        let repos = config
            .repos
            .iter()
            .map(|r| (r.name.clone(), r.depends_on.clone()))
            .collect();
        Self::new(store, repos, queue)
    }
}

#[async_trait]
impl DashboardSource for StoreDashboard {
    async fn snapshot(&self, run: Option<i64>) -> Result<DashboardSnapshot> {
        let runs = self.store.runs(None, None, 50).await?;
        let chosen = run
            .or_else(|| {
                runs.iter()
                    .find(|r| r.status == RunStatus::Running)
                    .map(|r| r.id)
            })
            .or_else(|| runs.first().map(|r| r.id));
        let mut waits = Vec::new();
        for summary in runs.iter().filter(|r| r.status == RunStatus::Running) {
            let journal = self.store.journal(summary.id).await?;
            let mut started: BTreeMap<String, i64> = BTreeMap::new();
            for record in &journal {
                match &record.entry {
                    JournalEntry::StepStarted { step } if step.starts_with("wait:") => {
                        started.insert(step.clone(), record.at_ms);
                    }
                    entry => {
                        if let Some(step) = entry.step()
                            && !matches!(entry, JournalEntry::StepStarted { .. })
                        {
                            started.remove(step);
                        }
                    }
                }
            }
            waits.extend(started.into_iter().map(|(step, since_ms)| WaitRow {
                run: summary.id,
                step,
                since_ms,
            }));
        }
        let graph = match chosen {
            Some(id) => {
                let outcome = outcomes(&self.store.journal(id).await?);
                Some((
                    id,
                    self.repos
                        .iter()
                        .map(|(name, deps)| GraphNode {
                            name: name.clone(),
                            depends_on: deps.clone(),
                            outcome: outcome.get(name).copied().unwrap_or(NodeOutcome::Pending),
                        })
                        .collect(),
                ))
            }
            None => None,
        };
        let approvals = self
            .store
            .task_records(None, 50)
            .await?
            .into_iter()
            .filter(|t| t.approval_state.as_deref() == Some("pending"))
            .map(|t| ApprovalRow {
                run: t.run_id,
                task: t.task,
                link: t.outputs_uri,
            })
            .collect();
        Ok(DashboardSnapshot {
            runs: runs
                .into_iter()
                .map(|r| RunRow {
                    id: r.id,
                    trigger: trigger_text(&r.key, &r.params),
                    kind: r.kind,
                    status: r.status.as_str().to_owned(),
                    started_ms: r.started_at_ms,
                    finished_ms: r.finished_at_ms,
                })
                .collect(),
            graph,
            waits,
            approvals,
            jobs: self.queue.recent(20).await?,
        })
    }
}

/// One line saying what started a run: its key, and the trigger's repo or event when recorded.
fn trigger_text(key: &str, params: &serde_json::Value) -> String {
    let from = ["/trigger/repo", "/trigger/event_type", "/repo"]
        .iter()
        .find_map(|p| params.pointer(p).and_then(serde_json::Value::as_str));
    match from {
        Some(from) if !key.is_empty() => format!("{key} ({from})"),
        Some(from) => from.to_owned(),
        None => key.to_owned(),
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn duration_text(started: i64, finished: Option<i64>, now_ms: i64) -> String {
    let secs = (finished.unwrap_or(now_ms) - started).max(0) / 1000;
    if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, secs / 60 % 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// The graph as inline SVG: columns by depth (a repo sits right of everything it depends on),
/// one `<g class="node" data-repo=… data-outcome=…>` per repo.
pub fn graph_svg(nodes: &[GraphNode]) -> String {
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let mut depth = vec![0usize; nodes.len()];
    // Longest path from a root; bounded passes, so a cycle (refused by config) cannot hang.
    for _ in 0..nodes.len() {
        let mut changed = false;
        for (i, node) in nodes.iter().enumerate() {
            for dep in &node.depends_on {
                if let Some(&d) = index.get(dep.as_str())
                    && depth[d] + 1 > depth[i]
                {
                    depth[i] = depth[d] + 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut row_in_column: HashMap<usize, usize> = HashMap::new();
    let position: Vec<(usize, usize)> = depth
        .iter()
        .map(|&d| {
            let row = row_in_column.entry(d).or_default();
            *row += 1;
            (d * 190 + 10, (*row - 1) * 56 + 10)
        })
        .collect();
    let width = depth.iter().max().map_or(200, |d| d * 190 + 200);
    let height = row_in_column.values().max().map_or(60, |r| r * 56 + 10);
    let mut svg = format!(
        r#"<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="dependency graph">"#
    );
    for (i, node) in nodes.iter().enumerate() {
        for dep in &node.depends_on {
            if let Some(&d) = index.get(dep.as_str()) {
                let (x1, y1) = position[d];
                let (x2, y2) = position[i];
                let _ = write!(
                    svg,
                    r##"<line class="edge" data-from="{}" data-to="{}" x1="{}" y1="{}" x2="{x2}" y2="{}" stroke="#57606a"/>"##,
                    escape(dep),
                    escape(&node.name),
                    x1 + 160,
                    y1 + 20,
                    y2 + 20
                );
            }
        }
    }
    for (i, node) in nodes.iter().enumerate() {
        let (x, y) = position[i];
        let _ = write!(
            svg,
            r##"<g class="node" data-repo="{name}" data-outcome="{outcome}"><rect x="{x}" y="{y}" width="160" height="40" rx="6" fill="{fill}" stroke="#24292f"/><text x="{tx}" y="{ty}" font-size="13" text-anchor="middle">{name} · {outcome}</text></g>"##,
            name = escape(&node.name),
            outcome = node.outcome.as_str(),
            fill = node.outcome.colour(),
            tx = x + 80,
            ty = y + 25,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The whole page.
pub fn render(snapshot: &DashboardSnapshot, now_ms: i64) -> String {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"5\"><title>orchestrator serve</title><style>\
         body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}\
         td,th{border:1px solid #d0d7de;padding:.3em .6em;text-align:left}\
         .succeeded{background:#dafbe1}.failed{background:#ffebe9}.running{background:#fff8c5}\
         </style></head><body><h1>orchestrator serve</h1>",
    );
    html.push_str("<h2>Runs</h2><table id=\"runs\"><tr><th>run</th><th>kind</th><th>state</th><th>duration</th><th>trigger</th></tr>");
    for run in &snapshot.runs {
        let _ = write!(
            html,
            "<tr class=\"{state}\" data-run=\"{id}\" data-state=\"{state}\"><td><a href=\"/?run={id}\">{id}</a></td><td>{kind}</td><td>{state}</td><td>{duration}</td><td>{trigger}</td></tr>",
            id = run.id,
            kind = escape(&run.kind),
            state = escape(&run.status),
            duration = duration_text(run.started_ms, run.finished_ms, now_ms),
            trigger = escape(&run.trigger),
        );
    }
    html.push_str("</table>");
    match &snapshot.graph {
        Some((run, nodes)) => {
            let _ = write!(html, "<h2>Graph of run {run}</h2>{}", graph_svg(nodes));
        }
        None => html.push_str("<h2>Graph</h2><p>No run yet.</p>"),
    }
    html.push_str("<h2>Waits in progress</h2><table id=\"waits\"><tr><th>run</th><th>step</th><th>waiting for</th></tr>");
    for wait in &snapshot.waits {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            wait.run,
            escape(&wait.step),
            duration_text(wait.since_ms, None, now_ms)
        );
    }
    html.push_str("</table><h2>Jobs</h2><table id=\"jobs\"><tr><th>job</th><th>kind</th><th>key (lock)</th><th>state</th><th>attempts</th><th>triggers</th><th>held by</th><th>last error</th></tr>");
    for job in &snapshot.jobs {
        let _ = write!(
            html,
            "<tr class=\"{state}\" data-job=\"{id}\"><td>{id}</td><td>{kind}</td><td>{key}</td><td>{state}</td><td>{attempts}</td><td>{triggers}</td><td>{owner}</td><td>{error}</td></tr>",
            id = job.id,
            kind = job.kind.as_str(),
            key = escape(&job.key),
            state = job.state.as_str(),
            attempts = job.attempts,
            triggers = job.triggers.len(),
            owner = if job.state == JobState::Running {
                escape(job.owner.as_deref().unwrap_or(""))
            } else {
                String::new()
            },
            error = escape(job.last_error.as_deref().unwrap_or("")),
        );
    }
    html.push_str("</table><h2>Pending approvals</h2><table id=\"approvals\"><tr><th>run</th><th>task</th><th>where</th></tr>");
    for approval in &snapshot.approvals {
        let link = approval.link.as_deref().map_or_else(String::new, |l| {
            format!("<a href=\"{0}\">{0}</a>", escape(l))
        });
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{link}</td></tr>",
            approval.run,
            escape(&approval.task)
        );
    }
    html.push_str("</table></body></html>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, entry: JournalEntry) -> JournalRecord {
        JournalRecord {
            seq,
            at_ms: 0,
            entry,
        }
    }

    #[test]
    fn outcomes_follow_the_journal() {
        let started = |s: &str| JournalEntry::StepStarted { step: s.into() };
        let done = |s: &str| JournalEntry::StepSucceeded {
            step: s.into(),
            summary: String::new(),
            data: serde_json::Value::Null,
        };
        let journal = vec![
            record(1, started("tag:core")),
            record(2, done("tag:core")),
            record(3, started("tag:app")),
            record(
                4,
                JournalEntry::StepFailed {
                    step: "tag:app".into(),
                    error: "x".into(),
                },
            ),
            record(5, started("wait:lib")),
        ];
        let o = outcomes(&journal);
        assert_eq!(o["core"], NodeOutcome::Succeeded);
        assert_eq!(o["app"], NodeOutcome::Failed);
        assert_eq!(o["lib"], NodeOutcome::Running);
        assert!(!o.contains_key("other"));
    }

    #[test]
    fn the_page_escapes_text_and_colours_the_graph() {
        let snapshot = DashboardSnapshot {
            runs: vec![RunRow {
                id: 3,
                kind: "cascade".into(),
                status: "running".into(),
                started_ms: 0,
                finished_ms: None,
                trigger: "<script>alert(1)</script>".into(),
            }],
            graph: Some((
                3,
                vec![
                    GraphNode {
                        name: "core".into(),
                        depends_on: vec![],
                        outcome: NodeOutcome::Succeeded,
                    },
                    GraphNode {
                        name: "app".into(),
                        depends_on: vec!["core".into()],
                        outcome: NodeOutcome::Running,
                    },
                ],
            )),
            ..DashboardSnapshot::default()
        };
        let html = render(&snapshot, 90_000);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains(r#"data-run="3" data-state="running""#));
        assert!(html.contains(r#"<g class="node" data-repo="core" data-outcome="succeeded">"#));
        assert!(html.contains(r#"data-from="core" data-to="app""#));
        assert!(html.contains("<td>1m30s</td>"));
    }
}
