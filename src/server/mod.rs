//! Listeners, TLS, the HTTP stack and the server's lifecycle; the composition root.
//!
//! [`compose`] is the composition root: it wires every component of the application
//! and starts its background tasks on one [`shutdown::ShutdownTree`]. [`lifecycle`]
//! binds, serves and stops what it builds: [`spawn`] (tests) and [`run`] (the binary:
//! [`spawn`] plus [`signals`]) take the same path.
//!
//! One accept loop serves plain TCP or TLS (rustls, TLS 1.2+, HTTP/2 by ALPN, the
//! certificate reloaded when its files change) through hyper's auto (HTTP/1.1 + HTTP/2)
//! connection builder. Each request goes to [`dispatch`]: scimgate's own paths (SCIM,
//! login, forward-auth, health) to the control application, everything else to the gate.
//! Every connection is bounded by the `server:` section ([`limits`]): a cap on open
//! connections ([`accept`]) behind an accept queue sized by `listen_backlog`
//! ([`listen`]), protocol detection, header, idle, keep-alive and TLS
//! handshake timeouts, and a stalled response closing its connection ([`conn`]).
//! Policies and the certificate reload on file change (unless `reload.watch: false`)
//! and on SIGHUP; each reload is counted in the metrics. On SIGINT or SIGTERM the listener
//! closes, open connections drain for up to ten seconds, the directory writer
//! finishes the changes it has queued, and the audit queue is written and shipped.

mod accept;
pub mod compose;
mod conn;
pub mod data_lock;
mod dispatch;
pub mod lifecycle;
pub mod limits;
mod listen;
mod ops_listener;
pub mod shutdown;
mod signals;
pub mod tls;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::server::ServerLimits;
use crate::config::{Config, LogFormat};
use crate::metrics::connections::ConnectionMetrics;
pub use dispatch::Dispatch;
pub use lifecycle::{run, spawn, LiveTasks, Running};
pub use tls::ReloadingCert;

/// Sets up logging as the configuration says (`RUST_LOG` wins when set). Text logs are
/// coloured only when stderr is a terminal (never in a file or a pipe).
pub fn init_tracing(config: &Config) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_directives(&config.log_level)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The filter directives for `log.level`: as written, plus `rustls=error` unless the
/// level names `rustls` itself. rustls logs a client's protocol oddities (an IP address
/// sent as the server name, say) at `warn`, one line per handshake, so an anonymous
/// client could otherwise write a log line per connection; the handshake's failure, if
/// any, is still answered and counted.
fn log_directives(level: &str) -> String {
    if level
        .split(',')
        .any(|d| d.trim_start().starts_with("rustls"))
    {
        level.to_owned()
    } else {
        format!("{level},rustls=error")
    }
}

/// Serves on `listener` until `shutdown` resolves, then drains: the connection cap,
/// the accept loop and every connection bound of `limits` ([`accept`], [`conn`]).
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    dispatch: Arc<Dispatch>,
    limits: ServerLimits,
    metrics: Arc<ConnectionMetrics>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let shared = Arc::new(conn::Shared::new(limits, dispatch, tls, metrics));
    accept::accept_loop(listener, shared, shutdown).await;
}

#[cfg(test)]
mod log_directive_tests {
    use super::log_directives;

    #[test]
    fn rustls_is_quiet_unless_the_level_names_it() {
        assert_eq!(log_directives("info"), "info,rustls=error");
        assert_eq!(
            log_directives("debug,scimgate=trace"),
            "debug,scimgate=trace,rustls=error"
        );
        assert_eq!(log_directives("info,rustls=debug"), "info,rustls=debug");
        for level in ["info", "warn,hyper=debug", "info,rustls=warn"] {
            assert!(
                tracing_subscriber::EnvFilter::try_new(log_directives(level)).is_ok(),
                "{level}"
            );
        }
    }
}
