//! The browser login: OpenID Connect authorization code flow with PKCE (S256), `state`
//! and `nonce`, by the openidconnect crate over our own [`HttpClient`].
//!
//! `start` builds the IdP's authorize URL and the pending sign-in (state, nonce, PKCE
//! verifier, redirect URI, where to return), which the caller seals into a short-lived
//! cookie ([`super::pending`]); nothing is kept in memory. `finish` checks the pending
//! sign-in (expired, a `state` that differs, another callback address → refused),
//! exchanges the code with the PKCE verifier, and verifies the ID token's signature
//! (asymmetric algorithms only), `iss`, `aud`, `exp` and `nonce`. Userinfo is asked only when the ID token lacks the identity
//! claim; its claims never replace the ID token's.
//!
//! When discovery publishes an `end_session_endpoint` (OpenID Connect RP-Initiated
//! Logout 1.0), [`OidcLogin::end_session_url`] is where a sign-out sends the browser so
//! the provider's session ends too; `start_with(.., true)` asks for `prompt=login`.
//!
//! Discovery is lazy (the IdP may start after scimgate), cached, and retried on the next
//! login after a failure. When an ID token names a key the cached metadata lacks (the
//! IdP rotated keys), discovery is redone, at most once a minute, and the check retried.

#[cfg(test)]
mod tests;

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AdditionalClaims, AuthenticationContextClass, AuthorizationCode, ClaimsVerificationError,
    ClientId, ClientSecret, CsrfToken, DiscoveryError, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IdToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, SubjectIdentifier, TokenResponse, UserInfoClaims, UserInfoError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

use super::pending::{expired, LoginSealer, PendingLogin, MAX_RETURN_TO};
use super::step_up::StepUpAsk;
use super::{AuthnError, Claims};
use crate::clock::{self, to_millis, SharedClock};
use crate::config::{IdentityAttribute, IdentityConfig, OidcConfig};
use crate::outbound::{error_chain, HttpClient, HttpError};

/// Least time between two rediscoveries prompted by an unknown ID-token key.
const REDISCOVER_AFTER_MS: i64 = 60_000;

/// ID-token signature algorithms accepted: asymmetric only (a client secret is not a
/// signing key we want to trust, and `none` is never acceptable).
const ID_TOKEN_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// The client once discovery has set the authorization endpoint (token and userinfo
/// endpoints are whatever the provider published).
type LoginClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Every claim, standard or not, so the identity claim may be any of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
struct AllClaims(Map<String, Value>);

impl AdditionalClaims for AllClaims {}

type FullIdToken =
    IdToken<AllClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

struct Provider {
    metadata: ProviderMetadataWithLogout,
    fetched_ms: i64,
}

/// A finished sign-in.
pub struct SignedIn {
    /// The verified claims (ID token, plus userinfo if needed).
    pub claims: Arc<Claims>,
    /// Where to send the browser.
    pub return_to: String,
    /// The ID token as the provider sent it: the hint for signing out at the provider
    /// ([`OidcLogin::end_session_url`]).
    pub id_token: String,
    /// What the sign-in asked for as a step-up (and the ID token answered).
    pub step_up: Option<StepUpAsk>,
}

impl std::fmt::Debug for SignedIn {
    /// Without the ID token (a credential).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("return_to", &self.return_to)
            .finish_non_exhaustive()
    }
}

/// The browser login against one OpenID provider.
pub struct OidcLogin {
    cfg: OidcConfig,
    http: HttpClient,
    identity: IdentityConfig,
    provider: ArcSwapOption<Provider>,
    /// Serialises discovery.
    discovering: Mutex<()>,
    /// Why the last discovery failed, until one succeeds (for `/readyz`).
    last_failure: parking_lot::Mutex<Option<String>>,
    /// Seals pending sign-ins into the browser's cookies.
    sealer: LoginSealer,
    clock: SharedClock,
}

impl OidcLogin {
    /// Fails only if the key that seals pending sign-ins cannot be made.
    pub fn new(cfg: OidcConfig, http: HttpClient) -> Result<Self, AuthnError> {
        let sealer = LoginSealer::new(cfg.login_key.as_deref(), cfg.client_secret.as_deref())?;
        Ok(Self {
            cfg,
            http,
            identity: IdentityConfig {
                claim: "preferred_username".into(),
                attribute: IdentityAttribute::UserName,
                email_verified: Default::default(),
            },
            provider: ArcSwapOption::empty(),
            discovering: Mutex::new(()),
            last_failure: parking_lot::Mutex::new(None),
            sealer,
            clock: clock::system(),
        })
    }

    /// Why the identity provider could not be reached, if the last discovery failed.
    pub fn unreachable(&self) -> Option<String> {
        self.last_failure.lock().clone()
    }

    /// Tries discovery once, so that an unreachable identity provider shows at start-up
    /// (log, `/readyz`) rather than at the first sign-in (the composition root runs it
    /// in the background, on the shutdown tree).
    pub async fn discover_now(&self) {
        let _ = self.provider().await;
    }

    /// Which claim names the user (userinfo is asked when the ID token lacks it).
    pub fn with_identity(mut self, identity: &IdentityConfig) -> Self {
        self.identity = identity.clone();
        self
    }

    /// Reads time (flow expiry, rediscovery rate) from `clock`.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Starts a login: the IdP's authorize URL, and the pending sign-in to seal into
    /// the browser's cookie. A `return_to` longer than [`MAX_RETURN_TO`] becomes `/`.
    pub async fn start(
        &self,
        redirect_uri: &str,
        return_to: String,
    ) -> Result<(String, PendingLogin), AuthnError> {
        self.start_with(redirect_uri, return_to, false).await
    }

    /// [`OidcLogin::start`]; with `force_login`, the request asks the provider to show
    /// its login form even to a browser it has a session with (`prompt=login`), so
    /// someone else can sign in.
    pub async fn start_with(
        &self,
        redirect_uri: &str,
        return_to: String,
        force_login: bool,
    ) -> Result<(String, PendingLogin), AuthnError> {
        self.start_step_up(redirect_uri, return_to, force_login, None)
            .await
    }

    /// [`OidcLogin::start_with`], asking for a step-up ([`StepUpAsk`]): `max_age` (and
    /// `prompt=login`) and `acr_values`; the callback checks the ID token's answer.
    pub async fn start_step_up(
        &self,
        redirect_uri: &str,
        return_to: String,
        force_login: bool,
        step_up: Option<StepUpAsk>,
    ) -> Result<(String, PendingLogin), AuthnError> {
        let provider = self.provider().await?;
        let client = self.client(&provider, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.cfg.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if force_login || step_up.as_ref().is_some_and(StepUpAsk::force_login) {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        if let Some(ask) = &step_up {
            if let Some(max_age) = ask.max_age {
                request = request.set_max_age(std::time::Duration::from_secs(max_age));
            }
            for acr in &ask.acr_values {
                request =
                    request.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
            }
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let return_to = if return_to.len() > MAX_RETURN_TO {
            "/".to_owned()
        } else {
            return_to
        };
        let pending = PendingLogin {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            redirect_uri: redirect_uri.to_owned(),
            return_to,
            created_ms: self.now_ms(),
            step_up,
        };
        Ok((url.to_string(), pending))
    }

    /// What seals pending sign-ins into cookies.
    pub fn sealer(&self) -> &LoginSealer {
        &self.sealer
    }

    /// Finishes a login: the verified claims, where to send the browser, and the ID
    /// token. A step-up sign-in is refused when the ID token does not answer its ask.
    pub async fn finish(
        &self,
        redirect_uri: &str,
        code: &str,
        state: &str,
        flow: PendingLogin,
    ) -> Result<SignedIn, AuthnError> {
        if expired(&flow, self.now_ms()) {
            return Err(AuthnError::LoginFailed(
                "this sign-in attempt took too long; start again",
            ));
        }
        if flow.state.len() != state.len()
            || !bool::from(flow.state.as_bytes().ct_eq(state.as_bytes()))
        {
            return Err(AuthnError::LoginFailed(
                "the answer does not belong to this browser's sign-in attempt",
            ));
        }
        if flow.redirect_uri != redirect_uri {
            return Err(AuthnError::LoginFailed(
                "the sign-in came back to another address than it started from",
            ));
        }
        let mut provider = self.provider().await?;
        let mut client = self.client(&provider, &flow.redirect_uri)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| AuthnError::LoginFailed("the provider publishes no token endpoint"))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let id_token_text = token
            .id_token()
            .ok_or(AuthnError::LoginFailed("the provider sent no ID token"))?
            .to_string();
        let id_token: FullIdToken = id_token_text
            .parse()
            .map_err(|_| AuthnError::BadToken("the ID token is malformed"))?;
        let nonce = Nonce::new(flow.nonce);
        let step_up = flow.step_up;
        let mut verified = verify_id_token(&client, &id_token, &nonce);
        if matches!(
            verified,
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
            ))
        ) {
            if let Some(fresh) = self.rediscover(&provider).await {
                provider = fresh;
                client = self.client(&provider, &flow.redirect_uri)?;
                verified = verify_id_token(&client, &id_token, &nonce);
            }
        }
        let mut map = verified.map_err(id_token_error)?;
        if !self.has_identity_claim(&map) && provider.metadata.userinfo_endpoint().is_some() {
            let subject = map
                .get("sub")
                .and_then(Value::as_str)
                .map(|s| SubjectIdentifier::new(s.to_owned()));
            let request = client
                .user_info(token.access_token().clone(), subject)
                .map_err(|_| AuthnError::LoginFailed("the provider publishes no userinfo"))?;
            let info: UserInfoClaims<AllClaims, CoreGenderClaim> = request
                .request_async(&self.http)
                .await
                .map_err(userinfo_error)?;
            if let Ok(Value::Object(extra)) = serde_json::to_value(&info) {
                for (k, v) in extra {
                    map.entry(k).or_insert(v);
                }
            }
        }
        let claims = Claims::from_map(map)?;
        if let Some(ask) = &step_up {
            ask.check(&claims, self.now_ms().div_euclid(1000))?;
        }
        Ok(SignedIn {
            claims: Arc::new(claims),
            return_to: flow.return_to,
            id_token: id_token_text,
            step_up,
        })
    }

    /// Where to send a browser that signed out of scimgate so it signs out at the
    /// provider too (OpenID Connect RP-Initiated Logout 1.0): the provider's
    /// `end_session_endpoint` with `client_id`, `id_token_hint` (when the session kept
    /// one) and `post_logout_redirect_uri`. `None` when the provider publishes no such
    /// endpoint or cannot be reached: then only scimgate's session ended.
    pub async fn end_session_url(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: &str,
    ) -> Option<String> {
        let provider = self.provider().await.ok()?;
        let endpoint = provider
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()?;
        let mut url = endpoint.url().clone();
        {
            let mut q = url.query_pairs_mut();
            if let Some(hint) = id_token_hint {
                q.append_pair("id_token_hint", hint);
            }
            q.append_pair("client_id", &self.cfg.client_id);
            q.append_pair("post_logout_redirect_uri", post_logout_redirect_uri);
        }
        Some(url.to_string())
    }

    fn has_identity_claim(&self, map: &Map<String, Value>) -> bool {
        let has = |name: &str| map.get(name).and_then(Value::as_str).is_some();
        has(&self.identity.claim)
            || (self.identity.attribute == IdentityAttribute::Email && has("email"))
    }

    fn now_ms(&self) -> i64 {
        to_millis(self.clock.now())
    }

    fn client(&self, provider: &Provider, redirect_uri: &str) -> Result<LoginClient, AuthnError> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|_| AuthnError::LoginFailed("the callback address is not a valid URL"))?;
        Ok(CoreClient::from_provider_metadata(
            provider.metadata.clone(),
            ClientId::new(self.cfg.client_id.clone()),
            self.cfg.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    /// The provider's metadata, discovering it on first use (or after a failure).
    async fn provider(&self) -> Result<Arc<Provider>, AuthnError> {
        if let Some(p) = self.provider.load_full() {
            return Ok(p);
        }
        let _one_at_a_time = self.discovering.lock().await;
        if let Some(p) = self.provider.load_full() {
            return Ok(p);
        }
        self.discover().await
    }

    /// Fresh metadata after `seen` lacked a key, unless it is too recent to refetch.
    async fn rediscover(&self, seen: &Arc<Provider>) -> Option<Arc<Provider>> {
        let _one_at_a_time = self.discovering.lock().await;
        if let Some(current) = self.provider.load_full() {
            if !Arc::ptr_eq(&current, seen) {
                return Some(current);
            }
        }
        if self.now_ms() - seen.fetched_ms < REDISCOVER_AFTER_MS {
            return None;
        }
        self.discover().await.ok()
    }

    async fn discover(&self) -> Result<Arc<Provider>, AuthnError> {
        let mut issuer = self.cfg.issuer.clone();
        let metadata = loop {
            let url = IssuerUrl::new(issuer.clone())
                .map_err(|_| AuthnError::LoginFailed("the issuer is not a valid URL"))?;
            match ProviderMetadataWithLogout::discover_async(url, &self.http).await {
                Ok(m) => break m,
                // The config drops a trailing slash some providers keep in `issuer`.
                Err(DiscoveryError::Validation(_)) if !issuer.ends_with('/') => issuer.push('/'),
                Err(error) => {
                    let why = format!(
                        "OpenID discovery at {} failed: {}",
                        self.cfg.issuer,
                        error_chain(&error)
                    );
                    tracing::warn!(issuer = %self.cfg.issuer, error = %error_chain(&error), "cannot reach the identity provider (browser sign-in fails until it answers): {why}");
                    *self.last_failure.lock() = Some(why);
                    return Err(AuthnError::IdpUnavailable);
                }
            }
        };
        let provider = Arc::new(Provider {
            metadata,
            fetched_ms: self.now_ms(),
        });
        self.provider.store(Some(provider.clone()));
        if self.last_failure.lock().take().is_some() {
            tracing::info!(issuer = %self.cfg.issuer, "the identity provider answers again");
        }
        Ok(provider)
    }
}

/// The ID token's verified claims, all of them, as a JSON map.
fn verify_id_token(
    client: &LoginClient,
    id_token: &FullIdToken,
    nonce: &Nonce,
) -> Result<Map<String, Value>, ClaimsVerificationError> {
    let verifier = client.id_token_verifier().set_allowed_algs(ID_TOKEN_ALGS);
    let claims = id_token.claims(&verifier, nonce)?;
    match serde_json::to_value(claims) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ClaimsVerificationError::Other(
            "claims do not serialise".into(),
        )),
    }
}

fn id_token_error(e: ClaimsVerificationError) -> AuthnError {
    tracing::info!(error = %e, "ID token refused");
    match e {
        ClaimsVerificationError::Expired(_) => AuthnError::Expired,
        ClaimsVerificationError::InvalidAudience(_) => AuthnError::WrongAudience,
        ClaimsVerificationError::InvalidIssuer(_) => AuthnError::WrongIssuer,
        ClaimsVerificationError::InvalidNonce(_) => {
            AuthnError::LoginFailed("the ID token does not answer this sign-in attempt")
        }
        ClaimsVerificationError::SignatureVerification(s) => match s {
            SignatureVerificationError::NoMatchingKey => AuthnError::UnknownKey,
            SignatureVerificationError::DisallowedAlg(_)
            | SignatureVerificationError::UnsupportedAlg(_) => AuthnError::AlgorithmNotAllowed,
            _ => AuthnError::BadToken("the ID token's signature does not verify"),
        },
        _ => AuthnError::BadToken("the ID token is not valid"),
    }
}

/// openidconnect sends its requests (discovery, token, userinfo) through our client.
impl<'c> openidconnect::AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<http::Response<Vec<u8>>, HttpError>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: http::Request<Vec<u8>>) -> Self::Future {
        Box::pin(self.send(request))
    }
}

fn token_error<T: openidconnect::ErrorResponse>(e: RequestTokenError<HttpError, T>) -> AuthnError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            tracing::info!(error = %r, "the provider refused the authorization code");
            AuthnError::LoginFailed("the provider refused the authorization code")
        }
        RequestTokenError::Request(error) => {
            tracing::warn!(error = %error_chain(&error), "token request to the identity provider failed");
            AuthnError::IdpUnavailable
        }
        RequestTokenError::Parse(..) | RequestTokenError::Other(_) => {
            AuthnError::LoginFailed("the provider's token response is not valid")
        }
    }
}

fn userinfo_error(e: UserInfoError<HttpError>) -> AuthnError {
    tracing::info!(error = %e, "userinfo request failed");
    match e {
        UserInfoError::Request(_) => AuthnError::IdpUnavailable,
        UserInfoError::ClaimsVerification(_) => {
            AuthnError::LoginFailed("the provider's userinfo does not match the ID token")
        }
        _ => AuthnError::LoginFailed("the provider's userinfo answer is not valid"),
    }
}
