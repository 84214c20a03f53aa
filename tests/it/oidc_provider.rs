//! A small OpenID provider for browser sign-in tests and benchmarks: discovery, JWKS,
//! and a token endpoint that checks PKCE and mints an ES256 ID token with the nonce of
//! the authorization request it answers. The "authorize" step is [`Provider::approve`]:
//! it reads the authorize URL scimgate sent the browser to and returns the callback
//! query the provider would redirect back with.

#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::issuer::{now, sign_with, Key};

pub const CLIENT_ID: &str = "scimgate-test";
pub const CLIENT_SECRET: &str = "test-client-secret-of-some-length";

/// What an issued authorization code stands for.
struct Grant {
    user: String,
    nonce: String,
    challenge: String,
    redirect_uri: String,
    /// Claims added to the ID token (`auth_time`, `acr`).
    extra: Value,
}

struct Inner {
    key: Key,
    issuer: Mutex<String>,
    codes: Mutex<HashMap<String, Grant>>,
    next: AtomicUsize,
    /// Token requests answered (any outcome).
    token_requests: AtomicUsize,
}

pub struct Provider {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

/// The query of an authorize URL as a map.
pub fn query_of(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    openidconnect::url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect()
}

impl Provider {
    pub async fn start() -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let inner = Arc::new(Inner {
            key: Key::generate("p1"),
            issuer: Mutex::new(format!("http://{addr}")),
            codes: Mutex::new(HashMap::new()),
            next: AtomicUsize::new(0),
            token_requests: AtomicUsize::new(0),
        });
        let i = inner.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let i = i.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| serve(i.clone(), req));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        Provider { addr, inner }
    }

    pub fn issuer(&self) -> String {
        self.inner.issuer.lock().clone()
    }

    /// The `oidc:` section of a gate that signs in here.
    pub fn config(&self) -> String {
        format!(
            "oidc:\n  issuer: {}\n  client_id: {CLIENT_ID}\n  client_secret: {CLIENT_SECRET}\n",
            self.issuer()
        )
    }

    /// Signs `user` in at the authorize URL scimgate redirected to: returns the callback
    /// path and query (`/.scimgate/callback?code=..&state=..`).
    pub fn approve(&self, authorize_url: &str, user: &str) -> String {
        self.approve_with(authorize_url, user, json!({}))
    }

    /// [`Provider::approve`], the ID token carrying the claims of `extra` too (e.g.
    /// `auth_time`, `acr`).
    pub fn approve_with(&self, authorize_url: &str, user: &str, extra: Value) -> String {
        let q = query_of(authorize_url);
        let code = format!("code-{}", self.inner.next.fetch_add(1, Ordering::SeqCst));
        let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
        self.inner.codes.lock().insert(
            code.clone(),
            Grant {
                user: user.to_owned(),
                nonce: q.get("nonce").cloned().unwrap_or_default(),
                challenge: q.get("code_challenge").cloned().unwrap_or_default(),
                redirect_uri: redirect_uri.clone(),
                extra,
            },
        );
        let path = redirect_uri
            .find("/.scimgate/")
            .map(|i| redirect_uri[i..].to_owned())
            .unwrap_or_else(|| "/.scimgate/callback".to_owned());
        let state = q.get("state").cloned().unwrap_or_default();
        let enc = |s: &str| {
            openidconnect::url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
        };
        format!("{path}?code={}&state={}", enc(&code), enc(&state))
    }

    /// Codes issued and not yet exchanged.
    pub fn open_codes(&self) -> usize {
        self.inner.codes.lock().len()
    }

    pub fn token_requests(&self) -> usize {
        self.inner.token_requests.load(Ordering::SeqCst)
    }
}

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

async fn serve(
    inner: Arc<Inner>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let issuer = inner.issuer.lock().clone();
    let path = req.uri().path().to_owned();
    match path.as_str() {
        "/.well-known/openid-configuration" => Ok(reply(
            200,
            json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/auth"),
                "token_endpoint": format!("{issuer}/token"),
                "jwks_uri": format!("{issuer}/jwks.json"),
                "end_session_endpoint": format!("{issuer}/session/end"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
            }),
        )),
        "/jwks.json" => Ok(reply(200, json!({ "keys": [inner.key.jwk.clone()] }))),
        "/token" => {
            inner.token_requests.fetch_add(1, Ordering::SeqCst);
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let form: HashMap<String, String> = openidconnect::url::form_urlencoded::parse(&body)
                .into_owned()
                .collect();
            let code = form.get("code").cloned().unwrap_or_default();
            // Codes are single use, whatever the outcome.
            let Some(grant) = inner.codes.lock().remove(&code) else {
                return Ok(reply(400, json!({ "error": "invalid_grant" })));
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if challenge != grant.challenge || form.get("redirect_uri") != Some(&grant.redirect_uri)
            {
                return Ok(reply(400, json!({ "error": "invalid_grant" })));
            }
            let mut claims = json!({
                "iss": issuer, "aud": CLIENT_ID, "sub": format!("sub-{}", grant.user),
                "preferred_username": grant.user, "nonce": grant.nonce,
                "iat": now(), "exp": now() + 300,
            });
            if let (Some(c), Value::Object(extra)) = (claims.as_object_mut(), grant.extra) {
                c.extend(extra);
            }
            Ok(reply(
                200,
                json!({
                    "access_token": "opaque-access-token",
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": sign_with(&inner.key, &claims),
                }),
            ))
        }
        _ => Ok(reply(404, json!({ "error": "not_found" }))),
    }
}
