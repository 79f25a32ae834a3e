//! The events GitHub would send webhooks for, recorded in one place: every mutation the mock
//! serves calls [`EventLog::emit`], so a webhook sender hooks in here and nowhere else.

use std::collections::VecDeque;

/// Something that happened on the mock that GitHub announces with a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MockEvent {
    /// A release was created through the API (`release` / `created`), or CI made one.
    ReleaseCreated {
        /// `owner/name`.
        repo: String,
        /// The release's tag.
        tag: String,
    },
    /// A release became published (`release` / `published`).
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
    /// A workflow run was started by a dispatch, or a simulated CI run failed
    /// (`workflow_run` / `requested`, `completed`).
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

/// The recorded events, oldest first.
#[derive(Debug, Default)]
pub(crate) struct EventLog {
    events: VecDeque<MockEvent>,
}

impl EventLog {
    /// Records `event`: the one point a webhook sender hooks into.
    pub(crate) fn emit(&mut self, event: MockEvent) {
        tracing::debug!(?event, "mock: event");
        if self.events.len() >= KEPT {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    pub(crate) fn all(&self) -> Vec<MockEvent> {
        self.events.iter().cloned().collect()
    }
}
