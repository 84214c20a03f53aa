//! TLS to PostgreSQL, against private clusters started with `ssl = on`, a CA this
//! test makes, and a `pg_hba.conf` that refuses unencrypted connections (so a replica
//! that serves did speak TLS): `verify-full` works and survives a database restart;
//! a wrong CA, a wrong host name and a server without TLS are each refused at start
//! with an error that says which; `require`, `verify-ca` and `prefer` keep libpq's
//! meanings; client certificates work from the URL (`scimgate migrate --to`) and from
//! the configuration.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use reqwest::Method;

use super::env::{eventually, store_yaml, Cluster, Replica};
use crate::support;
use scimgate::store::{PgStore, Store};
use scimgate::tokens::{self, TokenScope};

/// What the server needs: its certificate and key, and the CA for client certificates.
#[derive(Clone)]
struct ServerFiles {
    cert: String,
    key: String,
    ca: String,
}

impl ServerFiles {
    /// Writes the files and settings into a cluster's data directory; `auth` is the
    /// `pg_hba.conf` method for TLS connections (`trust` or `cert`).
    fn configure(&self, data: &Path, auth: &str) {
        std::fs::write(data.join("server.crt"), &self.cert).unwrap();
        std::fs::write(data.join("server.key"), &self.key).unwrap();
        std::fs::write(data.join("root.crt"), &self.ca).unwrap();
        let _ = Command::new("chmod")
            .args(["600", &data.join("server.key").display().to_string()])
            .status();
        let mut conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        conf.push_str(
            "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'root.crt'\n",
        );
        std::fs::write(data.join("postgresql.conf"), conf).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            format!(
                "local all all trust\nhostssl all all 127.0.0.1/32 {auth}\nhostnossl all all 127.0.0.1/32 reject\n"
            ),
        )
        .unwrap();
    }
}

/// The test's certificates, as PEM files in a directory of its own.
struct Pki {
    dir: tempfile::TempDir,
    /// The CA that signed the server's and the client's certificates.
    ca: PathBuf,
    /// A CA that signed nothing here.
    other_ca: PathBuf,
    server: ServerFiles,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn new_ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let pem = params.self_signed(&key).unwrap().pem();
    (params, key, pem)
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let (ca_params, ca_key, ca_pem) = new_ca("scimgate test CA");
        let (_, _, other_pem) = new_ca("scimgate other CA");
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().unwrap();
        let mut server =
            CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server_cert = server.signed_by(&server_key, &issuer).unwrap().pem();
        // Certificate authentication maps the common name to the database user.
        let client_key = KeyPair::generate().unwrap();
        let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
        client
            .distinguished_name
            .push(DnType::CommonName, "postgres");
        let client_cert = client.signed_by(&client_key, &issuer).unwrap().pem();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        Pki {
            ca: write("ca.pem", &ca_pem),
            other_ca: write("other-ca.pem", &other_pem),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key.serialize_pem()),
            server: ServerFiles {
                cert: server_cert,
                key: server_key.serialize_pem(),
                ca: ca_pem,
            },
            dir,
        }
    }

    fn path(p: &Path) -> String {
        p.display().to_string()
    }
}

async fn start_cluster(pki: &Pki, auth: &'static str) -> Cluster {
    let files = pki.server.clone();
    tokio::task::spawn_blocking(move || {
        Cluster::start_configured(|data| files.configure(data, auth))
    })
    .await
    .unwrap()
}

/// A SCIM token written into the database at `url` (over TLS, as the URL says).
async fn token_at(url: &str) -> String {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let store = PgStore::open_url(&url, Duration::from_secs(5)).expect("open over TLS");
        let (token, row) = tokens::issue("idp", TokenScope::Scim, 0);
        store.token_insert(&row).unwrap();
        token
    })
    .await
    .unwrap()
}

async fn refused(url: &str, token: &str) -> String {
    match Replica::try_start(&store_yaml(url, 30.0), token).await {
        Ok(_) => panic!("a replica started on {url}"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_serves_over_tls_and_refuses_a_wrong_ca_or_host() {
    let pki = Pki::new();
    let cluster = start_cluster(&pki, "trust").await;
    let base = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    let ca = Pki::path(&pki.ca);
    let full = format!("{base}?sslmode=verify-full&sslrootcert={ca}");
    let token = token_at(&full).await;

    let r = Replica::try_start(&store_yaml(&full, 30.0), &token)
        .await
        .expect("verify-full starts");
    assert_eq!(r.create_user("tls-before").await.status, 201);

    // The server refuses unencrypted connections: what served above was TLS.
    let plain = refused(&format!("{base}?sslmode=disable"), &token).await;
    assert!(plain.contains("no encryption"), "{plain}");

    // A CA that did not sign the server's certificate.
    let other = Pki::path(&pki.other_ca);
    let e = refused(
        &format!("{base}?sslmode=verify-full&sslrootcert={other}"),
        &token,
    )
    .await;
    assert!(e.contains("unknown CA"), "{e}");
    // libpq: `require` with a CA file checks the chain as `verify-ca` does.
    let e = refused(
        &format!("{base}?sslmode=require&sslrootcert={other}"),
        &token,
    )
    .await;
    assert!(e.contains("unknown CA"), "{e}");

    // A host name the certificate does not name (the address is still loopback).
    let elsewhere = format!(
        "postgres://postgres@db.elsewhere.example:{}/postgres?hostaddr=127.0.0.1&sslrootcert={ca}",
        cluster.port
    );
    let e = refused(&format!("{elsewhere}&sslmode=verify-full"), &token).await;
    assert!(
        e.contains("host name mismatch") && e.contains("db.elsewhere.example"),
        "{e}"
    );
    // `verify-ca` checks the chain only, and `require` without a CA checks nothing.
    for url in [
        format!("{elsewhere}&sslmode=verify-ca"),
        format!("{base}?sslmode=require"),
    ] {
        let ok = Replica::try_start(&store_yaml(&url, 30.0), &token)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(
            ok.create_user(&format!("tls-{}", uuid::Uuid::new_v4().simple()))
                .await
                .status,
            201
        );
    }

    // The database restarts: the replica reconnects over TLS and keeps writing.
    tokio::task::block_in_place(|| {
        cluster.down();
        cluster.up();
    });
    let mut n = 0;
    eventually(Duration::from_secs(20), "a write after the restart", || {
        n += 1;
        let name = format!("tls-after-{n}");
        let r = &r;
        async move { r.create_user(&name).await.status == 201 }
    })
    .await;
    let list = r
        .scim(
            Method::GET,
            "/Users?filter=userName%20eq%20%22tls-before%22",
            None,
        )
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["totalResults"], 1, "{}", list.text);
    drop(pki.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_work_from_the_url_and_from_the_config() {
    let pki = Pki::new();
    let cluster = start_cluster(&pki, "cert").await;
    let base = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    let (ca, cert, key) = (
        Pki::path(&pki.ca),
        Pki::path(&pki.client_cert),
        Pki::path(&pki.client_key),
    );

    // `scimgate migrate --to` takes the options in the URL.
    let g = support::start("").await;
    g.create_user("moved-over-tls").await;
    let data = g.dir.path().to_path_buf();
    let token = g.token.clone();
    g.running.stop().await;
    let to = format!("{base}?sslmode=verify-full&sslrootcert={ca}&sslcert={cert}&sslkey={key}");
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["migrate", "--from"])
        .arg(&data)
        .args(["--to", &to])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("moved 1 users"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The same options as configuration keys.
    let yaml = format!(
        "{}    sslmode: verify-full\n    sslrootcert: \"{ca}\"\n    sslcert: \"{cert}\"\n    sslkey: \"{key}\"\n",
        store_yaml(&base, 30.0)
    );
    let r = Replica::try_start(&yaml, &token)
        .await
        .expect("a replica with a client certificate");
    assert_eq!(r.running.directory.user_count(), 1);
    assert_eq!(r.create_user("added-over-tls").await.status, 201);

    // Without the client certificate the server refuses.
    let e = refused(
        &format!("{base}?sslmode=verify-full&sslrootcert={ca}"),
        &token,
    )
    .await;
    assert!(e.contains("certificate"), "{e}");
    // A URL and a configuration that disagree are refused at load.
    let clash = format!(
        "{}    sslmode: require\n",
        store_yaml(&format!("{base}?sslmode=verify-full"), 30.0)
    );
    let e = Replica::try_start(&clash, &token)
        .await
        .err()
        .expect("conflicting sslmode refused");
    assert!(e.contains("sslmode"), "{e}");
    drop(pki.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_tls_is_refused_when_tls_is_required() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let base = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    let token = token_at(&base).await;
    for mode in ["require", "verify-ca", "verify-full"] {
        let e = refused(&format!("{base}?sslmode={mode}"), &token).await;
        assert!(
            e.contains("does not support TLS") && e.contains(mode),
            "{mode}: {e}"
        );
    }
    // `prefer` (libpq's default, also when nothing is said) falls back to plain.
    for url in [format!("{base}?sslmode=prefer"), base.clone()] {
        let r = Replica::try_start(&store_yaml(&url, 30.0), &token)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(
            r.create_user(&format!("plain-{}", uuid::Uuid::new_v4().simple()))
                .await
                .status,
            201
        );
    }
}
