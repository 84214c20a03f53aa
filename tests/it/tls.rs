//! The TLS listener: rustls with a configured certificate, HTTP/2 by ALPN, a refused
//! start when the key does not match, and the certificate reloaded (file watcher, and
//! SIGHUP alone in the real binary with the watcher off) with a broken pair refused.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use scimgate::config::{Config, Overrides};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::binary;
use crate::ops::{scrape, value};

fn write_cert(dir: &std::path::Path, name: &str) -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_path = dir.join(format!("{name}-cert.pem"));
    let key_path = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    (
        cert_path.display().to_string(),
        key_path.display().to_string(),
    )
}

fn config(dir: &std::path::Path, cert: &str, key: &str) -> Config {
    let yaml = format!("tls:\n  cert: {cert}\n  key: {key}\n");
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        ..Default::default()
    };
    Config::from_yaml("tls.yaml", &yaml, &overrides).unwrap()
}

#[tokio::test]
async fn tls_listener_serves_http1_and_negotiates_h2() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_cert(dir.path(), "server");
    let running = scimgate::server::spawn(config(dir.path(), &cert, &key))
        .await
        .unwrap();

    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let client_config = |alpn: Vec<Vec<u8>>| {
        let mut c = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        c.alpn_protocols = alpn;
        tokio_rustls::TlsConnector::from(Arc::new(c))
    };
    let name = ServerName::try_from("localhost").unwrap();

    // HTTP/2 is chosen when offered.
    let tcp = TcpStream::connect(running.addr).await.unwrap();
    let tls = client_config(vec![b"h2".to_vec(), b"http/1.1".to_vec()])
        .connect(name.clone(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));

    // HTTP/1.1 over TLS answers.
    let tcp = TcpStream::connect(running.addr).await.unwrap();
    let mut tls = client_config(vec![b"http/1.1".to_vec()])
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    tls.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");

    // Plain HTTP to the TLS port gets no answer.
    let mut tcp = TcpStream::connect(running.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tcp.read_to_end(&mut buf).await;
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
    running.stop().await;
}

#[tokio::test]
async fn mismatched_key_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = write_cert(dir.path(), "a");
    let (_, other_key) = write_cert(dir.path(), "b");
    let err = scimgate::server::spawn(config(dir.path(), &cert, &other_key))
        .await
        .err()
        .expect("a key that does not match the certificate is refused");
    assert!(err.to_string().contains("do not match"), "{err:#}");
}

/// The leaf certificate the server presents, trusting anything (the test compares DER).
async fn presented_leaf(addr: std::net::SocketAddr) -> Vec<u8> {
    #[derive(Debug)]
    struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);
    impl rustls::client::danger::ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: rustls_pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_cert(dir.path(), "server");
    let running = scimgate::server::spawn(config(dir.path(), &cert, &key))
        .await
        .unwrap();
    let first = presented_leaf(running.addr).await;

    // A broken write (certificate without its key) is refused: the old pair stays.
    let ops = running.ops_addr.expect("an operations listener");
    std::fs::write(&key, "not a key").unwrap();
    let t0 = std::time::Instant::now();
    while reloads(ops, "refused").await < 1.0 {
        assert!(
            t0.elapsed().as_secs() < 10,
            "the broken pair was not refused"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(presented_leaf(running.addr).await, first);

    // The renewal lands: new certificate and key.
    let next = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(&key, next.signing_key.serialize_pem()).unwrap();
    std::fs::write(&cert, next.cert.pem()).unwrap();
    let t0 = std::time::Instant::now();
    loop {
        if presented_leaf(running.addr).await == next.cert.der().to_vec() {
            break;
        }
        assert!(
            t0.elapsed().as_secs() < 10,
            "the renewed certificate was not picked up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    running.stop().await;
}

/// `scimgate_reloads_total` of the certificate with `outcome`.
async fn reloads(ops: std::net::SocketAddr, outcome: &str) -> f64 {
    let labels = [("what", "certificate"), ("outcome", outcome)];
    value(&scrape(ops).await, "scimgate_reloads_total", &labels).expect("the series")
}

#[tokio::test]
async fn sighup_alone_reloads_the_certificate_and_refuses_a_broken_pair() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_cert(dir.path(), "server");
    // No file watcher: a reload can only come from the signal.
    let config = binary::config(
        &dir.path().join("data"),
        &format!("tls:\n  cert: {cert}\n  key: {key}\nreload:\n  watch: false\n"),
    );
    let mut serve = binary::spawn(dir.path(), "gate", &config);
    let addr = serve.addr().await;
    let ops = serve.ops_addr().await;
    let first = presented_leaf(addr).await;

    // The renewal lands: the old certificate until SIGHUP, the new one after.
    let next = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(&key, next.signing_key.serialize_pem()).unwrap();
    std::fs::write(&cert, next.cert.pem()).unwrap();
    assert_eq!(presented_leaf(addr).await, first);
    serve.hangup();
    serve.wait_for("TLS certificate reloaded").await;
    assert_eq!(presented_leaf(addr).await, next.cert.der().to_vec());

    // A broken pair by SIGHUP: refused, and the renewed certificate stays.
    std::fs::write(&key, "not a key").unwrap();
    serve.hangup();
    let refused = serve
        .wait_for("TLS certificate reload failed; keeping the previous one")
        .await;
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("private key"),
        "{refused}"
    );
    assert_eq!(presented_leaf(addr).await, next.cert.der().to_vec());
    assert_eq!(reloads(ops, "applied").await, 1.0);
    assert_eq!(reloads(ops, "refused").await, 1.0);
}
