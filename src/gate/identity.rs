//! The identity a forwarded request carries: `X-Auth-Request-*` headers and the signed
//! assertion, built once per (user, route) and reused while nothing in the directory
//! has changed.
//!
//! An entry is valid only for the directory sequence it was built on: any SCIM change
//! (a rename, a membership, a deactivation) makes every entry stale, and so does a
//! time-bound grant starting or ending (the grants' generation), so identity
//! headers always say what the directory says now. It never stands in for a decision:
//! the policy is asked on every request. Entries are also refreshed well before the
//! assertion inside them expires.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use http::HeaderMap;

use super::Gate;
use crate::policy::DirectorySubject;
use crate::proxy::assertion::AssertionClaims;
use crate::proxy::error::ProxyError;
use crate::proxy::headers::{add_identity, IdentityHeaders};
use crate::record::UserRecord;

/// How long an entry is reused at most (the assertion inside lives 120 s).
const REUSE: Duration = Duration::from_secs(30);
/// Entries kept before the cache is cleared.
const MAX_ENTRIES: usize = 100_000;

struct Entry {
    /// The directory sequence and the grants' generation it was built on.
    seq: (u64, u64),
    user: Arc<UserRecord>,
    built: Instant,
    headers: Arc<HeaderMap>,
}

/// Identity headers by (user ord, route name).
#[derive(Default)]
pub struct IdentityCache {
    map: DashMap<(u32, Arc<str>), Arc<Entry>, foldhash::fast::RandomState>,
}

impl Gate {
    /// The identity headers (user, e-mail, groups, assertion) of `subject` for `route`.
    pub fn identity_headers(
        &self,
        subject: &DirectorySubject,
        route: &Arc<str>,
    ) -> Result<Arc<HeaderMap>, ProxyError> {
        let user = subject.record();
        let seq = (self.dir.seq(), self.dir.grants_generation());
        let key = (user.ord, route.clone());
        if let Some(e) = self.identities.map.get(&key) {
            if e.seq == seq && Arc::ptr_eq(&e.user, user) && e.built.elapsed() < REUSE {
                return Ok(e.headers.clone());
            }
        }
        let groups = subject.group_names();
        let email = user.emails.first().map(|e| e.to_string());
        let assertion = self.signer.sign(
            route,
            &AssertionClaims {
                sub: user.id.to_string(),
                user_name: user.user_name.to_string(),
                email: email.clone(),
                groups: groups.clone(),
                seq: seq.0,
            },
        )?;
        let mut headers = HeaderMap::new();
        add_identity(
            &mut headers,
            &IdentityHeaders {
                user: user.user_name.to_string(),
                email,
                groups,
                assertion: Some(assertion.to_string()),
            },
        );
        let headers = Arc::new(headers);
        if self.identities.map.len() >= MAX_ENTRIES {
            self.identities.map.clear();
        }
        self.identities.map.insert(
            key,
            Arc::new(Entry {
                seq,
                user: user.clone(),
                built: Instant::now(),
                headers: headers.clone(),
            }),
        );
        Ok(headers)
    }
}
