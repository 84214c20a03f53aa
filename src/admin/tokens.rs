//! Admin UI: SCIM tokens. The list shows name, scope, age and last use, with warnings
//! (older than 90 days: rotate; unused for 30 days: still needed?). Creating one is a
//! POST that stores only the hash and answers with a redirect to a one-time page
//! holding the token: the secret is kept in memory for that one view (bound to the
//! creating session, five minutes at most) and never again, so reloading the page, or
//! the list, never shows it. Revoking asks for confirmation first. Both write audit
//! records (`admin:<userName>`, `token.create` / `token.revoke`, `token:<name>`),
//! never with the secret.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::Response;
use axum::Form;
use http::{HeaderMap, StatusCode};
use parking_lot::Mutex;
use serde::Deserialize;

use super::auth::Viewer;
use super::error::PageError;
use super::layout::{csrf_field, page as layout};
use super::AdminState;
use crate::clock::rfc3339_millis;
use crate::record::{AuditEntry, TokenRow};
use crate::store::StoreError;
use crate::tokens::{self as issued, TokenScope, ROTATION_WARNING_DAYS};
use crate::web::{html, see_other, url_encode, E};

/// Days without use after which a token is flagged.
pub const UNUSED_WARNING_DAYS: i64 = 30;
/// How long a new token waits to be shown.
const SHOW_WITHIN_MS: i64 = 5 * 60 * 1000;
const DAY_MS: i64 = 86_400_000;

struct Fresh {
    nonce: String,
    /// The CSRF token of the session that created it (only that session sees it).
    session: String,
    name: String,
    token: String,
    expires_ms: i64,
}

/// New tokens waiting for their one showing.
#[derive(Default)]
pub struct FreshTokens(Mutex<Vec<Fresh>>);

impl FreshTokens {
    fn put(&self, fresh: Fresh, now: i64) {
        let mut list = self.0.lock();
        list.retain(|f| f.expires_ms > now);
        if list.len() >= 64 {
            list.remove(0);
        }
        list.push(fresh);
    }

    /// Takes the token out (it is never shown again).
    fn take(&self, nonce: &str, session: &str, now: i64) -> Option<(String, String)> {
        let mut list = self.0.lock();
        let i = list
            .iter()
            .position(|f| f.nonce == nonce && f.session == session && f.expires_ms > now)?;
        let f = list.remove(i);
        Some((f.name, f.token))
    }
}

/// The warning a token deserves at `now`, if any.
pub fn age_warning(row: &TokenRow, now: i64) -> Option<String> {
    let age_days = (now - row.created) / DAY_MS;
    if age_days >= ROTATION_WARNING_DAYS {
        return Some(format!("{age_days} days old: rotate it"));
    }
    let idle_days = (now - row.last_used.unwrap_or(row.created)) / DAY_MS;
    if idle_days >= UNUSED_WARNING_DAYS {
        return Some(match row.last_used {
            Some(_) => format!("unused for {idle_days} days: still needed?"),
            None => format!("never used in {idle_days} days: still needed?"),
        });
    }
    None
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn record(
    s: &AdminState,
    viewer: &Viewer,
    action: &str,
    name: &str,
    detail: serde_json::Value,
) -> Result<(), PageError> {
    let entry = AuditEntry {
        at: s.now_ms(),
        actor: format!("admin:{}", viewer.user.user_name),
        action: action.to_owned(),
        target: format!("token:{name}"),
        before: None,
        after: None,
        detail: Some(detail.to_string()),
    };
    let store = s.store.clone();
    tokio::task::spawn_blocking(move || store.audit_append(&[entry])).await??;
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    revoked: Option<String>,
}

/// `GET /.scimgate/admin/tokens`.
#[tracing::instrument(skip_all)]
pub async fn list(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    notice: Result<Query<Notice>, QueryRejection>,
) -> Result<Response, PageError> {
    let viewer = s.admin(&headers, &uri).await?;
    let store = s.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.token_list()).await??;
    let now = s.now_ms();
    let csrf = viewer.csrf.as_deref().unwrap_or_default();
    let mut body = String::new();
    for row in &rows {
        let warning = age_warning(row, now)
            .map(|w| format!("<span class=\"warn\">{}</span>", E(&w)))
            .unwrap_or_default();
        body.push_str(&format!(
            "<tr class=\"token\" data-token=\"{name}\"><td><code>{name}</code></td><td>{scope}</td>\
<td>{created}</td><td>{used}</td><td>{warning}</td>\
<td><a href=\"/.scimgate/admin/tokens/{link}/revoke\">Revoke…</a></td></tr>",
            name = E(&row.name),
            scope = E(&row.scope),
            created = E(&rfc3339_millis(row.created)),
            used = E(&row
                .last_used
                .map(rfc3339_millis)
                .unwrap_or_else(|| "never".into())),
            link = url_encode(&row.name),
        ));
    }
    let notice = match notice.ok().and_then(|Query(n)| n.revoked) {
        Some(name) => format!(
            "<p class=\"ok notice\">Token <code>{}</code> was revoked; it no longer works.</p>",
            E(&name)
        ),
        None => String::new(),
    };
    let table = if rows.is_empty() {
        "<p class=\"none\">No tokens.</p>".to_owned()
    } else {
        format!(
            "<table><thead><tr><th>Name</th><th>Scope</th><th>Created</th><th>Last used</th>\
<th></th><th></th></tr></thead><tbody>{body}</tbody></table>"
        )
    };
    let main = format!(
        "<h1>SCIM tokens</h1>{notice}{table}\
<h2>Create a token</h2>\
<p class=\"muted\">The token is shown once, right after it is created. To rotate without \
downtime: create a new one, switch the identity provider to it, then revoke the old one.</p>\
<form class=\"filters\" method=\"post\" action=\"/.scimgate/admin/tokens\">{csrf}\
<label>Name<input name=\"name\" required maxlength=\"64\" pattern=\"[A-Za-z0-9._\\-]+\" placeholder=\"okta-prod\"></label>\
<label>Scope<select name=\"scope\"><option value=\"scim\">scim</option><option value=\"admin\">admin</option></select></label>\
<button type=\"submit\">Create token</button></form>",
        csrf = csrf_field(csrf),
    );
    Ok(html(
        StatusCode::OK,
        layout("SCIM tokens", Some(&viewer.nav()), &main),
    ))
}

#[derive(Debug, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
}

/// `POST /.scimgate/admin/tokens`: creates a token, then sends the browser to its
/// one-time page.
#[tracing::instrument(skip_all)]
pub async fn create(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    form: Result<Form<CreateForm>, FormRejection>,
) -> Result<Response, PageError> {
    let viewer = s.admin(&headers, &uri).await?;
    let Ok(Form(form)) = form else {
        s.check_form(&viewer, &headers, "")?;
        return Err(PageError::BadRequest("the form could not be read".into()));
    };
    s.check_form(&viewer, &headers, &form.csrf)?;
    let name = form.name.trim().to_owned();
    issued::check_name(&name)?;
    let scope = TokenScope::parse(form.scope.trim())
        .ok_or_else(|| PageError::BadRequest("scope must be scim or admin".into()))?;
    let now = s.now_ms();
    let (token, row) = issued::issue(&name, scope, now);
    let token_id = row.token_id.clone();
    let store = s.store.clone();
    match tokio::task::spawn_blocking(move || store.token_insert(&row)).await? {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(PageError::TokenExists(name)),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(token = %name, scope = scope.as_str(), by = %viewer.user.user_name, "token created");
    record(
        &s,
        &viewer,
        "token.create",
        &name,
        serde_json::json!({ "scope": scope.as_str(), "token_id": token_id, "request_id": request_id(&headers) }),
    )
    .await?;
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    s.fresh_tokens.put(
        Fresh {
            nonce: nonce.clone(),
            session: viewer.csrf.clone().unwrap_or_default(),
            name,
            token,
            expires_ms: now + SHOW_WITHIN_MS,
        },
        now,
    );
    Ok(see_other(&format!("/.scimgate/admin/tokens/shown/{nonce}")))
}

/// `GET /.scimgate/admin/tokens/shown/{nonce}`: the new token, this one time.
#[tracing::instrument(skip_all)]
pub async fn show_once(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(nonce): Path<String>,
) -> Result<Response, PageError> {
    let viewer = s.admin(&headers, &uri).await?;
    let session = viewer.csrf.as_deref().unwrap_or_default();
    let main = match s.fresh_tokens.take(&nonce, session, s.now_ms()) {
        Some((name, token)) => format!(
            "<h1>Token <code>{name}</code> created</h1>\
<p class=\"warn\">Copy it now: it is shown only this once. scimgate keeps only its hash.</p>\
<p class=\"secret\" id=\"token\">{token}</p>\
<p>Give it to your identity provider as the SCIM bearer token.</p>\
<p><a href=\"/.scimgate/admin/tokens\">Back to the tokens</a></p>",
            name = E(&name),
            token = E(&token),
        ),
        None => "<h1>Token already shown</h1>\
<p class=\"gone\">A token is shown only once, right after it is created; it cannot be shown \
again. If it was not copied, revoke it and create a new one.</p>\
<p><a href=\"/.scimgate/admin/tokens\">Back to the tokens</a></p>"
            .to_owned(),
    };
    Ok(html(
        StatusCode::OK,
        layout("New token", Some(&viewer.nav()), &main),
    ))
}

fn known_name(name: &str) -> Result<(), PageError> {
    issued::check_name(name).map_err(|_| PageError::NotFound("no token has this name"))
}

/// `GET /.scimgate/admin/tokens/{name}/revoke`: asks for confirmation.
#[tracing::instrument(skip_all, fields(token = %name))]
pub async fn confirm_revoke(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let viewer = s.admin(&headers, &uri).await?;
    known_name(&name)?;
    let store = s.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.token_list()).await??;
    let row = rows
        .into_iter()
        .find(|r| r.name == name)
        .ok_or(PageError::NotFound("no token has this name"))?;
    let main = format!(
        "<h1>Revoke token <code>{name}</code>?</h1>\
<p>Scope {scope}, created {created}, last used {used}. Whoever holds it (an identity \
provider) is refused from its next request on.</p>\
<form method=\"post\" action=\"/.scimgate/admin/tokens/{link}/revoke\">{csrf}\
<button type=\"submit\" class=\"danger\">Revoke {name}</button> \
<a href=\"/.scimgate/admin/tokens\">Cancel</a></form>",
        name = E(&row.name),
        scope = E(&row.scope),
        created = E(&rfc3339_millis(row.created)),
        used = E(&row
            .last_used
            .map(rfc3339_millis)
            .unwrap_or_else(|| "never".into())),
        link = url_encode(&row.name),
        csrf = csrf_field(viewer.csrf.as_deref().unwrap_or_default()),
    );
    Ok(html(
        StatusCode::OK,
        layout("Revoke token", Some(&viewer.nav()), &main),
    ))
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /.scimgate/admin/tokens/{name}/revoke`.
#[tracing::instrument(skip_all, fields(token = %name))]
pub async fn revoke(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(name): Path<String>,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Result<Response, PageError> {
    let viewer = s.admin(&headers, &uri).await?;
    let presented = form.map(|Form(f)| f.csrf).unwrap_or_default();
    s.check_form(&viewer, &headers, &presented)?;
    known_name(&name)?;
    let store = s.store.clone();
    let target = name.clone();
    if !tokio::task::spawn_blocking(move || store.token_revoke(&target)).await?? {
        return Err(PageError::NotFound("no token has this name"));
    }
    tracing::info!(token = %name, by = %viewer.user.user_name, "token revoked");
    record(
        &s,
        &viewer,
        "token.revoke",
        &name,
        serde_json::json!({ "request_id": request_id(&headers) }),
    )
    .await?;
    Ok(see_other(&format!(
        "/.scimgate/admin/tokens?revoked={}",
        url_encode(&name)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(created: i64, last_used: Option<i64>) -> TokenRow {
        TokenRow {
            name: "t".into(),
            token_id: "0".into(),
            hash: vec![],
            scope: "scim".into(),
            created,
            last_used,
        }
    }

    #[test]
    fn warnings_for_old_and_idle_tokens() {
        let now = 400 * DAY_MS;
        assert_eq!(age_warning(&row(now - DAY_MS, None), now), None);
        let old = age_warning(&row(now - 91 * DAY_MS, Some(now)), now).unwrap();
        assert!(old.contains("91 days old"), "{old}");
        let idle = age_warning(&row(now - 60 * DAY_MS, Some(now - 31 * DAY_MS)), now).unwrap();
        assert!(idle.contains("unused for 31 days"), "{idle}");
        let never = age_warning(&row(now - 40 * DAY_MS, None), now).unwrap();
        assert!(never.contains("never used"), "{never}");
        assert_eq!(
            age_warning(&row(now - 60 * DAY_MS, Some(now - 2 * DAY_MS)), now),
            None
        );
    }

    #[test]
    fn a_fresh_token_is_shown_once_and_only_to_its_session() {
        let fresh = FreshTokens::default();
        let f = |nonce: &str| Fresh {
            nonce: nonce.into(),
            session: "s1".into(),
            name: "okta".into(),
            token: "secret".into(),
            expires_ms: 100,
        };
        fresh.put(f("n1"), 0);
        assert!(fresh.take("n1", "s2", 1).is_none());
        assert_eq!(
            fresh.take("n1", "s1", 1),
            Some(("okta".into(), "secret".into()))
        );
        assert!(fresh.take("n1", "s1", 2).is_none());
        fresh.put(f("n2"), 0);
        assert!(fresh.take("n2", "s1", 100).is_none(), "expired");
    }
}
