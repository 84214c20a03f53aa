//! An `https://` upstream: scimgate speaks TLS (rustls) to it, trusting the route's
//! `upstream_ca_file`, and refuses an upstream whose certificate it cannot verify.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::issuer::Issuer;
use crate::proxy_env::{reader, Env};
use crate::upstream;

/// An HTTPS server for `localhost` on a free port; returns its port and the CA PEM.
pub async fn tls_upstream() -> (u16, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem = cert.cert.pem();
    let certs = vec![CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(cert.signing_key.serialize_pem().as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let body = format!(
                            "{} {:?} alpn={}",
                            req.uri().path(),
                            req.version(),
                            String::from_utf8_lossy(alpn.as_deref().unwrap_or(b"-"))
                        );
                        async move {
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(body))))
                        }
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (port, pem)
}

#[tokio::test]
async fn https_upstream_with_a_private_ca_is_reached_over_tls() {
    let (port, ca) = tls_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let policy = format!(
        "routes:\n  - name: secure\n    match: {{ host: app.test }}\n    upstream: https://localhost:{port}\n    upstream_ca_file: {}\n    allow:\n      - {{ groups: [readers] }}\n  - name: untrusted\n    match: {{ host: other.test }}\n    upstream: https://localhost:{port}\n    allow:\n      - {{ groups: [readers] }}\n",
        ca_file.display()
    );
    let env = Env::start_with(
        upstream::start().await,
        Issuer::start().await,
        "",
        Some(policy),
    )
    .await;
    reader(&env, "tess").await;
    let r = env
        .get("app.test", "/hello", Some("tess"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.starts_with("/hello HTTP/2.0 alpn=h2"), "{body}");
    // Without the CA the certificate is not trusted: a gateway error, not a silent pass.
    let r = env
        .get("other.test", "/hello", Some("tess"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
}
