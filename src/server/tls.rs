//! The TLS listener's certificate: loaded from PEM files, and reloaded when they change.
//!
//! The acceptor resolves its certificate through [`ReloadingCert`], which holds the
//! current key pair behind an atomic pointer. A file watcher (and SIGHUP) reloads it; a
//! pair that fails to load is logged and the previous one stays in service, so a
//! half-written renewal never takes the listener down. An observer
//! ([`ReloadingCert::set_observer`]) is told the outcome of every reload (the metrics).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;
use notify::{RecursiveMode, Watcher};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::config::TlsConfig;

/// Told after every reload whether the new pair went into service.
pub type CertObserver = Box<dyn Fn(bool) + Send + Sync>;

/// The listener's current certificate and key.
pub struct ReloadingCert {
    current: ArcSwap<CertifiedKey>,
    files: TlsConfig,
    observer: std::sync::OnceLock<CertObserver>,
}

impl std::fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn load_pair(tls: &TlsConfig) -> anyhow::Result<CertifiedKey> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .with_context(|| format!("{}: cannot read certificates", tls.cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}: bad certificate PEM", tls.cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{}: no certificate found", tls.cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .with_context(|| format!("{}: cannot read the private key", tls.key.display()))?;
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .with_context(|| format!("{}: unsupported private key", tls.key.display()))?;
    let pair = CertifiedKey::new(certs, signing);
    pair.keys_match()
        .context("certificate and key do not match")?;
    Ok(pair)
}

impl ReloadingCert {
    /// Loads the pair once; an error here stops the start-up.
    pub fn load(files: &TlsConfig) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(ReloadingCert {
            current: ArcSwap::from_pointee(load_pair(files)?),
            files: files.clone(),
            observer: std::sync::OnceLock::new(),
        }))
    }

    /// Sets the observer told about each reload (once; later calls are ignored).
    pub fn set_observer(&self, observer: CertObserver) {
        let _ = self.observer.set(observer);
    }

    /// Loads the files again; on failure the previous pair stays.
    pub fn reload(&self) -> bool {
        let applied = match load_pair(&self.files) {
            Ok(pair) => {
                self.current.store(Arc::new(pair));
                tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                true
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "TLS certificate reload failed; keeping the previous one");
                false
            }
        };
        if let Some(observe) = self.observer.get() {
            observe(applied);
        }
        applied
    }

    /// The certificate currently served (DER of the leaf).
    pub fn leaf(&self) -> Option<CertificateDer<'static>> {
        self.current.load().cert.first().cloned()
    }

    /// Watches the certificate and key files; reloads (debounced) when either changes.
    /// The watcher lives as long as the returned value; the returned task (for the
    /// caller to spawn) reloads, and ends when `stop` fires or the watcher is dropped.
    pub fn watch(
        self: &Arc<Self>,
        stop: CancellationToken,
    ) -> anyhow::Result<(
        notify::RecommendedWatcher,
        impl std::future::Future<Output = ()> + Send + 'static,
    )> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let names: Vec<PathBuf> = [&self.files.cert, &self.files.key]
            .iter()
            .filter_map(|p| p.file_name().map(PathBuf::from))
            .collect();
        let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            if let Ok(ev) = ev {
                if ev
                    .paths
                    .iter()
                    .any(|p| p.file_name().is_some_and(|n| names.iter().any(|m| m == n)))
                {
                    let _ = tx.send(());
                }
            }
        })?;
        let mut dirs: Vec<&Path> = [&self.files.cert, &self.files.key]
            .iter()
            .map(|p| {
                p.parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
            })
            .collect();
        dirs.dedup();
        for d in dirs {
            watcher
                .watch(d, RecursiveMode::NonRecursive)
                .with_context(|| format!("cannot watch {}", d.display()))?;
        }
        let me = self.clone();
        let reloads = async move {
            loop {
                tokio::select! {
                    changed = rx.recv() => {
                        if changed.is_none() {
                            return;
                        }
                    }
                    () = stop.cancelled() => return,
                }
                // Let a renewal finish writing both files, then take what queued meanwhile.
                tokio::time::sleep(Duration::from_millis(250)).await;
                while rx.try_recv().is_ok() {}
                me.reload();
            }
        };
        Ok((watcher, reloads))
    }
}

/// The acceptor: TLS 1.3 and 1.2, HTTP/2 and HTTP/1.1 by ALPN, the certificate from
/// `cert`.
pub fn acceptor(cert: Arc<ReloadingCert>) -> anyhow::Result<TlsAcceptor> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}
