//! The events GitHub would send webhooks for, recorded in one place: every mutation the mock
//! serves calls [`EventLog::emit`], so a webhook sender hooks in here and nowhere else.

use std::collections::VecDeque;
use std::sync::Mutex;

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
    /// An asset was uploaded to a release (`release` / `edited` on GitHub).
    AssetUploaded {
        /// `owner/name`.
        repo: String,
        /// The release's tag.
        tag: String,
        /// The asset's file name.
        name: String,
    },
    /// A workflow run was started by a dispatch (`workflow_run` / `requested`), or a tag push's
    /// run failed as a [`CiFailure`](super::CiFailure) said (`completed`). CI-made releases and
    /// time-driven run completions are derived from the clock when read and not announced yet.
    WorkflowRun {
        /// `owner/name`.
        repo: String,
        /// The run's id.
        run_id: u64,
        /// `requested` or `completed`.
        action: String,
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
        events.push_back(event);
    }

    pub(crate) fn all(&self) -> Vec<MockEvent> {
        self.lock().iter().cloned().collect()
    }
}
