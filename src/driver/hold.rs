//! Keeping session-bound faults alive: tasks that own sessions, sockets or child
//! processes, ended together when the hold is released or dropped.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Live resources that keep a session-bound fault on. Dropping the hold cancels its
/// tasks; [`Hold::release`] also waits for them to finish.
#[derive(Debug, Default)]
pub struct Hold {
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    /// The counters of a fault proxy this hold keeps running, for its sampler.
    proxy_stats: Option<crate::driver::proxy::ProxyStatsReader>,
}

impl Hold {
    pub fn new() -> Self {
        Hold::default()
    }

    /// The token tasks of this hold watch; cancelled on release or drop.
    pub fn token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Adds a task that ends when the token is cancelled.
    pub fn push(&mut self, task: JoinHandle<()>) {
        self.tasks.push(task);
    }

    /// Merges another hold into this one.
    pub fn absorb(&mut self, mut other: Hold) {
        if self.proxy_stats.is_none() {
            self.proxy_stats = other.proxy_stats.take();
        }
        let token = std::mem::take(&mut other.cancel);
        let child = self.cancel.clone();
        let tasks = std::mem::take(&mut other.tasks);
        self.tasks.extend(tasks);
        // The other hold's tasks watch its own token: cancel it when ours is.
        self.tasks.push(tokio::spawn(async move {
            child.cancelled().await;
            token.cancel();
        }));
    }

    /// Ends every task and waits until they are gone.
    pub async fn release(mut self) {
        self.cancel.cancel();
        for task in self.tasks.drain(..) {
            if let Err(e) = task.await {
                if e.is_panic() {
                    tracing::warn!("a task of a held fault panicked: {e}");
                }
            }
        }
    }

    /// Attaches the counters of the fault proxy this hold keeps running.
    pub fn set_proxy_stats(&mut self, reader: crate::driver::proxy::ProxyStatsReader) {
        self.proxy_stats = Some(reader);
    }

    pub fn proxy_stats(&self) -> Option<&crate::driver::proxy::ProxyStatsReader> {
        self.proxy_stats.as_ref()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
