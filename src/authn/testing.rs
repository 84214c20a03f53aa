//! Test support: a settable clock, a tiny local HTTP server that counts its hits, and
//! signing keys generated once per test run.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::clock::{Clock, SharedClock};

/// A clock that moves only when told to.
pub(crate) struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock at `unix_seconds`.
    pub(crate) fn at(unix_seconds: i64) -> Arc<Self> {
        Arc::new(Self(Mutex::new(
            OffsetDateTime::from_unix_timestamp(unix_seconds).unwrap(),
        )))
    }

    pub(crate) fn advance(&self, by: Duration) {
        *self.0.lock() += by;
    }

    pub(crate) fn shared(self: &Arc<Self>) -> SharedClock {
        self.clone()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock()
    }
}

/// What the test server answers to one request.
pub(crate) struct Reply {
    pub status: u16,
    pub body: String,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    pub(crate) fn json(body: impl Into<String>) -> Self {
        Self {
            status: 200,
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn status(status: u16) -> Self {
        Self {
            status,
            body: "{}".into(),
            delay: Duration::ZERO,
        }
    }
}

type Handler = dyn Fn(&str) -> Reply + Send + Sync;

/// A loopback HTTP/1.1 server; stops when dropped.
pub(crate) struct TestServer {
    addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// How many requests asked for `path`.
    pub(crate) fn hits(&self, path: &str) -> usize {
        self.hits.lock().get(path).copied().unwrap_or(0)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `handler(path)` on 127.0.0.1 at a free port.
pub(crate) async fn serve(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let handler: Arc<Handler> = Arc::new(handler);
    let counted = hits.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            let hits = counted.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let path = req.uri().path().to_owned();
                    *hits.lock().entry(path.clone()).or_default() += 1;
                    let reply = handler(&path);
                    async move {
                        tokio::time::sleep(reply.delay).await;
                        hyper::Response::builder()
                            .status(reply.status)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(reply.body)))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    TestServer { addr, hits, task }
}

/// A signing key pair generated for tests.
pub(crate) struct TestKey {
    pub pem: String,
    pub public_pem: String,
    pub alg: Algorithm,
}

impl TestKey {
    fn generate(alg: &'static rcgen::SignatureAlgorithm, jwt_alg: Algorithm) -> Self {
        let kp = rcgen::KeyPair::generate_for(alg).unwrap();
        Self {
            pem: kp.serialize_pem(),
            public_pem: kp.public_key_pem(),
            alg: jwt_alg,
        }
    }

    pub(crate) fn encoding(&self) -> EncodingKey {
        match self.alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(self.pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_rsa_pem(self.pem.as_bytes()).unwrap(),
        }
    }

    /// The public key as a JWK named `kid`.
    pub(crate) fn jwk(&self, kid: &str) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.encoding(), self.alg).unwrap();
        jwk.common.key_id = Some(kid.into());
        serde_json::to_value(jwk).unwrap()
    }

    /// A JWT of `claims` signed with this key, naming `kid`.
    pub(crate) fn sign(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &self.encoding()).unwrap()
    }
}

/// Two RSA keys (RS256; the second for rotation) and a P-256 key (ES256).
pub(crate) fn test_keys() -> &'static [TestKey; 3] {
    static KEYS: OnceLock<[TestKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            TestKey::generate(&rcgen::PKCS_RSA_SHA256, Algorithm::RS256),
            TestKey::generate(&rcgen::PKCS_RSA_SHA256, Algorithm::RS256),
            TestKey::generate(&rcgen::PKCS_ECDSA_P256_SHA256, Algorithm::ES256),
        ]
    })
}

/// What the fake OpenID provider answers.
pub(crate) struct IdpState {
    /// Extra ID-token claims (`iss`, `aud`, `nonce`, `iat`, `exp` are added).
    pub id_claims: Value,
    /// The nonce to put in the next ID token (the test copies it from the authorize URL).
    pub nonce: String,
    /// The userinfo answer.
    pub userinfo: Value,
    /// Status of the discovery document (e.g. 503 while "down").
    pub discovery_status: u16,
}

/// A fake OpenID provider: discovery, JWKS (RS256 key `k1`), token and userinfo
/// endpoints, with ID tokens signed by [`test_keys`]'s first key.
pub(crate) struct FakeIdp {
    pub server: TestServer,
    pub state: Arc<Mutex<IdpState>>,
    pub issuer: String,
}

pub(crate) const IDP_CLIENT_ID: &str = "client-1";

impl FakeIdp {
    pub(crate) async fn start() -> Self {
        let state = Arc::new(Mutex::new(IdpState {
            id_claims: serde_json::json!({"sub": "s1", "preferred_username": "ann"}),
            nonce: String::new(),
            userinfo: serde_json::json!({"sub": "s1"}),
            discovery_status: 200,
        }));
        let issuer_cell = Arc::new(OnceLock::<String>::new());
        let (shared, cell) = (state.clone(), issuer_cell.clone());
        let server = serve(move |path| {
            let issuer = cell.get().cloned().unwrap_or_default();
            let st = shared.lock();
            match path {
                "/.well-known/openid-configuration" => Reply {
                    status: st.discovery_status,
                    ..Reply::json(
                        serde_json::json!({
                            "issuer": issuer,
                            "authorization_endpoint": format!("{issuer}/auth"),
                            "token_endpoint": format!("{issuer}/token"),
                            "userinfo_endpoint": format!("{issuer}/me"),
                            "jwks_uri": format!("{issuer}/jwks"),
                            "response_types_supported": ["code"],
                            "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256"],
                        })
                        .to_string(),
                    )
                },
                "/jwks" => {
                    Reply::json(serde_json::json!({"keys": [test_keys()[0].jwk("k1")]}).to_string())
                }
                "/token" => {
                    let now = OffsetDateTime::now_utc().unix_timestamp();
                    let mut claims = st.id_claims.clone();
                    claims["iss"] = issuer.clone().into();
                    claims["aud"] = IDP_CLIENT_ID.into();
                    claims["nonce"] = st.nonce.clone().into();
                    claims["iat"] = now.into();
                    claims["exp"] = (now + 300).into();
                    let id_token = test_keys()[0].sign("k1", &claims);
                    Reply::json(
                        serde_json::json!({
                            "access_token": "at-1",
                            "token_type": "Bearer",
                            "expires_in": 300,
                            "id_token": id_token,
                        })
                        .to_string(),
                    )
                }
                "/me" => Reply::json(st.userinfo.to_string()),
                _ => Reply::status(404),
            }
        })
        .await;
        let issuer = server.url("");
        issuer_cell.set(issuer.clone()).unwrap();
        Self {
            server,
            state,
            issuer,
        }
    }

    pub(crate) fn config(&self) -> crate::config::OidcConfig {
        crate::config::OidcConfig {
            issuer: self.issuer.clone(),
            client_id: IDP_CLIENT_ID.into(),
            client_secret: Some("secret-1".into()),
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            login_key: None,
        }
    }
}

/// The value of query parameter `name` in `url`.
pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    openidconnect::url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
