//! The process's signals: SIGHUP reloads, SIGTERM and SIGINT shut down.

use super::lifecycle::Running;

/// The signal handlers, registered before the server starts (an unhandled SIGHUP
/// would end the process).
pub(super) struct Signals {
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Registers the handlers now.
    #[cfg(unix)]
    pub fn register() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        let hangup = signal(SignalKind::hangup())
            .inspect_err(|e| {
                tracing::warn!(error = %e, "cannot handle SIGHUP; policies reload on file change only")
            })
            .ok();
        let terminate = signal(SignalKind::terminate())
            .inspect_err(|e| tracing::warn!(error = %e, "cannot handle SIGTERM"))
            .ok();
        Signals { hangup, terminate }
    }

    /// Registers the handlers now (only Ctrl-C where there are no Unix signals).
    #[cfg(not(unix))]
    pub fn register() -> Self {
        Signals {}
    }

    /// Serves the signals until SIGTERM or SIGINT: each SIGHUP reloads `running`'s
    /// policies and certificate ([`Running::reload`]).
    pub async fn until_shutdown(self, running: &Running) {
        #[cfg(unix)]
        let Signals {
            mut hangup,
            mut terminate,
        } = self;
        #[cfg(not(unix))]
        let (mut hangup, mut terminate) = {
            let _ = self;
            (None::<()>, None::<()>)
        };
        let interrupt = tokio::signal::ctrl_c();
        tokio::pin!(interrupt);
        loop {
            tokio::select! {
                _ = &mut interrupt => break,
                () = delivered(&mut terminate) => break,
                () = delivered(&mut hangup) => {
                    tracing::info!("SIGHUP: reloading policies and certificate");
                    let _ = running.reload();
                }
            }
        }
        tracing::info!("shutting down");
    }
}

/// Resolves at the next delivery of `signal`; never when it is not handled.
#[cfg(unix)]
async fn delivered(signal: &mut Option<tokio::signal::unix::Signal>) {
    if let Some(s) = signal {
        if s.recv().await.is_some() {
            return;
        }
    }
    std::future::pending::<()>().await
}

#[cfg(not(unix))]
async fn delivered(_: &mut Option<()>) {
    std::future::pending::<()>().await
}
