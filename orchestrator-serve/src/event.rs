//! What a verified webhook asks of us: a job, a wake for the waits on a repo, or nothing.
//!
//! Only the fields we act on are read, each validated with a message naming it
//! (`push: repository.full_name is missing`), so a malformed delivery is refused with 400 before
//! anything is stored. Policy is not decided here: a plan command is recognised with the same
//! core parser `pr-command` uses, and the job runs the same handler later.

use orchestrator_core::forge::{AssetState, Release, ReleaseAsset, RepoId};
use orchestrator_core::scale::review;
use serde_json::{Value, json};

use crate::queue::{JobKind, NewJob};

/// What to do with one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Intake {
    /// Store this job (then answer 202).
    Job(NewJob),
    /// Wake the waits on this repo now (a `release` or `workflow_run` changed there).
    Wake {
        /// The repository the event is about.
        repo: RepoId,
        /// The release a `release` event describes, when its payload carries one: only the waits
        /// it could settle are woken. `None` wakes every wait on the repo.
        release: Option<Release>,
    },
    /// Accepted and logged, nothing to do (an unknown event, a comment without a command...).
    Ignored {
        /// Why, for the log.
        reason: String,
    },
}

/// The release a `release` event's payload describes (tag, draft, assets with their upload
/// state), or `None` when a field is missing: then every wait on the repo is woken, as before, so
/// an unexpected payload shape costs a request, never a missed wake.
fn release_of(body: &Value) -> Option<Release> {
    let release = body.get("release")?;
    let assets = release
        .get("assets")?
        .as_array()?
        .iter()
        .map(|asset| {
            Some(ReleaseAsset {
                id: asset.get("id")?.as_u64()?,
                name: asset.get("name")?.as_str()?.to_owned(),
                size: asset.get("size")?.as_u64()?,
                state: match asset.get("state")?.as_str()? {
                    "uploaded" => AssetState::Uploaded,
                    _ => AssetState::Uploading,
                },
                download_url: String::new(),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Release {
        id: release.get("id")?.as_u64()?,
        tag: release.get("tag_name")?.as_str()?.to_owned(),
        name: None,
        body: None,
        draft: release.get("draft")?.as_bool()?,
        prerelease: release
            .get("prerelease")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        html_url: String::new(),
        assets,
        published_at_ms: None,
    })
}

/// Why a payload was refused (400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError(pub String);

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PayloadError {}

/// Reads the string at JSON pointer `path`, or says which field of `event` is missing.
fn text<'a>(event: &str, body: &'a Value, path: &str) -> Result<&'a str, PayloadError> {
    body.pointer(path).and_then(Value::as_str).ok_or_else(|| {
        PayloadError(format!(
            "{event}: {} is missing or not a string",
            path.trim_start_matches('/').replace('/', ".")
        ))
    })
}

/// The repository the event is about (`repository.full_name`, `owner/name`).
fn repository(event: &str, body: &Value) -> Result<RepoId, PayloadError> {
    let full = text(event, body, "/repository/full_name")?;
    let (owner, name) = full
        .split_once('/')
        .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| {
            PayloadError(format!(
                "{event}: repository.full_name {full:?} is not owner/name"
            ))
        })?;
    Ok(RepoId::new(owner, name))
}

/// Classifies one verified delivery: `event` is `X-GitHub-Event`, `delivery` is
/// `X-GitHub-Delivery`, `body` the parsed payload.
///
/// # Errors
/// [`PayloadError`] naming the field when an event we act on lacks one we need.
pub fn classify(event: &str, delivery: Option<&str>, body: &Value) -> Result<Intake, PayloadError> {
    let delivery = delivery.map(str::to_owned);
    let ignored = |reason: String| Ok(Intake::Ignored { reason });
    match event {
        "push" => {
            let repo = repository(event, body)?;
            let git_ref = text(event, body, "/ref")?;
            let after = text(event, body, "/after")?;
            let default = text(event, body, "/repository/default_branch")?;
            if body.get("deleted").and_then(Value::as_bool) == Some(true) {
                return ignored(format!("push to {repo}: {git_ref} was deleted"));
            }
            if git_ref != format!("refs/heads/{default}") {
                return ignored(format!(
                    "push to {repo}: {git_ref} is not the default branch ({default})"
                ));
            }
            // The shape `orchestrator cascade --event-file` reads (client_payload.repo names the
            // repo by its forge name), so a push and a dispatch run the same code.
            Ok(Intake::Job(NewJob {
                kind: JobKind::Cascade,
                key: format!("cascade:{repo}"),
                trigger: json!({
                    "event": "push",
                    "action": "push",
                    "client_payload": {"repo": repo.to_string(), "ref": git_ref, "sha": after},
                }),
                delivery,
            }))
        }
        "repository_dispatch" => {
            let repo = repository(event, body)?;
            let action = text(event, body, "/action")?;
            let payload = body
                .get("client_payload")
                .ok_or_else(|| PayloadError(format!("{event}: client_payload is missing")))?;
            let target = payload
                .get("repo")
                .and_then(Value::as_str)
                .map_or_else(|| "*".to_owned(), str::to_owned);
            Ok(Intake::Job(NewJob {
                kind: JobKind::Cascade,
                key: format!("cascade:{target}"),
                trigger: json!({
                    "event": "repository_dispatch",
                    "action": action,
                    "client_payload": payload,
                    "sender_repo": repo.to_string(),
                }),
                delivery,
            }))
        }
        "issue_comment" => {
            let parsed = review::CommentEvent::from_github_event(body)
                .map_err(|e| PayloadError(e.to_string()))?;
            if let Some(reason) = review::ignore_reason(&parsed) {
                return ignored(format!(
                    "issue_comment on {}#{}: {reason}",
                    parsed.repo, parsed.number
                ));
            }
            Ok(Intake::Job(NewJob {
                kind: JobKind::PrCommand,
                key: format!("pr:{}#{}", parsed.repo, parsed.number),
                trigger: json!({"event": "issue_comment", "payload": body}),
                delivery,
            }))
        }
        "release" => Ok(Intake::Wake {
            repo: repository(event, body)?,
            release: release_of(body),
        }),
        "workflow_run" => Ok(Intake::Wake {
            repo: repository(event, body)?,
            release: None,
        }),
        "pull_request" | "pull_request_review" => {
            let repo = repository(event, body)?;
            ignored(format!(
                "{event} on {repo}: approvals are read from GitHub when a command acts"
            ))
        }
        "ping" => ignored("ping: the webhook is set up".to_owned()),
        other => ignored(format!("event {other:?} is not one we act on")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(git_ref: &str) -> Value {
        json!({
            "ref": git_ref,
            "after": "abc123",
            "repository": {"full_name": "acme/core", "default_branch": "main"},
        })
    }

    #[test]
    fn a_push_to_the_default_branch_is_a_cascade_keyed_by_repo() {
        let Ok(Intake::Job(job)) = classify("push", Some("d1"), &push("refs/heads/main")) else {
            panic!("a job")
        };
        assert_eq!(job.kind, JobKind::Cascade);
        assert_eq!(job.key, "cascade:acme/core");
        assert_eq!(job.delivery.as_deref(), Some("d1"));
        assert_eq!(job.trigger["client_payload"]["repo"], "acme/core");
        assert_eq!(job.trigger["client_payload"]["sha"], "abc123");
    }

    #[test]
    fn other_pushes_and_unknown_events_are_ignored() {
        assert!(matches!(
            classify("push", None, &push("refs/heads/feature")),
            Ok(Intake::Ignored { .. })
        ));
        assert!(matches!(
            classify("star", None, &json!({})),
            Ok(Intake::Ignored { .. })
        ));
    }

    #[test]
    fn a_missing_field_is_named() {
        let mut body = push("refs/heads/main");
        body["repository"]
            .as_object_mut()
            .expect("object")
            .remove("full_name");
        assert_eq!(
            classify("push", None, &body),
            Err(PayloadError(
                "push: repository.full_name is missing or not a string".into()
            ))
        );
        let bad = json!({"repository": {"full_name": "no-slash"}});
        assert!(
            classify("release", None, &bad)
                .expect_err("refused")
                .0
                .contains("\"no-slash\" is not owner/name")
        );
    }

    #[test]
    fn releases_and_workflow_runs_wake_waits() {
        let body = json!({"action": "published", "repository": {"full_name": "acme/core"}});
        assert_eq!(
            classify("release", None, &body),
            Ok(Intake::Wake {
                repo: RepoId::new("acme", "core"),
                release: None,
            })
        );
        assert_eq!(
            classify("workflow_run", None, &body),
            Ok(Intake::Wake {
                repo: RepoId::new("acme", "core"),
                release: None,
            })
        );
    }

    /// A release event carries the release: tag, draft, and each asset's upload state.
    #[test]
    fn a_release_event_carries_its_release() {
        let body = json!({
            "action": "edited",
            "repository": {"full_name": "acme/core"},
            "release": {"id": 7, "tag_name": "v1.0.0", "draft": false, "prerelease": false,
                "assets": [
                    {"id": 1, "name": "a.tgz", "size": 10, "state": "uploaded"},
                    {"id": 2, "name": "b.tgz", "size": 3, "state": "open"},
                ]},
        });
        let Ok(Intake::Wake {
            release: Some(release),
            ..
        }) = classify("release", None, &body)
        else {
            panic!("a wake with the release")
        };
        assert_eq!((release.tag.as_str(), release.draft), ("v1.0.0", false));
        let states: Vec<_> = release.assets.iter().map(|a| a.state).collect();
        assert_eq!(states, [AssetState::Uploaded, AssetState::Uploading]);
    }

    #[test]
    fn a_plan_command_comment_is_a_pr_command_job_and_chatter_is_ignored() {
        let comment = |body: &str| {
            json!({
                "action": "created",
                "issue": {"number": 7, "pull_request": {"url": "x"}},
                "comment": {"id": 99, "body": body, "user": {"login": "alice"}},
                "repository": {"full_name": "acme/infra"},
            })
        };
        let Ok(Intake::Job(job)) = classify("issue_comment", Some("d"), &comment("/apply-plan"))
        else {
            panic!("a job")
        };
        assert_eq!(
            (job.kind, job.key.as_str()),
            (JobKind::PrCommand, "pr:acme/infra#7")
        );
        assert!(matches!(
            classify("issue_comment", None, &comment("looks good")),
            Ok(Intake::Ignored { .. })
        ));
    }
}
