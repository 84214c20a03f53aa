//! A route's `rate_limit:`: the token buckets the gate keeps for it, as written in
//! the policy and compiled (the buckets themselves live in `gate::limits`).
//!
//! ```yaml
//! rate_limit:
//!   per_user: { rate: 10/s, burst: 20 }          # one bucket per directory user
//!   user_types:                                  # one bucket per type, shared
//!     - { user_type: agent, rate: 60/min }
//!   route: { rate: 200/s }                       # one bucket for everyone
//!   service_token: { rate: 5000/min, burst: 50 } # what the injected token may spend
//! ```
//!
//! A rate is `N/s`, `N/min` or `N/h`; `burst` (how many may come at once) defaults to
//! the rate per second, at least 1. `service_token` needs an `inject:` header: its
//! bucket is keyed by a digest of the injected values, so every route that injects the
//! same token shares one budget.

use std::sync::Arc;

use serde::Deserialize;
use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};

use super::error::Problems;
use super::yaml::at;

/// `rate_limit:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRateLimit {
    #[serde(default)]
    pub per_user: Option<Spanned<RawRate>>,
    #[serde(default)]
    pub user_types: Vec<Spanned<RawTypeRate>>,
    #[serde(default)]
    pub route: Option<Spanned<RawRate>>,
    #[serde(default)]
    pub service_token: Option<Spanned<RawRate>>,
}

/// `{ rate: 10/s, burst: 20 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRate {
    pub rate: Spanned<String>,
    #[serde(default)]
    pub burst: Option<Spanned<i64>>,
}

/// `{ user_type: agent, rate: 60/min, burst: 5 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTypeRate {
    pub user_type: Spanned<String>,
    pub rate: Spanned<String>,
    #[serde(default)]
    pub burst: Option<Spanned<i64>>,
}

/// One bucket's limit: `quota` requests per `window_secs`, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    pub quota: u32,
    pub window_secs: u32,
    pub burst: u32,
}

impl Rate {
    /// Tokens added per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.quota) / f64::from(self.window_secs)
    }

    /// Parses `N/s`, `N/min`, `N/h` with an optional burst.
    pub fn parse(text: &str, burst: Option<i64>) -> Result<Rate, String> {
        let bad = || format!("rate `{text}`: expected N/s, N/min or N/h (N a whole number > 0)");
        let (n, unit) = text.trim().split_once('/').ok_or_else(bad)?;
        let quota: u32 = n.trim().parse().map_err(|_| bad())?;
        let window_secs = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            _ => return Err(bad()),
        };
        if quota == 0 {
            return Err(bad());
        }
        let burst = match burst {
            Some(b) if b <= 0 || b > i64::from(u32::MAX) => {
                return Err(format!("burst {b}: expected a whole number > 0"))
            }
            Some(b) => b as u32,
            None => quota.div_ceil(window_secs).max(1),
        };
        Ok(Rate {
            quota,
            window_secs,
            burst,
        })
    }
}

/// The compiled `rate_limit:` of a route.
#[derive(Debug, Clone, Default)]
pub struct RateLimits {
    pub per_user: Option<Rate>,
    /// One bucket per user type (compared without case), shared by its users.
    pub user_types: Vec<(Arc<str>, Rate)>,
    pub route: Option<Rate>,
    /// The injected token's budget and the digest that keys it.
    pub service_token: Option<(Rate, Arc<str>)>,
}

impl RateLimits {
    /// Whether any bucket is configured.
    pub fn is_empty(&self) -> bool {
        self.per_user.is_none()
            && self.user_types.is_empty()
            && self.route.is_none()
            && self.service_token.is_none()
    }
}

fn rate(
    raw: &Spanned<String>,
    burst: Option<&Spanned<i64>>,
    problems: &mut Problems<'_>,
) -> Option<Rate> {
    let at_burst = burst.map(at);
    match Rate::parse(&raw.value, burst.map(|b| b.value)) {
        Ok(r) => Some(r),
        Err(e) if e.starts_with("burst") => {
            problems.at(at_burst.unwrap_or(at(raw)), e);
            None
        }
        Err(e) => {
            problems.at(at(raw), e);
            None
        }
    }
}

/// Compiles `raw`; `inject` are the route's injected header values (the service
/// token's budget needs one).
pub(crate) fn compile(
    raw: &Spanned<RawRateLimit>,
    inject: &[(http::HeaderName, http::HeaderValue)],
    problems: &mut Problems<'_>,
) -> Option<RateLimits> {
    let before = problems.list.len();
    let r = &raw.value;
    let one =
        |x: &Spanned<RawRate>, p: &mut Problems<'_>| rate(&x.value.rate, x.value.burst.as_ref(), p);
    let per_user = r.per_user.as_ref().and_then(|x| one(x, problems));
    let route = r.route.as_ref().and_then(|x| one(x, problems));
    let mut user_types: Vec<(Arc<str>, Rate)> = Vec::new();
    for t in &r.user_types {
        let name = t.value.user_type.value.trim();
        if name.is_empty() {
            problems.at(at(&t.value.user_type), "user_type is empty");
            continue;
        }
        if user_types.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            problems.at(
                at(&t.value.user_type),
                format!("user_type `{name}` is given twice"),
            );
            continue;
        }
        if let Some(rt) = rate(&t.value.rate, t.value.burst.as_ref(), problems) {
            user_types.push((Arc::from(name), rt));
        }
    }
    let service_token = match &r.service_token {
        Some(s) if inject.is_empty() => {
            problems.at(
                at(s),
                "rate_limit.service_token needs an `inject:` header (the token whose budget it keeps)",
            );
            None
        }
        Some(s) => one(s, problems).map(|rt| (rt, token_key(inject))),
        None => None,
    };
    if problems.list.len() > before {
        return None;
    }
    let limits = RateLimits {
        per_user,
        user_types,
        route,
        service_token,
    };
    if limits.is_empty() {
        problems.at(
            at(raw),
            "rate_limit: give at least one of per_user, user_types, route, service_token",
        );
        return None;
    }
    Some(limits)
}

/// A digest of the injected headers (never the values themselves): routes injecting
/// the same token share its budget.
fn token_key(inject: &[(http::HeaderName, http::HeaderValue)]) -> Arc<str> {
    let mut pairs: Vec<_> = inject.iter().collect();
    pairs.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    let mut h = Sha256::new();
    for (name, value) in pairs {
        h.update((name.as_str().len() as u64).to_be_bytes());
        h.update(name.as_str().as_bytes());
        h.update((value.as_bytes().len() as u64).to_be_bytes());
        h.update(value.as_bytes());
    }
    Arc::from(&hex::encode(h.finalize())[..16])
}

#[cfg(test)]
mod tests {
    use super::Rate;

    #[test]
    fn rates_parse_with_default_bursts() {
        let r = Rate::parse("5000/min", None).unwrap();
        assert_eq!((r.quota, r.window_secs, r.burst), (5000, 60, 84));
        assert_eq!(Rate::parse("10/s", Some(3)).unwrap().burst, 3);
        assert_eq!(Rate::parse("2/h", None).unwrap().burst, 1);
        for bad in ["", "10", "0/s", "x/s", "10/day", "-1/s"] {
            assert!(Rate::parse(bad, None).is_err(), "{bad}");
        }
        assert!(Rate::parse("1/s", Some(0)).is_err());
    }
}
