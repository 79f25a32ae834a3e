//! The engine plan of a publish: per package `available` (only when a released dependency
//! declares a `registry`), `bump`, `tag`, `push`, `trigger`, `wait` and `notes`, each after the
//! step before it and the first after the `notes` of every package it depends on; then
//! `umbrella` and `coordination` once every package is done. Step ids are stable across runs, so
//! the journal and `--resume` find them again.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::publisher::{PublishOptions, Publisher};
use super::recorded::plan_key;
use crate::config::Config;
use crate::engine::{Plan, PlannedStep};
use crate::error::{Error, Result};
use crate::publish::RUN_KIND;
use crate::publish::config::TriggerKind;
use crate::publish::plan::PublishPlan;
use crate::publish::registry::{AwaitedVersion, ResolvedRegistry, npm_registry_url};
use crate::publish::steps::{
    AvailableStep, BumpStep, CoordinationEntry, CoordinationStep, NotesStep, PackageCtx, PushStep,
    RunUrls, TagStep, TriggerSpec, TriggerStep, UmbrellaStep, WaitStep,
};
use crate::release::WaitSpec;
use crate::state::RunId;
use crate::version::ReleaseVersion;

/// The step kinds of one package, in order.
/// `available` exists only for a package some of whose released dependencies declare a
/// `registry`.
pub const PACKAGE_STEPS: [&str; 7] = [
    "available",
    "bump",
    "tag",
    "push",
    "trigger",
    "wait",
    "notes",
];

/// What the plan adds beyond its packages, when it adds it.
#[derive(Debug, Default)]
pub(super) struct Extras {
    /// The umbrella release's tag.
    pub(super) umbrella: Option<String>,
    /// The coordination manifest.
    pub(super) coordination: Option<String>,
}

/// The steps of `plan` on `publisher`'s backends, and what it adds beyond its packages.
pub(super) fn engine_plan(
    publisher: &Publisher,
    plan: &PublishPlan,
    options: &PublishOptions,
    run: RunId,
    urls: &RunUrls,
) -> Result<(Plan, Extras)> {
    let released = if options.nightly {
        BTreeMap::new()
    } else {
        plan.released_versions()?
    };
    let release = &publisher.config.release;
    let mut steps = Vec::new();
    let mut lasts = Vec::new();
    let mut entries = Vec::new();
    for p in &plan.packages {
        let repo = publisher
            .config
            .repo(&p.name)
            .ok_or_else(|| Error::invalid_input(format!("unknown repo {}", p.name)))?;
        let manifest =
            repo.publish.manifest.clone().ok_or_else(|| {
                Error::invalid_input(format!("{} declares no `manifest`", p.name))
            })?;
        let version = ReleaseVersion::parse(&p.next)?;
        let previous_tag = release
            .tag
            .render(&ReleaseVersion::parse(&p.current)?)
            .to_string();
        let pkg = PackageCtx {
            name: p.name.clone(),
            github: p.github.clone(),
            path: repo.path.clone(),
            version: p.next.clone(),
            tag: p.tag.clone(),
            previous_tag: Some(previous_tag),
            branch: repo.publish.branch().to_owned(),
            nightly: options.nightly,
            vcs: publisher.vcs.clone(),
            forge: publisher.forge.clone(),
        };
        let id = |kind: &str| format!("{kind}:{}", p.name);
        let mut after: Vec<String> = p.depends_on.iter().map(|d| format!("notes:{d}")).collect();
        let mut push = |step: Arc<dyn crate::step::Step>, after: &mut Vec<String>| {
            let this = step.id().to_owned();
            steps.push(PlannedStep {
                step,
                after: std::mem::take(after),
            });
            *after = vec![this];
        };
        if !options.nightly {
            let awaited = awaited_versions(&publisher.config, plan, &p.name)?;
            // Locked at their new versions in dependency order: every released package,
            // since a dependency's own dependencies sit in the same lockfile.
            let lock = plan
                .packages
                .iter()
                .filter(|d| d.name != p.name)
                .flat_map(|d| d.packages.iter().map(|n| (n.clone(), d.next.clone())))
                .collect();
            if !awaited.is_empty() {
                push(
                    Arc::new(AvailableStep {
                        id: id("available"),
                        pkg: pkg.clone(),
                        awaited,
                        poll_interval: release.poll_interval,
                        timeout: release.timeout,
                    }),
                    &mut after,
                );
            }
            push(
                Arc::new(BumpStep {
                    id: id("bump"),
                    pkg: pkg.clone(),
                    manifest,
                    released: released.clone(),
                    policy: publisher.config.publish.dependency_range,
                    lock,
                    npm_registry: npm_registry_url(
                        publisher.config.publish.npm_registry.as_deref(),
                    ),
                }),
                &mut after,
            );
        }
        push(
            Arc::new(TagStep {
                id: id("tag"),
                pkg: pkg.clone(),
            }),
            &mut after,
        );
        push(
            Arc::new(PushStep {
                id: id("push"),
                pkg: pkg.clone(),
            }),
            &mut after,
        );
        let trigger = TriggerSpec {
            kind: p.trigger,
            workflow: p.workflow.clone(),
            inputs: repo.publish.workflow_inputs.clone(),
            correlation: match p.trigger {
                TriggerKind::Tag => None,
                TriggerKind::Workflow => repo
                    .publish
                    .correlation_input()
                    .map(|input| (input.to_owned(), format!("{RUN_KIND}-{run}-{}", p.name))),
            },
        };
        push(
            Arc::new(TriggerStep {
                id: id("trigger"),
                pkg: pkg.clone(),
                trigger: trigger.clone(),
                urls: urls.clone(),
            }),
            &mut after,
        );
        push(
            Arc::new(WaitStep {
                id: id("wait"),
                pkg: pkg.clone(),
                trigger,
                wait: WaitSpec {
                    repo: p.github.clone(),
                    tag: p.tag.clone(),
                    // A nightly build carries no release version: CI names its assets
                    // after the tag or the build, so `{version}` matches anything.
                    patterns: repo
                        .assets
                        .iter()
                        .map(|a| {
                            if options.nightly {
                                a.for_any_version()
                            } else {
                                a.for_version(&version)
                            }
                        })
                        .collect(),
                    poll_interval: release.poll_interval,
                    timeout: release.timeout,
                    stable_polls: release.stable_polls,
                    fresh_tag: false,
                },
                urls: urls.clone(),
            }),
            &mut after,
        );
        push(
            Arc::new(NotesStep {
                id: id("notes"),
                pkg,
                display: p.packages.join(", "),
            }),
            &mut after,
        );
        lasts.push(id("notes"));
        entries.push(CoordinationEntry {
            name: p.name.clone(),
            path: repo.path.clone(),
            version: p.next.clone(),
            tag: p.tag.clone(),
            // Every declared dependency: released ones at their new version, the others at
            // what the manifest already records (a cascade must not forget them).
            requires: repo
                .depends_on
                .iter()
                .map(|d| (d.clone(), plan.package(d).map(|d| d.next.clone())))
                .collect(),
        });
    }
    let mut extras = Extras::default();
    if !options.nightly && !plan.packages.is_empty() {
        if let (Some(tag), Some(repo)) =
            (&plan.umbrella_tag, &publisher.config.publish.umbrella_repo)
        {
            steps.push(PlannedStep {
                step: Arc::new(UmbrellaStep {
                    repo: repo.clone(),
                    tag: tag.clone(),
                    packages: plan
                        .packages
                        .iter()
                        .map(|p| (p.packages.join(", "), p.next.clone(), p.tag.clone()))
                        .collect(),
                    forge: publisher.forge.clone(),
                }),
                after: lasts.clone(),
            });
            extras.umbrella = Some(tag.clone());
        }
        steps.push(PlannedStep {
            step: Arc::new(CoordinationStep {
                file: publisher.config.publish.coordination.clone(),
                entries,
                vcs: publisher.vcs.clone(),
                commit: publisher.config.publish.coordination_commit,
                message: format!(
                    "chore(release): record {} in {}",
                    plan_key(plan),
                    publisher
                        .config
                        .publish
                        .coordination
                        .file_name()
                        .map_or_else(
                            || "the coordination manifest".into(),
                            |n| n.to_string_lossy()
                        )
                ),
            }),
            after: lasts,
        });
        extras.coordination = Some(publisher.config.publish.coordination.display().to_string());
    }
    Ok((Plan::new(steps)?, extras))
}

/// The versions package `name` waits for before its bump: each package of each released
/// dependency whose repo declares a `registry`, resolved for `name`'s clone (its tools install
/// them).
pub fn awaited_versions(
    config: &Config,
    plan: &PublishPlan,
    name: &str,
) -> Result<Vec<AwaitedVersion>> {
    let (Some(p), Some(repo)) = (plan.package(name), config.repo(name)) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for dep in &p.depends_on {
        let (Some(d), Some(dep_repo)) = (plan.package(dep), config.repo(dep)) else {
            continue;
        };
        let Some(registry) = &dep_repo.publish.registry else {
            continue;
        };
        let resolved =
            ResolvedRegistry::resolve(registry, &repo.path, config.publish.npm_registry.as_deref())
                .map_err(|e| Error::invalid_input(format!("{dep} (needed by {name}): {e}")))?;
        out.extend(d.packages.iter().map(|package| AwaitedVersion {
            repo: dep.clone(),
            package: package.clone(),
            version: d.next.clone(),
            registry: resolved.clone(),
        }));
    }
    Ok(out)
}
