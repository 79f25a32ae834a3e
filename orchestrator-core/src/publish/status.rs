//! `orchestrator status`: one row per repo comparing the forge with the coordination manifest
//! (latest release and its age, the version the manifest expects, the latest run of the release
//! workflow), with drift flagged; and the Markdown section `--update-issue` keeps in a tracking
//! issue's body between two markers, leaving the rest of the body as people wrote it.
//!
//! `status` is a report, not a workflow: it takes no workspace lock and writes no journal, on
//! purpose. It must run beside the release or cascade it reports on (a scheduled monitor that
//! waited for the lock would go blind during every release), and it has nothing to resume: its
//! one effect, [`update_status_issue`], rewrites a marked section of one issue body from
//! scratch, only when the table changed, so repeating it after a crash is the recovery and a
//! journal would record nothing a second run does not recompute.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::coordination::{CoordinatedVersion, CoordinationManifest};
use crate::config::{Config, RepoConfig};
use crate::error::{Error, Result};
use crate::forge::{Forge, IssueForge, Release, RepoId, WorkflowRunQuery, WorkflowRunStatus};

/// Opens the section `status` owns in a tracking issue's body.
pub const STATUS_START: &str = "<!-- orchestrator-status:start -->";
/// Closes it.
pub const STATUS_END: &str = "<!-- orchestrator-status:end -->";

/// One repo's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusRow {
    /// The configured repo.
    pub repo: String,
    /// The newest published, non-prerelease release in the release tag format.
    pub latest_release: Option<String>,
    /// When it was published, ms since the Unix epoch.
    pub released_at_ms: Option<i64>,
    /// Its age, for people (`3d 4h`).
    pub age: Option<String>,
    /// The tag the coordination manifest expects.
    pub expected: Option<String>,
    /// The latest run of the repo's release workflow.
    pub latest_run: Option<String>,
    /// Its conclusion, or its status while it runs (`queued`, `in_progress`).
    pub conclusion: Option<String>,
    /// What is wrong, if anything.
    pub drift: Option<String>,
}

/// What `status` found: every repo's row and the Markdown table of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// One row per configured repo, in configuration order.
    pub rows: Vec<StatusRow>,
    /// The rows as a Markdown table (the step summary, the tracking issue).
    pub markdown: String,
    /// When the forge was read, ms since the Unix epoch.
    pub checked_at_ms: i64,
}

impl StatusReport {
    /// The repos with drift, in configuration order.
    pub fn drifted(&self) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| r.drift.is_some())
            .map(|r| r.repo.as_str())
            .collect()
    }
}

/// The coordination manifest `[publish] coordination` as it stands (absent: nothing expected
/// yet); unreadable or invalid is bad input naming the file.
pub fn read_expected(config: &Config) -> Result<CoordinationManifest> {
    let file = &config.publish.coordination;
    match std::fs::read_to_string(file) {
        Ok(text) => super::read_coordination(&text)
            .map_err(|e| Error::invalid_input(format!("{}: {e}", file.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CoordinationManifest::new()),
        Err(e) => Err(Error::io(format!("reading {}", file.display()), e)),
    }
}

/// The status of every repo against the coordination manifest, read from `forge` at `now_ms`.
/// Read-only.
pub async fn status_report(
    config: &Config,
    forge: Arc<dyn Forge>,
    now_ms: i64,
) -> Result<StatusReport> {
    let expected = read_expected(config)?;
    let rows = status_rows(config, forge, &expected, now_ms).await?;
    Ok(StatusReport {
        markdown: status_markdown(&rows),
        rows,
        checked_at_ms: now_ms,
    })
}

/// Keeps `report`'s table in issue `number` of `repo` (see [`issue_body_with_status`]): the
/// issue is read and edited only when the table changed. True when it was edited. Issues are all
/// it touches on the forge.
pub async fn update_status_issue(
    forge: &dyn IssueForge,
    repo: &RepoId,
    number: u64,
    report: &StatusReport,
) -> Result<bool> {
    let current = forge.issue(repo, number).await?;
    let checked_at = crate::time::format_utc_ms(report.checked_at_ms);
    match issue_body_with_status(&current.body, &report.markdown, &checked_at) {
        Some(body) => {
            forge.update_issue_body(repo, number, &body).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Every configured repo's row, in configuration order. Repos are asked about side by side, at
/// most `[release] concurrency` at a time (GitHub's secondary rate limits punish bursts of
/// concurrent requests). A backend without workflow runs leaves those columns empty.
pub async fn status_rows(
    config: &Config,
    forge: Arc<dyn Forge>,
    expected: &CoordinationManifest,
    now_ms: i64,
) -> Result<Vec<StatusRow>> {
    let permits = Arc::new(Semaphore::new(config.release.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (index, repo) in config.repos.iter().enumerate() {
        let forge = forge.clone();
        let permits = permits.clone();
        let github = repo.github.clone();
        let workflow = repo.publish.workflow().to_owned();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (index, observe_repo(forge.as_ref(), &github, workflow).await)
        });
    }
    let mut observed: Vec<Option<Observed>> = vec![None; config.repos.len()];
    while let Some(joined) = tasks.join_next().await {
        let (index, result) =
            joined.map_err(|e| Error::state(format!("status task failed: {e}")))?;
        observed[index] = Some(result?);
    }
    Ok(config
        .repos
        .iter()
        .zip(observed)
        .map(|(repo, seen)| {
            let seen = seen.expect("every task reported");
            row(config, repo, &seen, expected.get(&repo.name), now_ms)
        })
        .collect())
}

/// What the forge said about one repo.
#[derive(Debug, Clone)]
struct Observed {
    releases: Vec<Release>,
    /// (url, conclusion or status) of the newest release-workflow run.
    run: Option<(String, String)>,
}

async fn observe_repo(forge: &dyn Forge, repo: &RepoId, workflow: String) -> Result<Observed> {
    let releases = forge.list_releases(repo).await?;
    let query = WorkflowRunQuery {
        workflow: Some(workflow),
        ..WorkflowRunQuery::default()
    };
    let run = match forge.list_workflow_runs(repo, &query).await {
        Ok(runs) => runs.into_iter().next().map(|run| {
            let state = run.conclusion.clone().unwrap_or_else(|| {
                match run.status {
                    WorkflowRunStatus::Queued => "queued",
                    WorkflowRunStatus::InProgress => "in_progress",
                    WorkflowRunStatus::Completed => "completed",
                }
                .to_owned()
            });
            (run.html_url, state)
        }),
        Err(Error::NotSupported { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(Observed { releases, run })
}

/// Conclusions that are not a problem (a run still going is not one yet).
const FINE: [&str; 4] = ["success", "queued", "in_progress", "skipped"];

fn row(
    config: &Config,
    repo: &RepoConfig,
    seen: &Observed,
    expected: Option<&CoordinatedVersion>,
    now_ms: i64,
) -> StatusRow {
    let published = || seen.releases.iter().filter(|r| !r.draft);
    let latest = published()
        .filter(|r| !r.prerelease)
        .filter_map(|r| config.release.tag.parse_tag(&r.tag).map(|v| (v, r)))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, r)| r);
    let mut drift = Vec::new();
    if let Some(e) = expected {
        let expected_release = published().find(|r| r.tag == e.git_tag);
        match (expected_release, latest) {
            (None, _) => drift.push(format!("{} is not released on the forge", e.git_tag)),
            // A prerelease the manifest asks for is fine while no newer stable release exists.
            (Some(_), Some(l)) if l.tag != e.git_tag && newer(config, &l.tag, &e.git_tag) => {
                drift.push(format!(
                    "forge has {}, manifest expects {}",
                    l.tag, e.git_tag
                ));
            }
            _ => {}
        }
    }
    if let Some((_, conclusion)) = &seen.run
        && !FINE.contains(&conclusion.as_str())
    {
        drift.push(format!("last release run: {conclusion}"));
    }
    let released_at_ms = latest.and_then(|r| r.published_at_ms);
    StatusRow {
        repo: repo.name.clone(),
        latest_release: latest.map(|r| r.tag.clone()),
        released_at_ms,
        age: released_at_ms.map(|at| format_age(now_ms.saturating_sub(at))),
        expected: expected.map(|e| e.git_tag.clone()),
        latest_run: seen.run.as_ref().map(|(url, _)| url.clone()),
        conclusion: seen.run.as_ref().map(|(_, c)| c.clone()),
        drift: (!drift.is_empty()).then(|| drift.join("; ")),
    }
}

/// Whether tag `a` is a newer version than tag `b` (tags outside the format are not).
fn newer(config: &Config, a: &str, b: &str) -> bool {
    match (
        config.release.tag.parse_tag(a),
        config.release.tag.parse_tag(b),
    ) {
        (Some(a), Some(b)) => a > b,
        _ => false,
    }
}

/// A duration for people, two units at most: `45s`, `12m`, `5h 2m`, `3d 4h`.
pub fn format_age(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// The Markdown table of `rows` (what the tracking issue shows).
pub fn status_markdown(rows: &[StatusRow]) -> String {
    let drifted = rows.iter().filter(|r| r.drift.is_some()).count();
    let cell = |s: &Option<String>| match s {
        Some(s) => s.replace('|', "\\|"),
        None => "-".into(),
    };
    let mut out = if drifted == 0 {
        format!("**{} repos, no drift.**\n\n", rows.len())
    } else {
        format!("**{drifted} of {} repos drifted.**\n\n", rows.len())
    };
    out.push_str("| repo | latest release | age | expected | release run | drift |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for r in rows {
        let run = match (&r.latest_run, &r.conclusion) {
            (Some(url), Some(c)) => format!("[{c}]({url})"),
            _ => "-".into(),
        };
        let drift = r.drift.as_ref().map_or_else(
            || "-".to_owned(),
            |d| format!(":warning: {}", d.replace('|', "\\|")),
        );
        out.push_str(&format!(
            "| {} | {} | {} | {} | {run} | {drift} |\n",
            r.repo,
            cell(&r.latest_release),
            cell(&r.age),
            cell(&r.expected),
        ));
    }
    out
}

/// `body` with the status section replaced by `table` (appended when the body has none). The
/// rest of the body is kept byte for byte. `None` when the table is the one already there, so
/// a monitor that runs hourly edits the issue only when something changed. Ages are left out
/// of that comparison: they change on every run.
pub fn issue_body_with_status(body: &str, table: &str, checked_at: &str) -> Option<String> {
    let section = format!(
        "{STATUS_START}\n{table}\n_Written by `orchestrator status` at {checked_at}._\n{STATUS_END}"
    );
    let (before, current, after) = match section_bounds(body) {
        Some((start, end)) => (&body[..start], Some(&body[start..end]), &body[end..]),
        None => (body, None, ""),
    };
    if current.is_some_and(|c| without_ages(c) == without_ages(&section)) {
        return None;
    }
    let before = if current.is_none() && !before.trim().is_empty() {
        format!("{}\n\n", before.trim_end())
    } else {
        before.to_owned()
    };
    Some(format!("{before}{section}{after}"))
}

/// Where the section is: the first end marker, and the last start marker before it, so a
/// person's text that mentions a marker elsewhere is neither deleted nor makes a second section.
fn section_bounds(body: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(found) = body[from..].find(STATUS_END) {
        let end = from + found;
        if let Some(start) = body[..end].rfind(STATUS_START) {
            return Some((start, end + STATUS_END.len()));
        }
        from = end + STATUS_END.len();
    }
    None
}

/// A section with its age column and timestamp line blanked.
fn without_ages(section: &str) -> String {
    section
        .lines()
        .filter(|l| !l.starts_with("_Written by"))
        .map(|l| {
            if l.starts_with("| ") && !l.starts_with("| repo |") {
                let mut cells: Vec<&str> = l.split(" | ").collect();
                if cells.len() > 2 {
                    cells[2] = "";
                }
                cells.join(" | ")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses `owner/repo#N`, the `--update-issue` argument.
pub fn parse_issue_ref(text: &str) -> Result<(RepoId, u64)> {
    let bad = || {
        Error::invalid_input(format!(
            "invalid issue {text:?}: expected owner/repo#NUMBER, such as acme/releases#12"
        ))
    };
    let (repo, number) = text.split_once('#').ok_or_else(bad)?;
    let repo: RepoId = repo.parse().map_err(|_| bad())?;
    let number: u64 = number.parse().map_err(|_| bad())?;
    if number == 0 {
        return Err(bad());
    }
    Ok((repo, number))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::{InMemoryForge, NewRelease, ReleaseForge, ReleaseWriteForge, WorkflowRun};

    const CONFIG: &str = "[forge]\nowner = \"acme\"\n\
        [[repo]]\nname = \"core\"\npath = \"core\"\n\
        [[repo]]\nname = \"app\"\npath = \"app\"\ndepends_on = [\"core\"]\n\
        [[repo]]\nname = \"tool\"\npath = \"tool\"\n";

    fn config() -> Config {
        Config::parse(CONFIG, std::path::Path::new("/ws/orchestrator.toml")).expect("valid config")
    }

    fn expect(tag: &str) -> CoordinatedVersion {
        CoordinatedVersion {
            version: tag.trim_start_matches('v').into(),
            git_tag: tag.into(),
            git_commit: "abc".into(),
            requires: Vec::new(),
            binaries: Vec::new(),
        }
    }

    async fn release(forge: &InMemoryForge, repo: &str, tag: &str, draft: bool, pre: bool) {
        let new = NewRelease {
            tag: tag.into(),
            draft,
            prerelease: pre,
            ..NewRelease::default()
        };
        forge
            .create_release(&RepoId::new("acme", repo), &new)
            .await
            .expect("create");
    }

    #[tokio::test]
    async fn rows_flag_missing_newer_and_failed_releases() {
        let forge = InMemoryForge::new();
        release(&forge, "core", "v1.0.0", false, false).await;
        release(&forge, "core", "v1.1.0", false, false).await;
        release(&forge, "core", "v1.2.0-rc.1", false, true).await;
        release(&forge, "app", "v2.0.0", false, false).await;
        release(&forge, "app", "v2.1.0", true, false).await;
        release(&forge, "tool", "v0.3.0", false, false).await;
        forge.add_workflow_run(
            &RepoId::new("acme", "tool"),
            WorkflowRun {
                id: 7,
                workflow: "release.yml".into(),
                display_title: "release v0.3.1".into(),
                event: "push".into(),
                head_sha: "abc".into(),
                head_branch: None,
                status: WorkflowRunStatus::Completed,
                conclusion: Some("failure".into()),
                created_at_ms: 1,
                html_url: "https://x/runs/7".into(),
            },
        );
        let mut expected = CoordinationManifest::new();
        expected.insert("core".into(), expect("v1.0.0"));
        expected.insert("app".into(), expect("v2.1.0"));
        // Three hours and five minutes after core's newest release, whenever the test runs.
        let published = forge
            .release_by_tag(&RepoId::new("acme", "core"), "v1.1.0")
            .await
            .expect("lookup")
            .and_then(|r| r.published_at_ms)
            .expect("dated");
        let now = published + 3 * 3_600_000 + 5 * 60_000;
        let rows = status_rows(&config(), Arc::new(forge.clone()), &expected, now)
            .await
            .expect("rows");
        let names: Vec<&str> = rows.iter().map(|r| r.repo.as_str()).collect();
        assert_eq!(names, ["core", "app", "tool"], "configuration order");
        assert_eq!(
            rows[0].latest_release.as_deref(),
            Some("v1.1.0"),
            "not the rc"
        );
        assert_eq!(rows[0].age.as_deref(), Some("3h 5m"));
        assert_eq!(
            rows[0].drift.as_deref(),
            Some("forge has v1.1.0, manifest expects v1.0.0")
        );
        assert_eq!(
            rows[1].latest_release.as_deref(),
            Some("v2.0.0"),
            "not the draft"
        );
        assert_eq!(
            rows[1].drift.as_deref(),
            Some("v2.1.0 is not released on the forge")
        );
        assert_eq!(rows[2].expected, None);
        assert_eq!(rows[2].conclusion.as_deref(), Some("failure"));
        assert_eq!(rows[2].drift.as_deref(), Some("last release run: failure"));
        // In agreement: no drift.
        let mut agreed = CoordinationManifest::new();
        agreed.insert("core".into(), expect("v1.1.0"));
        agreed.insert("app".into(), expect("v2.0.0"));
        let rows = status_rows(&config(), Arc::new(forge), &agreed, now)
            .await
            .expect("rows");
        assert_eq!(rows[0].drift, None);
        assert_eq!(rows[1].drift, None);
    }

    #[test]
    fn ages_read_in_two_units_at_most() {
        for (ms, shown) in [
            (-5, "0s"),
            (45_000, "45s"),
            (12 * 60_000 + 3_000, "12m"),
            (5 * 3_600_000, "5h"),
            (5 * 3_600_000 + 2 * 60_000, "5h 2m"),
            (2 * 86_400_000 + 30 * 60_000, "2d"),
            (3 * 86_400_000 + 4 * 3_600_000 + 59_000, "3d 4h"),
        ] {
            assert_eq!(format_age(ms), shown, "{ms}");
        }
    }

    fn rows(age: &str, drift: Option<&str>) -> Vec<StatusRow> {
        vec![StatusRow {
            repo: "core".into(),
            latest_release: Some("v1.1.0".into()),
            released_at_ms: Some(0),
            age: Some(age.into()),
            expected: Some("v1.1.0".into()),
            latest_run: Some("https://x/runs/1".into()),
            conclusion: Some("success".into()),
            drift: drift.map(str::to_owned),
        }]
    }

    #[test]
    fn the_issue_keeps_its_own_text_and_changes_only_when_the_table_does() {
        let table = status_markdown(&rows("3h", None));
        let first = issue_body_with_status("Tracking the ecosystem.\n", &table, "T1")
            .expect("a new section");
        assert!(first.starts_with("Tracking the ecosystem.\n\n<!-- orchestrator-status:start -->"));
        assert!(
            first.contains("| core | v1.1.0 | 3h | v1.1.0 | [success](https://x/runs/1) | - |")
        );
        let edited = first.replace("Tracking", "Still tracking") + "\nNotes below.\n";
        // Only the age moved: nothing to write.
        let older = status_markdown(&rows("4h", None));
        assert_eq!(issue_body_with_status(&edited, &older, "T2"), None);
        // Drift: the section is replaced, the people's text around it kept.
        let drifted = status_markdown(&rows("4h", Some("a|b")));
        let second = issue_body_with_status(&edited, &drifted, "T3").expect("changed");
        assert!(
            second
                .starts_with("Still tracking the ecosystem.\n\n<!-- orchestrator-status:start -->")
        );
        assert!(second.ends_with("<!-- orchestrator-status:end -->\nNotes below.\n"));
        assert!(second.contains("**1 of 1 repos drifted.**"));
        assert!(second.contains(":warning: a\\|b"));
        assert!(second.contains("at T3"));
        assert_eq!(second.matches(STATUS_START).count(), 1);
        // Markers a person mentions elsewhere neither lose their text nor add a second section.
        let mentioned = format!(
            "Do not edit below `{STATUS_END}`... or above `{STATUS_START}`!\n\n{}",
            second
        );
        let third = issue_body_with_status(&mentioned, &older, "T4").expect("changed");
        assert!(third.starts_with("Do not edit below `"), "{third}");
        assert_eq!(
            third.matches(STATUS_START).count(),
            2,
            "the mention and the section"
        );
        assert!(
            !third.contains("a\\|b"),
            "the section was replaced: {third}"
        );
        assert_eq!(issue_body_with_status(&third, &older, "T5"), None);
        // An empty body gets just the section.
        let fresh = issue_body_with_status("", &table, "T").expect("new");
        assert!(fresh.starts_with(STATUS_START));
    }

    #[test]
    fn issue_refs_name_repo_and_number() {
        assert_eq!(
            parse_issue_ref("acme/releases#12").expect("valid"),
            (RepoId::new("acme", "releases"), 12)
        );
        for bad in [
            "acme/releases",
            "acme#1",
            "acme/releases#",
            "acme/releases#x",
            "a/b#0",
        ] {
            let err = parse_issue_ref(bad).expect_err(bad).to_string();
            assert!(err.contains("owner/repo#NUMBER"), "{err}");
        }
    }
}
