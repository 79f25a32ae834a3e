//! The events GitHub would send webhooks for, recorded in one place: every mutation the mock
//! serves, and every transition of its simulated CI, calls [`EventLog::emit`], so the webhook
//! sender ([`super::webhooks`]) hooks in here and nowhere else.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::mpsc::UnboundedSender;

/// Something that happened on the mock that GitHub announces with a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MockEvent {
    /// A release was created through the API (`release` / `created`).
    ReleaseCreated {
        /// `owner/name`.
        repo: String,
        /// The release's tag.
        tag: String,
    },
    /// A release made through the API became published (`release` / `published`).
    ReleasePublished {
        /// `owner/name`.
        repo: String,
        /// The release's tag.
        tag: String,
    },
    /// An asset was uploaded to a release, or one of CI's finished uploading (`release` /
    /// `edited`).
    AssetUploaded {
        /// `owner/name`.
        repo: String,
        /// The release's tag.
        tag: String,
        /// The asset's file name.
        name: String,
    },
    /// A workflow run was started by a dispatch (`workflow_run` / `requested`), started running
    /// (`in_progress`) or finished (`completed`), or a tag push's run failed as a
    /// [`CiFailure`](super::CiFailure) said (`completed`).
    WorkflowRun {
        /// `owner/name`.
        repo: String,
        /// The run's id.
        run_id: u64,
        /// `requested`, `in_progress` or `completed`.
        action: String,
    },
    /// A ref was pushed to the repository's origin as the mock saw it (`push`), e.g. a release
    /// tag its simulated CI builds.
    Push {
        /// `owner/name`.
        repo: String,
        /// The full ref, e.g. `refs/tags/v1.2.0`.
        git_ref: String,
        /// The commit the ref points at now.
        after: String,
        /// The commit it pointed at before (40 zeros: the ref is new).
        before: String,
    },
    /// A review was submitted on a pull request (`pull_request_review` / `submitted`).
    Review {
        /// `owner/name`.
        repo: String,
        /// The pull request.
        number: u64,
        /// The review's id.
        review_id: u64,
    },
    /// A pull request was opened, edited, closed, reopened or merged (`pull_request`).
    PullRequest {
        /// `owner/name`.
        repo: String,
        /// Its number.
        number: u64,
        /// `opened`, `edited`, `closed`, `reopened`.
        action: String,
    },
    /// An issue was opened or edited (`issues`).
    Issue {
        /// `owner/name`.
        repo: String,
        /// Its number.
        number: u64,
        /// `opened`, `edited`, `closed`, `reopened`.
        action: String,
    },
    /// A comment was made or edited on an issue or pull request (`issue_comment`).
    IssueComment {
        /// `owner/name`.
        repo: String,
        /// The issue or pull request.
        number: u64,
        /// The comment's id.
        comment_id: u64,
        /// `created` or `edited`.
        action: String,
    },
    /// A label was added to or removed from an issue or pull request (`labeled`, `unlabeled`).
    Label {
        /// `owner/name`.
        repo: String,
        /// The issue or pull request.
        number: u64,
        /// The label.
        name: String,
        /// `labeled` or `unlabeled`.
        action: String,
    },
}

/// How many events are kept (the most recent ones).
const KEPT: usize = 10_000;

/// The recorded events, oldest first. Recording takes `&self` so handlers that only read the
/// state can announce what they did.
#[derive(Debug, Default)]
pub(crate) struct EventLog {
    events: Mutex<VecDeque<MockEvent>>,
    /// Where the webhook sender takes events from, when the mock sends webhooks.
    sink: Mutex<Option<UnboundedSender<MockEvent>>>,
}

impl EventLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<MockEvent>> {
        // Plain data: a panic elsewhere cannot leave it inconsistent.
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records `event`: the one point a webhook sender hooks into.
    pub(crate) fn emit(&self, event: MockEvent) {
        tracing::debug!(?event, "mock: event");
        let mut events = self.lock();
        if events.len() >= KEPT {
            events.pop_front();
        }
        events.push_back(event.clone());
        drop(events);
        // Only queued here: the sender builds and delivers the payload after the handler that
        // emitted has answered, so no API answer waits for a delivery.
        if let Some(sink) = self
            .sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            let _ = sink.send(event);
        }
    }

    /// Sends every event from now on to `sink` too (the webhook sender's queue).
    pub(crate) fn attach(&self, sink: UnboundedSender<MockEvent>) {
        *self
            .sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(sink);
    }

    pub(crate) fn all(&self) -> Vec<MockEvent> {
        self.lock().iter().cloned().collect()
    }
}
