//! Simulated GitHub Actions for [`InMemoryForge`]: dispatched runs whose status is computed from
//! the elapsed time (like the release CI), titles rendered from a `run-name` template, scripted
//! conclusions, and `repository_dispatch` events that start the workflows listening for them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{InMemoryForge, RepoState, State};
use crate::error::{Error, Result};
use crate::forge::types::{
    RepoId, WorkflowDispatch, WorkflowRun, WorkflowRunQuery, WorkflowRunStatus,
};

/// The branch `repository_dispatch` runs use (GitHub runs them on the default branch).
pub const DEFAULT_BRANCH: &str = "main";

/// How the simulated runs of one workflow behave ([`InMemoryForge::configure_workflow`]).
///
/// A run is `queued` for [`queued_for`](Self::queued_for), `in_progress` for
/// [`runs_for`](Self::runs_for), then `completed` with [`conclusion`](Self::conclusion) (unless a
/// rule of [`InMemoryForge::script_runs_with_input`] matches its inputs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowSimulation {
    /// The workflow's `run-name`, e.g. `release ${{ inputs.correlation_id }}`. Understood:
    /// `inputs.X` (also `github.event.inputs.X`), `github.event.client_payload.X`,
    /// `github.event.action` (a repository dispatch's event type), `github.event_name`,
    /// `github.ref_name` and `github.workflow`; anything else renders empty, as on GitHub.
    /// `None`: the workflow file name, then the input values (by input name) joined by spaces.
    pub run_name: Option<String>,
    /// Time from dispatch until the run starts.
    pub queued_for: Duration,
    /// Time the run takes once started (`Duration::MAX`: it never completes).
    pub runs_for: Duration,
    /// The conclusion of a completed run (`success`, `failure`, `cancelled`...).
    pub conclusion: String,
    /// `repository_dispatch` event types that start this workflow.
    pub repository_dispatch_types: Vec<String>,
}

impl Default for WorkflowSimulation {
    fn default() -> Self {
        Self {
            run_name: None,
            queued_for: Duration::from_millis(20),
            runs_for: Duration::from_millis(100),
            conclusion: "success".into(),
            repository_dispatch_types: Vec::new(),
        }
    }
}

/// A `repository_dispatch` event as the in-memory forge received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryDispatchRecord {
    /// The event type.
    pub event_type: String,
    /// The JSON payload.
    pub client_payload: serde_json::Value,
    /// When it arrived, ms since the Unix epoch.
    pub received_at_ms: i64,
}

/// A stored run: seeded ones are static, simulated ones move with the clock.
#[derive(Debug, Clone)]
pub(super) struct RunRecord {
    run: WorkflowRun,
    clock: Option<RunClock>,
}

#[derive(Debug, Clone)]
struct RunClock {
    started: Instant,
    queued_for: Duration,
    runs_for: Duration,
    conclusion: String,
}

impl RunRecord {
    /// The run as an observer sees it now.
    fn now(&self) -> WorkflowRun {
        let mut run = self.run.clone();
        if let Some(clock) = &self.clock {
            let elapsed = clock.started.elapsed();
            if elapsed < clock.queued_for {
                run.status = WorkflowRunStatus::Queued;
                run.conclusion = None;
            } else if elapsed < clock.queued_for.saturating_add(clock.runs_for) {
                run.status = WorkflowRunStatus::InProgress;
                run.conclusion = None;
            } else {
                run.status = WorkflowRunStatus::Completed;
                run.conclusion = Some(clock.conclusion.clone());
            }
        }
        run
    }
}

/// What triggered a simulated run.
struct Trigger<'a> {
    event: &'a str,
    git_ref: &'a str,
    /// Inputs, or the payload's top-level scalars for a repository dispatch.
    inputs: BTreeMap<String, String>,
    payload: Option<&'a serde_json::Value>,
    event_type: Option<&'a str>,
}

use crate::forge::workflow_file;

/// `main` for `refs/heads/main`, `v1` for `refs/tags/v1`.
fn short_ref(git_ref: &str) -> &str {
    git_ref
        .strip_prefix("refs/heads/")
        .or_else(|| git_ref.strip_prefix("refs/tags/"))
        .unwrap_or(git_ref)
}

/// A deterministic 40-hex-digit "commit id" for `seed` (FNV-1a, five rounds).
pub(super) fn fake_sha(seed: &str) -> String {
    let mut out = String::with_capacity(40);
    for round in 0u64..5 {
        let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for byte in seed.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{hash:016x}")[..8]);
    }
    out
}

/// Renders a `run-name` template (see [`WorkflowSimulation::run_name`]).
fn render_run_name(template: Option<&str>, workflow: &str, trigger: &Trigger<'_>) -> String {
    let Some(template) = template else {
        let mut title = workflow.to_owned();
        for value in trigger.inputs.values() {
            title.push(' ');
            title.push_str(value);
        }
        return title;
    };
    let lookup = |expr: &str| -> String {
        let input = expr
            .strip_prefix("inputs.")
            .or_else(|| expr.strip_prefix("github.event.inputs."));
        if let Some(name) = input {
            return trigger.inputs.get(name).cloned().unwrap_or_default();
        }
        if let Some(field) = expr.strip_prefix("github.event.client_payload.") {
            return trigger
                .payload
                .and_then(|p| p.get(field))
                .map(scalar)
                .unwrap_or_default();
        }
        match expr {
            "github.event.action" => trigger.event_type.unwrap_or_default().to_owned(),
            "github.event_name" => trigger.event.to_owned(),
            "github.ref_name" => short_ref(trigger.git_ref).to_owned(),
            "github.workflow" => workflow.to_owned(),
            _ => String::new(),
        }
    };
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else {
            rest = &rest[start..];
            break;
        };
        out.push_str(&lookup(after[..end].trim()));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A JSON scalar as a workflow expression shows it; objects and arrays as JSON.
fn scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl InMemoryForge {
    /// Sets how runs of `workflow` (a file name like `release.yml`) in `repo` behave; workflows
    /// not configured behave as [`WorkflowSimulation::default`].
    pub fn configure_workflow(
        &self,
        repo: &RepoId,
        workflow: &str,
        simulation: WorkflowSimulation,
    ) {
        self.lock()
            .repo(repo)
            .workflows
            .insert(workflow_file(workflow).to_owned(), simulation);
    }

    /// Makes future runs of `workflow` in `repo` conclude with `conclusion` (`failure`...).
    pub fn script_workflow(&self, repo: &RepoId, workflow: &str, conclusion: &str) {
        self.lock()
            .repo(repo)
            .workflows
            .entry(workflow_file(workflow).to_owned())
            .or_default()
            .conclusion = conclusion.to_owned();
    }

    /// Makes future runs in `repo` (any workflow) one of whose input values contains `needle`
    /// conclude with `conclusion`; the first matching rule wins over [`Self::script_workflow`].
    pub fn script_runs_with_input(&self, repo: &RepoId, needle: &str, conclusion: &str) {
        self.lock()
            .repo(repo)
            .input_rules
            .push((needle.to_owned(), conclusion.to_owned()));
    }

    /// Sets the commit `branch` (short name) of `repo` points at: what dispatched runs and pull
    /// requests on it report as their head SHA. Unknown branches get a fake SHA derived from
    /// `repo` and the ref.
    pub fn set_branch_head(&self, repo: &RepoId, branch: &str, sha: &str) {
        self.lock()
            .repo(repo)
            .branches
            .insert(short_ref(branch).to_owned(), sha.to_owned());
    }

    /// The commit `branch` of `repo` points at (its fake SHA when never set).
    pub fn branch_head(&self, repo: &RepoId, branch: &str) -> String {
        self.lock().head_of(repo, branch)
    }

    /// Stores `run` as is (it never changes status), for tests that need older or odder runs
    /// than a dispatch makes. Later ids are handed out above `run.id`.
    pub fn add_workflow_run(&self, repo: &RepoId, run: WorkflowRun) {
        let mut state = self.lock();
        state.next_id = state.next_id.max(run.id);
        state.repo(repo).runs.push(RunRecord { run, clock: None });
    }

    /// Every `repository_dispatch` event `repo` received, oldest first.
    pub fn repository_dispatches(&self, repo: &RepoId) -> Vec<RepositoryDispatchRecord> {
        self.lock()
            .repos
            .get(repo)
            .map(|r| r.dispatches.clone())
            .unwrap_or_default()
    }
}

impl State {
    pub(super) fn repo(&mut self, repo: &RepoId) -> &mut RepoState {
        self.repos.entry(repo.clone()).or_default()
    }

    pub(super) fn head_of(&self, repo: &RepoId, git_ref: &str) -> String {
        let short = short_ref(git_ref);
        self.repos
            .get(repo)
            .and_then(|r| r.branches.get(short))
            .cloned()
            .unwrap_or_else(|| fake_sha(&format!("{repo}@{short}")))
    }

    fn start_run(&mut self, repo: &RepoId, workflow: &str, trigger: &Trigger<'_>) -> u64 {
        let id = self.fresh_id();
        let head_sha = self.head_of(repo, trigger.git_ref);
        let repo_state = self.repo(repo);
        let simulation = repo_state
            .workflows
            .get(workflow)
            .cloned()
            .unwrap_or_default();
        let conclusion = repo_state
            .input_rules
            .iter()
            .find(|(needle, _)| trigger.inputs.values().any(|v| v.contains(needle.as_str())))
            .map_or_else(|| simulation.conclusion.clone(), |(_, c)| c.clone());
        let run = WorkflowRun {
            id,
            workflow: workflow.to_owned(),
            display_title: render_run_name(simulation.run_name.as_deref(), workflow, trigger),
            event: trigger.event.to_owned(),
            head_sha,
            head_branch: Some(short_ref(trigger.git_ref).to_owned()),
            status: WorkflowRunStatus::Queued,
            conclusion: None,
            created_at_ms: crate::state::now_ms(),
            html_url: format!("memory://{repo}/actions/runs/{id}"),
        };
        repo_state.runs.push(RunRecord {
            run,
            clock: Some(RunClock {
                started: Instant::now(),
                queued_for: simulation.queued_for,
                runs_for: simulation.runs_for,
                conclusion,
            }),
        });
        id
    }

    pub(super) fn dispatch_workflow(&mut self, repo: &RepoId, dispatch: &WorkflowDispatch) {
        let trigger = Trigger {
            event: "workflow_dispatch",
            git_ref: &dispatch.git_ref,
            inputs: dispatch.inputs.clone(),
            payload: None,
            event_type: None,
        };
        self.start_run(repo, workflow_file(&dispatch.workflow), &trigger);
    }

    pub(super) fn repository_dispatch(
        &mut self,
        repo: &RepoId,
        event_type: &str,
        client_payload: &serde_json::Value,
    ) {
        self.repo(repo).dispatches.push(RepositoryDispatchRecord {
            event_type: event_type.to_owned(),
            client_payload: client_payload.clone(),
            received_at_ms: crate::state::now_ms(),
        });
        let listening: Vec<String> = self
            .repo(repo)
            .workflows
            .iter()
            .filter(|(_, sim)| {
                sim.repository_dispatch_types
                    .iter()
                    .any(|t| t == event_type)
            })
            .map(|(name, _)| name.clone())
            .collect();
        let inputs = client_payload
            .as_object()
            .map(|map| {
                map.iter()
                    .filter(|(_, v)| !v.is_object() && !v.is_array())
                    .map(|(k, v)| (k.clone(), scalar(v)))
                    .collect()
            })
            .unwrap_or_default();
        let trigger = Trigger {
            event: "repository_dispatch",
            git_ref: DEFAULT_BRANCH,
            inputs,
            payload: Some(client_payload),
            event_type: Some(event_type),
        };
        for workflow in listening {
            self.start_run(repo, &workflow, &trigger);
        }
    }

    pub(super) fn workflow_runs(
        &self,
        repo: &RepoId,
        query: &WorkflowRunQuery,
    ) -> Vec<WorkflowRun> {
        let Some(repo_state) = self.repos.get(repo) else {
            return Vec::new();
        };
        let wanted_workflow = query.workflow.as_deref().map(workflow_file);
        let mut runs: Vec<WorkflowRun> = repo_state
            .runs
            .iter()
            .map(RunRecord::now)
            .filter(|run| {
                wanted_workflow.is_none_or(|w| run.workflow == w)
                    && query.event.as_ref().is_none_or(|e| &run.event == e)
                    && query.head_sha.as_ref().is_none_or(|s| &run.head_sha == s)
                    && query
                        .created_after_ms
                        .is_none_or(|t| run.created_at_ms >= t)
            })
            .collect();
        runs.sort_by_key(|run| std::cmp::Reverse((run.created_at_ms, run.id)));
        runs
    }

    pub(super) fn workflow_run(&self, repo: &RepoId, run_id: u64) -> Result<WorkflowRun> {
        self.repos
            .get(repo)
            .and_then(|r| r.runs.iter().find(|rec| rec.run.id == run_id))
            .map(RunRecord::now)
            .ok_or_else(|| Error::NotFound {
                what: format!("workflow run {run_id} of {repo}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(inputs: &[(&str, &str)]) -> Trigger<'static> {
        Trigger {
            event: "workflow_dispatch",
            git_ref: "refs/heads/main",
            inputs: inputs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            payload: None,
            event_type: None,
        }
    }

    #[test]
    fn run_names_render_like_github_expressions() {
        let t = trigger(&[("correlation_id", "abc123"), ("version", "1.2.3")]);
        assert_eq!(
            render_run_name(None, "release.yml", &t),
            "release.yml abc123 1.2.3"
        );
        assert_eq!(
            render_run_name(
                Some(
                    "release ${{ inputs.correlation_id }} on ${{github.ref_name}}${{ inputs.nope }}"
                ),
                "release.yml",
                &t
            ),
            "release abc123 on main"
        );
        assert_eq!(
            render_run_name(Some("broken ${{ inputs.version"), "r.yml", &t),
            "broken ${{ inputs.version"
        );
    }

    #[test]
    fn fake_shas_are_stable_hex_and_distinct() {
        let a = fake_sha("o/r@main");
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, fake_sha("o/r@main"));
        assert_ne!(a, fake_sha("o/r@dev"));
    }
}
