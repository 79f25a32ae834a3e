//! Cooperative cancellation shared by the engine and every step.

use std::sync::Arc;

use tokio::sync::watch;

/// Cancels a run: cloned into every step; `cancel()` on any clone wakes every `cancelled()`.
#[derive(Debug, Clone)]
pub struct CancelToken {
    sender: Arc<watch::Sender<bool>>,
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self {
            sender: Arc::new(watch::channel(false).0),
        }
    }

    /// Cancels the run.
    pub fn cancel(&self) {
        self.sender.send_replace(true);
    }

    /// Whether the run was cancelled.
    pub fn is_cancelled(&self) -> bool {
        *self.sender.borrow()
    }

    /// Completes when the run is cancelled.
    pub async fn cancelled(&self) {
        let mut receiver = self.sender.subscribe();
        // The sender lives in `self`, so `wait_for` cannot fail with a closed channel.
        let _ = receiver.wait_for(|cancelled| *cancelled).await;
    }
}
