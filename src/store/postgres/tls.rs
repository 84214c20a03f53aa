//! TLS to PostgreSQL with libpq's meanings: the `sslmode`, `sslrootcert`, `sslcert`
//! and `sslkey` options, read from the connection URL's query or from the
//! `store.postgres` section ([`crate::config::store::postgres_tls`] reads and checks
//! them), turned into the client's TLS mode and a rustls configuration on the one
//! crypto provider of the build (aws-lc-rs).
//!
//! | `sslmode` | TLS | the server's certificate |
//! | --- | --- | --- |
//! | `disable` | never | — |
//! | `prefer` (default) | when the server offers it, else plain | not checked |
//! | `require` | always | not checked; with `sslrootcert`, as `verify-ca` |
//! | `verify-ca` | always | signed by a trusted CA (host name not checked) |
//! | `verify-full` | always | signed by a trusted CA and valid for the host name |
//!
//! Trusted CAs are the PEM file `sslrootcert`, or the operating system's store when
//! none is given (or `sslrootcert=system`; the bundled Mozilla roots when the system
//! store is empty). `sslcert` + `sslkey` present a client certificate. A failure at
//! connect time is told apart ([`PgTlsError`]): unknown CA, host name mismatch, or a
//! server without TLS.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_postgres_rustls::MakeRustlsConnect;

pub use crate::config::store::postgres_tls::{split_url, SslMode, TlsOptionError, TlsOptions};

/// A TLS failure, at set-up or when connecting.
#[derive(Debug, thiserror::Error)]
pub enum PgTlsError {
    #[error("invalid {key}: {reason}")]
    Option { key: &'static str, reason: String },
    #[error("cannot read {key} {path}: {reason}")]
    File {
        key: &'static str,
        path: String,
        reason: String,
    },
    #[error(
        "the server's certificate is not signed by a trusted CA (unknown CA; check sslrootcert)"
    )]
    UnknownCa,
    #[error("the server's certificate is not valid for host {host} (host name mismatch; sslmode=verify-full checks it)")]
    HostMismatch { host: String },
    #[error("the server does not support TLS, and sslmode={mode} requires it")]
    NotSupported { mode: &'static str },
    #[error("the server's certificate was refused: {0}")]
    BadCertificate(String),
    #[error("the TLS handshake failed: {0}")]
    Handshake(String),
}

impl From<TlsOptionError> for PgTlsError {
    fn from(e: TlsOptionError) -> Self {
        PgTlsError::Option {
            key: e.key,
            reason: e.reason,
        }
    }
}

/// Resolves `url` (with TLS options in its query) and the configuration's options
/// into the URL the client parses and the TLS settings.
pub fn resolve(url: &str, configured: &TlsOptions) -> Result<(String, PgTls), PgTlsError> {
    let (rest, from_url) = split_url(url)?;
    let opts = from_url.merge(configured)?;
    Ok((rest, PgTls::build(&opts)?))
}

/// The resolved TLS settings: the client's mode and the connector.
#[derive(Clone)]
pub struct PgTls {
    pub mode: SslMode,
    pub connector: MakeRustlsConnect,
}

impl PgTls {
    /// Builds the TLS settings from `opts` (files are read now, so a missing CA file
    /// fails at start).
    pub fn build(opts: &TlsOptions) -> Result<PgTls, PgTlsError> {
        let mode = match &opts.sslmode {
            Some(m) => SslMode::parse(m)?,
            None => SslMode::Prefer,
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let algs = provider.signature_verification_algorithms;
        // libpq: `require` with a CA file given checks the chain, as `verify-ca`.
        let check = match mode {
            SslMode::Require if opts.sslrootcert.is_some() => SslMode::VerifyCa,
            m => m,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match check {
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let roots = roots(opts.sslrootcert.as_deref())?;
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| PgTlsError::Option {
                            key: "sslrootcert",
                            reason: e.to_string(),
                        })?;
                if check == SslMode::VerifyFull {
                    webpki
                } else {
                    Arc::new(Lenient {
                        chain: Some(webpki),
                        algs,
                    })
                }
            }
            _ => Arc::new(Lenient { chain: None, algs }),
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PgTlsError::Handshake(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match (&opts.sslcert, &opts.sslkey) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let chain = read_certs("sslcert", Path::new(cert))?;
                let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| PgTlsError::File {
                    key: "sslkey",
                    path: key.clone(),
                    reason: e.to_string(),
                })?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| PgTlsError::Option {
                        key: "sslkey",
                        reason: format!("does not match sslcert: {e}"),
                    })?
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(PgTlsError::Option {
                    key: "sslcert",
                    reason: "sslcert and sslkey go together".into(),
                })
            }
        };
        Ok(PgTls {
            mode,
            connector: MakeRustlsConnect::new(config),
        })
    }

    /// The client library's mode for this `sslmode`.
    pub fn client_mode(&self) -> tokio_postgres::config::SslMode {
        match self.mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        }
    }

    /// Tells a TLS failure apart in a connection error; `None` when it is not one.
    pub fn classify(&self, e: &tokio_postgres::Error, host: &str) -> Option<PgTlsError> {
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                if let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    return Some(from_rustls(tls, host));
                }
            }
            if let Some(tls) = s.downcast_ref::<rustls::Error>() {
                return Some(from_rustls(tls, host));
            }
            // The client's own words when the server answers `N` to the TLS request.
            if s.to_string().contains("server does not support TLS") {
                return Some(PgTlsError::NotSupported {
                    mode: self.mode.as_str(),
                });
            }
            source = s.source();
        }
        None
    }
}

fn from_rustls(e: &rustls::Error, host: &str) -> PgTlsError {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => PgTlsError::UnknownCa,
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => PgTlsError::HostMismatch {
            host: host.to_owned(),
        },
        rustls::Error::InvalidCertificate(c) => PgTlsError::BadCertificate(format!("{c:?}")),
        other => PgTlsError::Handshake(other.to_string()),
    }
}

fn read_certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, PgTlsError> {
    let file_error = |reason: String| PgTlsError::File {
        key,
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// The trusted CAs: the file given, or the system's store.
fn roots(sslrootcert: Option<&str>) -> Result<rustls::RootCertStore, PgTlsError> {
    let mut roots = rustls::RootCertStore::empty();
    match sslrootcert {
        Some(path) if path != "system" => {
            for cert in read_certs("sslrootcert", &PathBuf::from(path))? {
                roots.add(cert).map_err(|e| PgTlsError::File {
                    key: "sslrootcert",
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
            }
        }
        _ => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                tracing::info!(
                    "no system CA certificates found; using the bundled roots for PostgreSQL"
                );
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
        }
    }
    Ok(roots)
}

/// The modes that check less than `verify-full`: with `chain` (`verify-ca`) the chain
/// must lead to a trusted CA but the host name is not checked; without it (`prefer`,
/// `require` without a CA file) the certificate is not checked, as libpq does. The
/// handshake's signatures are checked either way.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_client_certificate_is_refused() {
        let o = TlsOptions {
            sslcert: Some("/nonexistent.pem".into()),
            ..Default::default()
        };
        assert!(matches!(
            PgTls::build(&o),
            Err(PgTlsError::Option { key: "sslcert", .. })
        ));
    }

    #[test]
    fn a_missing_ca_file_fails_at_build() {
        let o = TlsOptions {
            sslmode: Some("verify-full".into()),
            sslrootcert: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        assert!(matches!(
            PgTls::build(&o),
            Err(PgTlsError::File {
                key: "sslrootcert",
                ..
            })
        ));
    }
}
