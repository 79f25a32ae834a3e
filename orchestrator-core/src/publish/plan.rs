//! The publish planner: pure, from the config, the request and what was observed in each clone
//! (manifest version, last tag, commits since it) to the set of packages to release, their next
//! versions (lock-step within a group), the reasons, and the waves.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::bump::{BreakingOn0x, BumpLevel, BumpRequest, auto_bump, next_version};
use super::config::TriggerKind;
use super::manifest::{ManifestChange, ManifestKind, in_file, rewrite_manifest};
use crate::config::Config;
use crate::error::{Error, PreflightFailure, Result};
use crate::forge::RepoId;
use crate::vcs::CommitInfo;

/// What to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishRequest {
    /// How versions move.
    pub bump: BumpRequest,
    /// Prerelease identifier (`rc`): with `prerelease`, or to make major/minor/patch prereleases.
    pub preid: Option<String>,
    /// Repo or package names; empty (or `all`) means every publishable repo.
    pub packages: Vec<String>,
    /// Add everything downstream of the selection.
    pub with_dependents: bool,
    /// Continue the last unfinished publish of the same set.
    pub resume: bool,
    /// Packages in flight (default `[publish] concurrency`, else `[release] concurrency`).
    pub concurrency: Option<usize>,
}

impl PublishRequest {
    /// Every package, with `bump`.
    pub fn new(bump: BumpRequest) -> Self {
        Self {
            bump,
            preid: None,
            packages: Vec::new(),
            with_dependents: false,
            resume: false,
            concurrency: None,
        }
    }
}

/// What was observed in one repo's clone.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ObservedRepo {
    /// The name in its manifest.
    pub manifest_name: Option<String>,
    /// The version in its manifest (the last release), `0.0.0` when none.
    pub current: String,
    /// The tag of that version, when it exists.
    pub last_tag: Option<String>,
    /// Commits since that tag, newest first.
    pub commits: Vec<CommitInfo>,
}

/// One package (repo) in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedPackage {
    /// The repo name.
    pub name: String,
    /// `owner/name`.
    pub github: RepoId,
    /// Package names it publishes.
    pub packages: Vec<String>,
    /// Its lock-step group.
    pub group: Option<String>,
    /// The version now.
    pub current: String,
    /// The version it is released as.
    pub next: String,
    /// The bump applied.
    pub level: BumpLevel,
    /// Why.
    pub reason: String,
    /// The tag.
    pub tag: String,
    /// Released repos it depends on (it starts after they finish).
    pub depends_on: Vec<String>,
    /// How its release starts.
    pub trigger: TriggerKind,
    /// Its release workflow.
    pub workflow: String,
}

/// The version that names the umbrella release: the new version of the repo that stands for the
/// ecosystem (`[publish] umbrella_version_from`, by default the last publishing repo in the
/// whole graph's dependency order) when this run releases it. A partial publish that leaves it
/// out has no such version; it is named after the greatest new version it releases, a version
/// of its own, never the version of whichever package happens to come last in the subset.
fn umbrella_version(config: &Config, packages: &[PlannedPackage]) -> Option<String> {
    let representative = config.publish.umbrella_version_from.clone().or_else(|| {
        config
            .graph
            .topological_order()
            .into_iter()
            .rev()
            .find(|n| config.repo(n).is_some_and(|r| r.publish.manifest.is_some()))
            .map(|n| n.to_string())
    });
    if let Some(p) = representative
        .as_deref()
        .and_then(|from| packages.iter().find(|p| p.name == from))
    {
        return Some(p.next.clone());
    }
    packages
        .iter()
        .filter_map(|p| semver::Version::parse(&p.next).ok().map(|v| (v, &p.next)))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, next)| next.clone())
}

/// A selected package that is not released, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedPackage {
    /// The repo name.
    pub name: String,
    /// The version it stays at.
    pub current: String,
    /// Why.
    pub reason: String,
}

/// A publish plan; nothing has changed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishPlan {
    /// Packages to release, in dependency order.
    pub packages: Vec<PlannedPackage>,
    /// Selected packages that are not released.
    pub skipped: Vec<SkippedPackage>,
    /// The released packages in waves that can run side by side.
    pub waves: Vec<Vec<String>>,
    /// Packages on the longest chain: the floor of the run, in CI runs.
    pub longest_chain: usize,
    /// The umbrella release's tag, when there is anything to release.
    pub umbrella_tag: Option<String>,
    /// Packages in flight at once.
    pub concurrency: usize,
}

impl PublishPlan {
    /// The planned package `name`.
    pub fn package(&self, name: &str) -> Option<&PlannedPackage> {
        self.packages.iter().find(|p| p.name == name)
    }

    /// Package name → new version, for every released package (the input of manifest rewrites).
    /// A plan read back from the state store may have been edited: a version that does not
    /// parse is an error naming the package, never a panic.
    pub fn released_versions(&self) -> Result<BTreeMap<String, semver::Version>> {
        let mut versions = BTreeMap::new();
        for p in &self.packages {
            let v = semver::Version::parse(&p.next).map_err(|e| {
                Error::invalid_input(format!(
                    "package {:?}: next version {:?}: {e}",
                    p.name, p.next
                ))
            })?;
            versions.extend(p.packages.iter().map(|n| (n.clone(), v.clone())));
        }
        Ok(versions)
    }

    /// Checks a plan read back from the state store (a resume continues it, and the database
    /// can be edited with the `sqlite3` shell): versions parse, names are unique, and every
    /// dependency and wave names a planned package. The error names the package and the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &str, what: String| {
            Err(Error::invalid_input(format!(
                "recorded publish plan: package {name:?}: {what}"
            )))
        };
        let names: BTreeSet<&str> = self.packages.iter().map(|p| p.name.as_str()).collect();
        if names.len() != self.packages.len() {
            return Err(Error::invalid_input(
                "recorded publish plan: a package is listed twice",
            ));
        }
        for p in &self.packages {
            for (field, value) in [("current", &p.current), ("next", &p.next)] {
                if let Err(e) = semver::Version::parse(value) {
                    return bad(&p.name, format!("`{field}` {value:?}: {e}"));
                }
            }
            if p.tag.trim().is_empty() {
                return bad(&p.name, "empty `tag`".into());
            }
            if let Some(d) = p.depends_on.iter().find(|d| !names.contains(d.as_str())) {
                return bad(
                    &p.name,
                    format!("`depends_on` names {d:?}, which is not planned"),
                );
            }
        }
        if let Some(w) = self
            .waves
            .iter()
            .flatten()
            .find(|w| !names.contains(w.as_str()))
        {
            return bad(w, "in `waves` but not planned".into());
        }
        if self.concurrency == 0 {
            return Err(Error::invalid_input(
                "recorded publish plan: `concurrency` is 0",
            ));
        }
        Ok(())
    }
}

/// The manifest rewrites a plan's bump steps will make in one repo, for the plan and the dry
/// run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestRewrite {
    /// The repo name.
    pub repo: String,
    /// The manifest (absolute).
    pub file: std::path::PathBuf,
    /// Each change: the package's own version, and every requirement on a released package
    /// (table and key, old -> new).
    pub changes: Vec<ManifestChange>,
}

/// Rewrites every planned package's manifest in memory (nothing is written), as its bump step
/// will: the changes per repo, or every requirement that cannot be rewritten (each naming file,
/// line, table and value) as preflight failures, so a run refuses before it changes anything.
pub fn manifest_rewrites(
    config: &Config,
    plan: &PublishPlan,
) -> std::result::Result<Vec<ManifestRewrite>, Vec<PreflightFailure>> {
    let released = plan.released_versions().map_err(|e| {
        vec![PreflightFailure {
            repo: String::new(),
            reason: e.to_string(),
        }]
    })?;
    let mut out = Vec::new();
    let mut failures = Vec::new();
    for p in &plan.packages {
        let Some(file) = config
            .repo(&p.name)
            .and_then(|r| r.publish.manifest.clone())
        else {
            continue;
        };
        let rewrite = || -> Result<Vec<ManifestChange>> {
            let kind = ManifestKind::detect(&file)?;
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
            let version = semver::Version::parse(&p.next)
                .map_err(|e| Error::invalid_input(format!("{}: {e}", p.next)))?;
            let edit = rewrite_manifest(
                kind,
                &text,
                Some(&version),
                &released,
                config.publish.dependency_range,
            )
            .map_err(|e| in_file(&file, e))?;
            Ok(edit.changes)
        };
        match rewrite() {
            Ok(changes) => out.push(ManifestRewrite {
                repo: p.name.clone(),
                file: file.clone(),
                changes,
            }),
            Err(e) => failures.push(PreflightFailure {
                repo: p.name.clone(),
                reason: match e {
                    Error::InvalidInput { message } => message,
                    other => other.to_string(),
                },
            }),
        }
    }
    if failures.is_empty() {
        Ok(out)
    } else {
        Err(failures)
    }
}

/// The package names of a repo: configured, else the manifest's, else the repo name.
pub fn package_names(config: &Config, repo: &str, observed: Option<&ObservedRepo>) -> Vec<String> {
    let Some(r) = config.repo(repo) else {
        return Vec::new();
    };
    if !r.publish.packages.is_empty() {
        return r.publish.packages.clone();
    }
    vec![
        observed
            .and_then(|o| o.manifest_name.clone())
            .unwrap_or_else(|| repo.to_owned()),
    ]
}

/// Plans a publish. Pure: everything about the clones comes in `observed` (one entry per repo
/// with a `manifest`).
pub fn plan_publish(
    config: &Config,
    request: &PublishRequest,
    observed: &BTreeMap<String, ObservedRepo>,
) -> Result<PublishPlan> {
    let publishable: Vec<&str> = config
        .graph
        .topological_order()
        .into_iter()
        .filter(|n| config.repo(n).is_some_and(|r| r.publish.manifest.is_some()))
        .collect();
    if publishable.is_empty() {
        return Err(Error::invalid_input(format!(
            "{} declares no [[repo]] with a `manifest`: nothing to publish",
            config.file.display()
        )));
    }
    let names_of = |repo: &str| package_names(config, repo, observed.get(repo));
    // Selection by repo or package name.
    let mut selected: BTreeSet<String> = BTreeSet::new();
    let all = request.packages.is_empty() || request.packages.iter().any(|p| p == "all");
    if all {
        selected.extend(publishable.iter().map(|s| (*s).to_owned()));
    } else {
        for wanted in &request.packages {
            let found = publishable
                .iter()
                .find(|r| **r == wanted || names_of(r).iter().any(|n| n == wanted));
            match found {
                Some(r) => {
                    selected.insert((*r).to_owned());
                }
                None => {
                    return Err(Error::invalid_input(format!(
                        "unknown package {wanted:?} in --packages (publishable: {})",
                        publishable.join(", ")
                    )));
                }
            }
        }
    }
    let group_of = |repo: &str| config.repo(repo).and_then(|r| r.publish.group.clone());
    let expand_groups = |selected: &mut BTreeSet<String>| {
        let groups: BTreeSet<String> = selected.iter().filter_map(|r| group_of(r)).collect();
        for r in &publishable {
            if group_of(r).is_some_and(|g| groups.contains(&g)) {
                selected.insert((*r).to_owned());
            }
        }
    };
    expand_groups(&mut selected);
    if request.with_dependents {
        let closure = config
            .graph
            .dependents_closure(selected.iter().map(String::as_str));
        selected.extend(
            closure
                .into_iter()
                .filter(|n| publishable.contains(&n.as_str())),
        );
        expand_groups(&mut selected);
    }
    let order: Vec<&str> = publishable
        .iter()
        .copied()
        .filter(|r| selected.contains(*r))
        .collect();

    // Levels: own (explicit or from commits), then "a dependency is released", then lock-step
    // groups, until nothing changes.
    let mut level: BTreeMap<&str, Option<BumpLevel>> = BTreeMap::new();
    let mut reason: BTreeMap<&str, String> = BTreeMap::new();
    for r in &order {
        let (l, why) = match request.bump {
            BumpRequest::Major => (Some(BumpLevel::Major), "--bump major".to_owned()),
            BumpRequest::Minor => (Some(BumpLevel::Minor), "--bump minor".to_owned()),
            BumpRequest::Patch => (Some(BumpLevel::Patch), "--bump patch".to_owned()),
            BumpRequest::Prerelease => (
                Some(BumpLevel::Prerelease),
                format!(
                    "--bump prerelease --preid {}",
                    request.preid.as_deref().unwrap_or("rc")
                ),
            ),
            BumpRequest::Auto => {
                let observed = observed.get(*r);
                let auto = auto_bump(observed.map_or(&[][..], |o| &o.commits));
                // On 0.x a breaking change bumps the minor (Cargo's rule: `^0.4` excludes
                // 0.5), unless `[publish] breaking_on_0x = "major"`.
                let on_0x = observed
                    .and_then(|o| semver::Version::parse(&o.current).ok())
                    .is_some_and(|v| v.major == 0);
                if auto.level == Some(BumpLevel::Major)
                    && on_0x
                    && config.publish.breaking_on_0x == BreakingOn0x::Minor
                {
                    (
                        Some(BumpLevel::Minor),
                        format!("{} (0.x: breaking bumps the minor)", auto.reason),
                    )
                } else {
                    (auto.level, auto.reason)
                }
            }
        };
        level.insert(r, l);
        reason.insert(r, why);
    }
    loop {
        let mut changed = false;
        for r in &order {
            if level[r].is_none()
                && let Some(dep) = config
                    .graph
                    .dependencies(r)
                    .into_iter()
                    .find(|d| level.get(d).copied().flatten().is_some())
            {
                level.insert(r, Some(BumpLevel::Patch));
                reason.insert(r, format!("depends on {dep}, released in this set"));
                changed = true;
            }
        }
        let mut group_level: BTreeMap<String, (BumpLevel, &str)> = BTreeMap::new();
        for r in &order {
            if let (Some(g), Some(l)) = (group_of(r), level[r]) {
                let e = group_level.entry(g).or_insert((l, r));
                if l > e.0 {
                    *e = (l, r);
                }
            }
        }
        for r in &order {
            if let Some(g) = group_of(r)
                && let Some((gl, by)) = group_level.get(&g)
                && level[r] != Some(*gl)
            {
                level.insert(r, Some(*gl));
                reason.insert(
                    r,
                    format!("lock-step with group {g} ({by}: {})", reason[by]),
                );
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    let current_of = |r: &str| -> Result<semver::Version> {
        let text = observed.get(r).map_or("0.0.0", |o| o.current.as_str());
        semver::Version::parse(text).map_err(|e| {
            Error::invalid_input(format!("{r}: manifest version {text:?} is not SemVer: {e}"))
        })
    };
    // Lock-step groups version from their highest member.
    let mut group_base: BTreeMap<String, semver::Version> = BTreeMap::new();
    for r in &order {
        if let Some(g) = group_of(r) {
            let c = current_of(r)?;
            let e = group_base.entry(g).or_insert_with(|| c.clone());
            if c > *e {
                *e = c;
            }
        }
    }
    let mut packages = Vec::new();
    let mut skipped = Vec::new();
    let released: BTreeSet<&str> = order
        .iter()
        .copied()
        .filter(|r| level[r].is_some())
        .collect();
    for r in &order {
        let current = current_of(r)?;
        let Some(l) = level[r] else {
            skipped.push(SkippedPackage {
                name: (*r).to_owned(),
                current: current.to_string(),
                reason: reason[r].clone(),
            });
            continue;
        };
        let base = group_of(r)
            .and_then(|g| group_base.get(&g).cloned())
            .unwrap_or_else(|| current.clone());
        let next = next_version(&base, l, request.preid.as_deref())?;
        let repo = config.repo(r).expect("publishable repos are configured");
        packages.push(PlannedPackage {
            name: (*r).to_owned(),
            github: repo.github.clone(),
            packages: names_of(r),
            group: group_of(r),
            current: current.to_string(),
            next: next.to_string(),
            level: l,
            reason: reason[r].clone(),
            tag: config
                .release
                .tag
                .render(&crate::version::ReleaseVersion::from(next)),
            depends_on: config
                .graph
                .dependencies(r)
                .into_iter()
                .filter(|d| released.contains(d))
                .map(str::to_owned)
                .collect(),
            trigger: repo.publish.trigger(),
            workflow: repo.publish.workflow().to_owned(),
        });
    }
    let released_set: BTreeSet<String> = released.iter().map(|s| (*s).to_owned()).collect();
    let waves = if released_set.is_empty() {
        Vec::new()
    } else {
        config.graph.waves(Some(&released_set))
    };
    let umbrella_version = umbrella_version(config, &packages);
    let concurrency = request
        .concurrency
        .or(config.publish.concurrency)
        .unwrap_or(config.release.concurrency);
    if concurrency == 0 {
        return Err(Error::invalid_input("--concurrency must be at least 1"));
    }
    Ok(PublishPlan {
        longest_chain: waves.len(),
        waves,
        umbrella_tag: umbrella_version.map(|v| {
            config.publish.umbrella_tag.render(
                &crate::version::ReleaseVersion::parse(&v).expect("planned versions are valid"),
            )
        }),
        packages,
        skipped,
        concurrency,
    })
}
