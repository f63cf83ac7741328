//! Ending long-lived answers on shutdown. On SIGINT or SIGTERM actix stops accepting and waits,
//! up to `http.shutdown_timeout`, for open requests to finish; an event stream never finishes by
//! itself and a long poll may wait 30 s, so with one browser open a stop took the whole timeout
//! (and an orchestrator's grace period ends in SIGKILL). They watch this signal instead and end
//! at once; their clients reconnect (to another replica, or to this one once it is back) from
//! the last event id they saw, so nothing is lost.

use std::future::Future;

use tokio::sync::watch;

/// Whether this process has been asked to stop. Cheap to clone: one per open answer.
#[derive(Debug, Clone)]
pub struct Stopping(watch::Receiver<bool>);

impl Stopping {
    /// Turns true on the first SIGINT or SIGTERM this process receives (actix's own handlers
    /// see the same signal and begin the graceful stop). Must run inside a tokio runtime.
    pub fn on_signals() -> std::io::Result<Stopping> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let (sender, receiver) = watch::channel(false);
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            sender.send_replace(true);
            // Kept alive so receivers never see a closed channel as "stopping".
            std::future::pending::<()>().await;
        });
        Ok(Stopping(receiver))
    }

    /// Runs `work` unless the process is stopping first: `None` when it is (or becomes so
    /// before `work` ends).
    pub async fn unless_stopping<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        let receiver = &mut self.0;
        let stopped = async move {
            if receiver.wait_for(|stopping| *stopping).await.is_err() {
                // The signal task is gone (its runtime is shutting down): never stopping.
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            biased;
            _ = stopped => None,
            output = work => Some(output),
        }
    }
}
