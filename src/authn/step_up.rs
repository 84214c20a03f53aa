//! Step-up sign-in: asking the provider for a recent authentication (`max_age`, with
//! `prompt=login`) or a given authentication context (`acr_values`), and checking that
//! the ID token it answers with says so (`auth_time`, `acr`).
//!
//! The gate decides that a route needs it and sends the browser to
//! `/.scimgate/login?rd=..&max_age=..&acr_values=..`; the ask travels sealed in the
//! pending sign-in ([`super::pending`]), so the callback checks the answer against what
//! was asked, not against anything the browser could change on the way back. A
//! provider that ignores the ask gets a page that says so (not a loop of sign-ins).

use serde::{Deserialize, Serialize};

use super::session::SignIn;
use super::{AuthnError, Claims};

/// Longest `acr_values` kept (it travels in the sealed cookie).
const MAX_ACR_VALUES: usize = 512;

/// What a sign-in asks of the provider beyond who the user is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StepUpAsk {
    /// `max_age`, seconds: the authentication must be at most this old.
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    /// `acr_values`: the authentication context must be one of these.
    #[serde(rename = "a", default, skip_serializing_if = "Vec::is_empty")]
    pub acr_values: Vec<String>,
}

impl StepUpAsk {
    /// The ask of a `/login` query: `max_age` (seconds) and `acr_values`
    /// (space-separated); values that cannot be sent are dropped.
    pub fn from_query(max_age: Option<&str>, acr_values: Option<&str>) -> Option<Self> {
        let max_age = max_age.and_then(|m| m.parse::<u64>().ok());
        let acr_values: Vec<String> = acr_values
            .filter(|a| a.len() <= MAX_ACR_VALUES)
            .map(|a| {
                a.split(' ')
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic()))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let ask = StepUpAsk {
            max_age,
            acr_values,
        };
        (ask != StepUpAsk::default()).then_some(ask)
    }

    /// Whether the provider should show its login form again (a recent sign-in is
    /// asked for).
    pub fn force_login(&self) -> bool {
        self.max_age.is_some()
    }

    /// Whether the ID token's `claims` answer the ask, at `now` (Unix seconds).
    pub fn check(&self, claims: &Claims, now: i64) -> Result<(), AuthnError> {
        if let Some(max_age) = self.max_age {
            let auth_time = claims.auth_time().ok_or(AuthnError::LoginFailed(
                "the identity provider did not say when you signed in (auth_time), so a recent sign-in cannot be confirmed",
            ))?;
            let age = u64::try_from(now.saturating_sub(auth_time)).unwrap_or(0);
            if age > max_age {
                return Err(AuthnError::LoginFailed(
                    "the identity provider did not ask you to sign in again (its auth_time is older than this page needs)",
                ));
            }
        }
        if !self.acr_values.is_empty() {
            let acr = claims.acr().ok_or(AuthnError::LoginFailed(
                "the identity provider did not say how you signed in (acr), so the required authentication cannot be confirmed",
            ))?;
            if !self.acr_values.iter().any(|a| a == acr) {
                return Err(AuthnError::LoginFailed(
                    "the identity provider signed you in with another authentication method (acr) than this page needs",
                ));
            }
        }
        Ok(())
    }
}

/// What an ID token says about the authentication, for the session.
pub fn sign_in_of(claims: &Claims) -> SignIn {
    SignIn {
        auth_time: claims.auth_time(),
        acr: claims.acr().map(std::sync::Arc::from),
        step_up: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: serde_json::Value) -> Claims {
        match v {
            serde_json::Value::Object(m) => Claims::from_map(m).unwrap(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn reads_the_query() {
        assert_eq!(StepUpAsk::from_query(None, None), None);
        let ask = StepUpAsk::from_query(Some("900"), Some("mfa  phr")).unwrap();
        assert_eq!(ask.max_age, Some(900));
        assert_eq!(ask.acr_values, ["mfa", "phr"]);
        assert!(ask.force_login());
        let ask = StepUpAsk::from_query(Some("soon"), Some("mfa")).unwrap();
        assert_eq!(ask.max_age, None);
        assert!(!ask.force_login());
    }

    #[test]
    fn checks_auth_time_and_acr() {
        let ask = StepUpAsk {
            max_age: Some(60),
            acr_values: vec!["mfa".into()],
        };
        let fresh = claims(json!({"exp": 2000, "auth_time": 950, "acr": "mfa"}));
        assert!(ask.check(&fresh, 1000).is_ok());
        let old = claims(json!({"exp": 2000, "auth_time": 900, "acr": "mfa"}));
        assert!(ask.check(&old, 1000).is_err());
        let none = claims(json!({"exp": 2000, "acr": "mfa"}));
        assert!(ask.check(&none, 1000).is_err());
        let weak = claims(json!({"exp": 2000, "auth_time": 990, "acr": "pwd"}));
        assert!(ask.check(&weak, 1000).is_err());
        assert_eq!(sign_in_of(&fresh).auth_time, Some(950));
        assert_eq!(sign_in_of(&fresh).acr.as_deref(), Some("mfa"));
    }
}
