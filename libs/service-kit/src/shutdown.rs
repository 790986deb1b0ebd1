//! Graceful shutdown: one token, cancelled on SIGTERM or SIGINT, cloned into every task.
//!
//! Daemons take a shutdown future in `run` so tests can stop them without signals; in `main`
//! that future is [`on_signals`]'s token. Tasks select on `token.cancelled()` to stop taking
//! new work, then finish what is in flight (commit, flush) before returning.

use tokio_util::sync::CancellationToken;

pub use tokio_util::sync::CancellationToken as ShutdownToken;

/// Resolves when the process receives SIGTERM (Kubernetes, `kill`) or SIGINT (Ctrl-C).
pub async fn signal() {
    let ctrl_c = async {
        // If installing the handler fails we can still be stopped by SIGTERM.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!(signal = "SIGINT", "shutdown requested"),
        _ = terminate => tracing::info!(signal = "SIGTERM", "shutdown requested"),
    }
}

/// A token that is cancelled when [`signal`] resolves. Must be called inside a Tokio runtime.
pub fn on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        signal().await;
        trigger.cancel();
    });
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancelling_fans_out_to_every_clone() {
        let token = CancellationToken::new();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let t = token.clone();
                tokio::spawn(async move { t.cancelled().await })
            })
            .collect();
        token.cancel();
        for w in waiters {
            tokio::time::timeout(std::time::Duration::from_secs(1), w)
                .await
                .expect("clone saw the cancellation")
                .unwrap();
        }
    }
}
