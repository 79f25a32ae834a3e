//! Where the queue lives: where the state lives. Replicas that share a PostgreSQL state share its
//! queue (on any machine); otherwise the queue is a SQLite file beside the state (or the file
//! given). The wake bus and the shared rate-limit budget live beside the queue, on its backend.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use orchestrator_core::state::StateUrl;
use orchestrator_core::{Error, Result};

use crate::queue::{JobQueue, PgJobQueue, SqliteJobQueue};
use crate::rate::SharedRateLimit;
use crate::wake::{PgWakeBus, SqliteWakeBus, WakeBus};

/// The queue file's name in the state directory when none is given.
pub const DEFAULT_QUEUE_FILE: &str = "serve-queue.db";

/// How often a replica on a SQLite queue looks for wakes the others received (a read of one
/// small table; PostgreSQL replicas are told at once instead).
const SQLITE_WAKE_POLL: Duration = Duration::from_millis(250);

/// The queue and what the replicas share beside it, on one backend.
#[derive(Debug, Clone)]
pub struct QueueBackend {
    /// The job queue.
    pub queue: Arc<dyn JobQueue>,
    /// Where, for the log: a database URL without its password, or a file.
    pub shown: String,
    /// Wakes between replicas.
    pub wakes: Arc<dyn WakeBus>,
    /// The forge's rate-limit budget as the replicas share it.
    pub budget: Arc<dyn SharedRateLimit>,
}

impl QueueBackend {
    /// The queue of a state at `state_url` (PostgreSQL) or in `state_dir` (SQLite,
    /// [`DEFAULT_QUEUE_FILE`] unless `queue_file` is given); `replica` names this replica in the
    /// SQLite wake table, so it skips its own wakes.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a `queue_file` beside a PostgreSQL state (the queue is in that
    /// database; nothing is opened); the queue's own errors when it cannot be opened.
    pub async fn open(
        state_url: Option<&StateUrl>,
        queue_file: Option<&Path>,
        state_dir: &Path,
        replica: &str,
    ) -> Result<Self> {
        match (state_url, queue_file) {
            (Some(_), Some(file)) => Err(Error::invalid_input(format!(
                "--queue {}: the state is on PostgreSQL, so the job queue is in that database; drop --queue",
                file.display()
            ))),
            (Some(url), None) => {
                let queue = Arc::new(PgJobQueue::connect(url).await?);
                Ok(Self {
                    queue: Arc::clone(&queue) as Arc<dyn JobQueue>,
                    shown: url.redacted().to_owned(),
                    wakes: Arc::new(PgWakeBus::connect(url).await?),
                    budget: queue,
                })
            }
            (None, file) => {
                let file =
                    file.map_or_else(|| state_dir.join(DEFAULT_QUEUE_FILE), ToOwned::to_owned);
                let queue = SqliteJobQueue::open(&file)?;
                let wakes = SqliteWakeBus::new(queue.clone(), replica, SQLITE_WAKE_POLL);
                let queue = Arc::new(queue);
                Ok(Self {
                    queue: Arc::clone(&queue) as Arc<dyn JobQueue>,
                    shown: file.display().to_string(),
                    wakes: Arc::new(wakes),
                    budget: queue,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue file beside a PostgreSQL state is refused before anything is opened: the URL
    /// names a server nothing listens on, and the answer is the refusal, not a connection error.
    #[tokio::test]
    async fn a_queue_file_beside_a_postgres_state_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = StateUrl::parse("postgres://u:secret@127.0.0.1:1/db", "test").expect("url");
        let file = dir.path().join("q.db");
        let err = QueueBackend::open(Some(&url), Some(&file), dir.path(), "r")
            .await
            .expect_err("refused");
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert!(err.to_string().contains("q.db"), "{err}");
        assert!(!file.exists(), "nothing created");
    }

    /// Without a PostgreSQL state the queue is a SQLite file in the state dir, or the one given.
    #[tokio::test]
    async fn without_postgres_the_queue_is_a_file_beside_the_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = QueueBackend::open(None, None, dir.path(), "r")
            .await
            .expect("open");
        assert_eq!(backend.queue.backend(), "sqlite");
        assert!(dir.path().join(DEFAULT_QUEUE_FILE).exists());
        let elsewhere = dir.path().join("elsewhere.db");
        let backend = QueueBackend::open(None, Some(&elsewhere), dir.path(), "r")
            .await
            .expect("open");
        assert_eq!(backend.shown, elsewhere.display().to_string());
        assert!(elsewhere.exists());
    }
}
