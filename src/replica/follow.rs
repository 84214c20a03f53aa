//! The follower task: `LISTEN` on the shared store, poke the writer, reconnect with
//! backoff.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;

use super::{GrantChanges, SessionEnds};
use crate::directory::{CatchUpSignal, Directory};
use crate::store::postgres::tls::{self, PgTls, TlsOptions};
use crate::store::postgres::{ACCESS_CHANNEL, CHANGES_CHANNEL, LISTEN_ALL};

/// First wait before reconnecting; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the follower needs.
pub struct FollowSettings {
    /// The shared store's connection URL.
    pub url: String,
    /// TLS options from the configuration (the URL may hold them too).
    pub tls: TlsOptions,
    /// Connect timeout, and the bound on each liveness check.
    pub timeout: Duration,
    /// Safety-net interval: the writer is poked this often even without notifications.
    pub poll: Duration,
}

/// The follower task, for the caller to spawn (on the shutdown tree); it stops when
/// `cancel` fires.
pub fn start(
    settings: FollowSettings,
    signal: Arc<CatchUpSignal>,
    dir: Arc<Directory>,
    sessions: Arc<dyn SessionEnds>,
    grants: Arc<dyn GrantChanges>,
    cancel: CancellationToken,
) -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    let (url, tls) = tls::resolve(&settings.url, &settings.tls)?;
    let mut config: tokio_postgres::Config = url.parse()?;
    config
        .ssl_mode(tls.client_mode())
        .connect_timeout(settings.timeout)
        .application_name("scimgate-follower");
    Ok(async move {
        let mut backoff = MIN_BACKOFF;
        loop {
            let session = follow_once(
                &config,
                &tls,
                &settings,
                &signal,
                Receivers {
                    sessions: &sessions,
                    grants: &grants,
                },
                &dir,
                &mut backoff,
            );
            tokio::select! {
                () = cancel.cancelled() => return,
                () = session => {}
            }
            dir.freshness().set_connected(false);
            // Keep poking: the writer's catch-up is what proves the store reachable.
            signal.poke();
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    })
}

/// Who hears what the notifications say besides the writer.
struct Receivers<'a> {
    sessions: &'a Arc<dyn SessionEnds>,
    grants: &'a Arc<dyn GrantChanges>,
}

/// One connection's life: connect, `LISTEN`, catch up, then forward notifications
/// until the connection fails.
async fn follow_once(
    config: &tokio_postgres::Config,
    tls: &PgTls,
    settings: &FollowSettings,
    signal: &CatchUpSignal,
    to: Receivers<'_>,
    dir: &Directory,
    backoff: &mut Duration,
) {
    let (client, mut conn) = match config.connect(tls.connector.clone()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "follower cannot reach the shared store");
            return;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // Scoped to this connection: it ends when the connection closes, which dropping
    // `client` (this function's return, or the follower's cancellation) does.
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if tx.send(n).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "follower connection failed");
                    return;
                }
                None => return,
            }
        }
    });
    if let Err(e) = client.batch_execute(LISTEN_ALL).await {
        tracing::warn!(error = %e, "follower cannot LISTEN");
        driver.abort();
        return;
    }
    tracing::info!(seq = dir.seq(), "following the shared store");
    *backoff = MIN_BACKOFF;
    dir.freshness().set_connected(true);
    // Whatever happened while this replica was not listening: catch up, and forget
    // sessions ended meanwhile.
    signal.poke();
    to.sessions.resync().await;
    to.grants.resync();
    let mut tick = tokio::time::interval(settings.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            n = rx.recv() => match n {
                Some(n) if n.channel() == CHANGES_CHANNEL => signal.poke(),
                Some(n) if n.channel() == ACCESS_CHANNEL => to.grants.changed(n.payload()),
                Some(n) => match hex::decode(n.payload()) {
                    Ok(hash) => to.sessions.ended(&hash),
                    Err(_) => tracing::warn!("malformed session notification"),
                },
                None => break,
            },
            _ = tick.tick() => {
                signal.poke();
                let alive = tokio::time::timeout(settings.timeout, client.simple_query("")).await;
                if !matches!(alive, Ok(Ok(_))) {
                    tracing::warn!("follower connection is not answering");
                    break;
                }
            }
        }
    }
    driver.abort();
}
