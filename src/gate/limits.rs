//! The token buckets behind routes' `rate_limit:` (see `policy::rate_limit`), and the
//! `RateLimit` / `RateLimit-Policy` headers of the IETF draft
//! (draft-ietf-httpapi-ratelimit-headers) that report them.
//!
//! A request an allow rule let through takes one token from each bucket that applies
//! to it, in order: its user's, its user type's, the route's, then the injected service
//! token's. When one is empty the tokens already taken are put back and the request is
//! refused (429) naming that bucket and when a token will be there again.
//!
//! Memory is bounded: per-user buckets sit in sharded maps of at most
//! `max_callers` entries overall. A bucket that has refilled is the same as no bucket,
//! so when a shard is full its full buckets are dropped first; if none is full, the
//! one idle longest goes (that caller starts again with a full bucket). Buckets are
//! keyed by a hash of (route, user, limit): a policy reload that changes a limit starts
//! its buckets afresh.
//!
//! On replicas sharing a PostgreSQL store, `rate_limits.replicas: N` makes each replica
//! keep `1/N` of every limit (rate divided by N, burst divided by N rounded down, at
//! least 1), so the cluster never admits more than the limit; it admits less when a
//! caller's requests do not spread evenly over the replicas (all on one replica: `1/N`).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::io::Write as _;
use std::time::Instant;

use http::HeaderValue;
use parking_lot::Mutex;
use smallvec::SmallVec;

use crate::policy::rate_limit::{Rate, RateLimits};

/// Shards of the per-user map (a power of two).
const SHARDS: usize = 64;
/// Default bound on per-user buckets kept at once.
pub const DEFAULT_MAX_CALLERS: usize = 100_000;

/// Which bucket a verdict is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    User,
    UserType,
    Route,
    ServiceToken,
}

impl Scope {
    /// The metric label, audit field and header policy name.
    pub fn label(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::UserType => "user_type",
            Scope::Route => "route",
            Scope::ServiceToken => "service_token",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// Seconds since the limiter's epoch of the last refill.
    last: f64,
}

impl Bucket {
    fn refill(&mut self, now: f64, rate: &Effective) {
        let gained = (now - self.last).max(0.0) * rate.per_second;
        self.tokens = (self.tokens + gained).min(rate.capacity);
        self.last = now;
    }

    fn is_full(&self, now: f64, rate: f64, capacity: f64) -> bool {
        self.tokens + (now - self.last).max(0.0) * rate >= capacity
    }
}

/// A limit as this replica keeps it (its share of the cluster's).
#[derive(Debug, Clone, Copy)]
struct Effective {
    per_second: f64,
    capacity: f64,
}

/// How one bucket stood after a request took (or failed to take) its token.
#[derive(Debug, Clone, Copy)]
pub struct Standing {
    pub scope: Scope,
    pub rate: Rate,
    /// Whole tokens left.
    pub remaining: u32,
    /// Seconds until a token is there again (refused), or until the bucket is full
    /// again (admitted): the draft's `t`.
    pub wait_secs: f64,
}

/// Every policy of a route that applies to one caller (for `RateLimit-Policy`): at
/// most one per scope, so never on the heap.
pub type Policies = SmallVec<[(Scope, Rate); 4]>;

/// A request over a limit.
#[derive(Debug, Clone)]
pub struct Refused {
    pub standing: Standing,
    /// Every policy of the route that applies to this caller (for `RateLimit-Policy`).
    pub policies: Policies,
}

impl Refused {
    /// Whole seconds to wait (`Retry-After`), at least 1.
    pub fn retry_after(&self) -> u64 {
        (self.standing.wait_secs.ceil() as u64).max(1)
    }
}

/// What an admitted request reports: the bucket nearest to empty.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// `None` when no bucket applies to this caller.
    pub tightest: Option<Standing>,
    pub policies: Policies,
}

/// The buckets of every route.
pub struct Limiter {
    users: Box<[Mutex<HashMap<u64, Bucket>>]>,
    shared: Mutex<HashMap<u64, Bucket>>,
    hasher: RandomState,
    per_shard: usize,
    share: u32,
    epoch: Instant,
    /// `RateLimit-Policy` values already written, by the policies they say (see
    /// [`Limiter::policy_header`]).
    policy_values: Mutex<Vec<(Policies, HeaderValue)>>,
}

/// How many distinct `RateLimit-Policy` values are kept written; past that they are
/// written per response.
const POLICY_VALUES_KEPT: usize = 256;

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("share", &self.share)
            .field("tracked", &self.tracked())
            .finish()
    }
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new(DEFAULT_MAX_CALLERS, 1)
    }
}

impl Limiter {
    /// A limiter keeping at most about `max_callers` per-user buckets, each limit
    /// divided among `replicas` replicas.
    pub fn new(max_callers: usize, replicas: u32) -> Self {
        Limiter {
            users: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            shared: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
            per_shard: max_callers.div_ceil(SHARDS).max(1),
            share: replicas.max(1),
            epoch: Instant::now(),
            policy_values: Mutex::new(Vec::new()),
        }
    }

    /// Per-user buckets held now.
    pub fn tracked(&self) -> usize {
        self.users.iter().map(|s| s.lock().len()).sum()
    }

    fn effective(&self, rate: &Rate) -> Effective {
        let share = f64::from(self.share);
        Effective {
            per_second: rate.per_second() / share,
            capacity: f64::from((rate.burst / self.share).max(1)),
        }
    }

    fn key(&self, scope: Scope, route: &str, who: &str, rate: &Rate) -> u64 {
        self.hasher.hash_one((scope as u8, route, who, rate))
    }

    /// [`Limiter::key`] of a user type, which is compared without case: hashed as
    /// its lower-case spelling, without making a copy of it.
    fn type_key(&self, route: &str, user_type: &str, rate: &Rate) -> u64 {
        self.hasher
            .hash_one((Scope::UserType as u8, route, Caseless(user_type), rate))
    }

    /// Takes one token from each bucket of `limits` that applies to this caller; on
    /// the first empty one, puts back what was taken and refuses.
    pub fn admit(
        &self,
        route: &str,
        limits: &RateLimits,
        user_id: &str,
        user_type: Option<&str>,
    ) -> Result<Admitted, Refused> {
        let now = self.epoch.elapsed().as_secs_f64();
        let type_rate = user_type.and_then(|t| {
            limits
                .user_types
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(t))
        });
        // At most one bucket per scope: all of this stays on the stack.
        let mut wanted: SmallVec<[(Scope, Rate, u64, bool); 4]> = SmallVec::new();
        if let Some(r) = limits.per_user {
            wanted.push((
                Scope::User,
                r,
                self.key(Scope::User, route, user_id, &r),
                true,
            ));
        }
        if let Some((t, r)) = type_rate {
            wanted.push((Scope::UserType, *r, self.type_key(route, t, r), false));
        }
        if let Some(r) = limits.route {
            wanted.push((
                Scope::Route,
                r,
                self.key(Scope::Route, route, "", &r),
                false,
            ));
        }
        if let Some((r, token)) = &limits.service_token {
            // Keyed by the token, not the route: routes sharing it share its budget.
            wanted.push((
                Scope::ServiceToken,
                *r,
                self.key(Scope::ServiceToken, "", token, r),
                false,
            ));
        }
        let policies: Policies = wanted.iter().map(|(s, r, _, _)| (*s, *r)).collect();
        let mut taken: SmallVec<[(u64, bool, Effective); 4]> = SmallVec::new();
        let mut tightest: Option<Standing> = None;
        for (scope, rate, key, per_user) in wanted {
            let eff = self.effective(&rate);
            let outcome = if per_user {
                let shard = &self.users[(key as usize) & (SHARDS - 1)];
                let mut map = shard.lock();
                if !map.contains_key(&key) && map.len() >= self.per_shard {
                    self.evict(&mut map, now, &eff);
                }
                take(map.entry(key).or_insert(fresh(now, &eff)), now, &eff)
            } else {
                let mut map = self.shared.lock();
                take(map.entry(key).or_insert(fresh(now, &eff)), now, &eff)
            };
            match outcome {
                Ok(left) => {
                    taken.push((key, per_user, eff));
                    let standing = Standing {
                        scope,
                        rate,
                        remaining: left.floor() as u32,
                        wait_secs: (eff.capacity - left).max(0.0) / eff.per_second,
                    };
                    if tightest.is_none_or(|t| standing.remaining < t.remaining) {
                        tightest = Some(standing);
                    }
                }
                Err(wait_secs) => {
                    for (key, per_user, eff) in taken {
                        self.give_back(key, per_user, &eff);
                    }
                    return Err(Refused {
                        standing: Standing {
                            scope,
                            rate,
                            remaining: 0,
                            wait_secs,
                        },
                        policies,
                    });
                }
            }
        }
        // No bucket may apply (only user-type limits, none for this type).
        Ok(Admitted { tightest, policies })
    }

    fn give_back(&self, key: u64, per_user: bool, eff: &Effective) {
        let give = |map: &mut HashMap<u64, Bucket>| {
            if let Some(b) = map.get_mut(&key) {
                b.tokens = (b.tokens + 1.0).min(eff.capacity);
            }
        };
        if per_user {
            give(&mut self.users[(key as usize) & (SHARDS - 1)].lock());
        } else {
            give(&mut self.shared.lock());
        }
    }

    /// Makes room in a full shard: drops the buckets that have refilled (as good as
    /// absent); if none has, the one idle longest.
    fn evict(&self, map: &mut HashMap<u64, Bucket>, now: f64, eff: &Effective) {
        map.retain(|_, b| !b.is_full(now, eff.per_second, eff.capacity));
        if map.len() >= self.per_shard {
            let oldest = map
                .iter()
                .min_by(|a, b| a.1.last.total_cmp(&b.1.last))
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
    }
}

fn fresh(now: f64, eff: &Effective) -> Bucket {
    Bucket {
        tokens: eff.capacity,
        last: now,
    }
}

/// Takes a token: the tokens left, or the seconds until one is there.
fn take(b: &mut Bucket, now: f64, eff: &Effective) -> Result<f64, f64> {
    b.refill(now, eff);
    if b.tokens >= 1.0 {
        b.tokens -= 1.0;
        Ok(b.tokens)
    } else {
        Err((1.0 - b.tokens) / eff.per_second)
    }
}

/// The draft's header names.
pub const RATELIMIT_POLICY: http::HeaderName = http::HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: http::HeaderName = http::HeaderName::from_static("ratelimit");

/// `RateLimit-Policy` (every policy that applies) and `RateLimit` (the one reported).
pub fn headers(
    policies: &[(Scope, Rate)],
    standing: &Standing,
) -> Option<(HeaderValue, HeaderValue)> {
    if policies.is_empty() {
        return None;
    }
    Some((policy_value(policies)?, state_value(standing)?))
}

impl Limiter {
    /// [`headers`] for an admitted request: the `RateLimit-Policy` value is written
    /// once per distinct list of policies and shared after that (a route's policies
    /// are the same on every request of a caller), the `RateLimit` value on the stack.
    pub fn admitted_headers(
        &self,
        policies: &[(Scope, Rate)],
        standing: &Standing,
    ) -> Option<(HeaderValue, HeaderValue)> {
        if policies.is_empty() {
            return None;
        }
        Some((self.policy_header(policies)?, state_value(standing)?))
    }

    /// The `RateLimit-Policy` value of `policies`, written once and kept (up to
    /// [`POLICY_VALUES_KEPT`] distinct lists; a policy reload brings new ones).
    fn policy_header(&self, policies: &[(Scope, Rate)]) -> Option<HeaderValue> {
        let mut kept = self.policy_values.lock();
        if let Some((_, value)) = kept.iter().find(|(p, _)| p.as_slice() == policies) {
            return Some(value.clone());
        }
        let value = policy_value(policies)?;
        if kept.len() >= POLICY_VALUES_KEPT {
            kept.remove(0);
        }
        kept.push((policies.iter().copied().collect(), value.clone()));
        Some(value)
    }
}

/// A `RateLimit-Policy` value: `"user";q=10;w=1, "route";q=200;w=1`.
fn policy_value(policies: &[(Scope, Rate)]) -> Option<HeaderValue> {
    let mut text = StackText::default();
    for (i, (scope, rate)) in policies.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        text.write(format_args!(
            "{sep}\"{}\";q={};w={}",
            scope.label(),
            rate.quota,
            rate.window_secs
        ));
    }
    text.value()
}

/// A `RateLimit` value: `"user";r=9;t=1` (on every admitted response: written
/// without the formatting machinery).
fn state_value(standing: &Standing) -> Option<HeaderValue> {
    let mut text = StackText::default();
    text.push(b"\"");
    text.push(standing.scope.label().as_bytes());
    text.push(b"\";r=");
    text.push_number(u64::from(standing.remaining));
    text.push(b";t=");
    text.push_number(standing.wait_secs.ceil() as u64);
    text.value()
}

/// Header text written into a buffer on the stack (a list of four policies fits),
/// on the heap only if it does not.
struct StackText {
    buf: [u8; 256],
    len: usize,
    spilled: Option<Vec<u8>>,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            buf: [0; 256],
            len: 0,
            spilled: None,
        }
    }
}

impl StackText {
    fn write(&mut self, args: std::fmt::Arguments<'_>) {
        if let Some(spilled) = &mut self.spilled {
            // Writing into a `Vec` cannot fail.
            let _ = spilled.write_fmt(args);
            return;
        }
        let mut rest = &mut self.buf[self.len..];
        let room = rest.len();
        if rest.write_fmt(args).is_ok() {
            self.len += room - rest.len();
        } else {
            let mut spilled = self.buf[..self.len].to_vec();
            let _ = spilled.write_fmt(args);
            self.spilled = Some(spilled);
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        match &mut self.spilled {
            Some(spilled) => spilled.extend_from_slice(bytes),
            None if self.len + bytes.len() <= self.buf.len() => {
                self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => {
                let mut spilled = self.buf[..self.len].to_vec();
                spilled.extend_from_slice(bytes);
                self.spilled = Some(spilled);
            }
        }
    }

    /// `n` in decimal.
    fn push_number(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[at..]);
    }

    fn value(&self) -> Option<HeaderValue> {
        let bytes = match &self.spilled {
            Some(spilled) => spilled.as_slice(),
            None => &self.buf[..self.len],
        };
        HeaderValue::from_bytes(bytes).ok()
    }
}

/// A user type hashed as its lower-case spelling (like `str`'s `Hash`: the bytes,
/// then `0xff`), in pieces from a stack buffer.
struct Caseless<'a>(&'a str);

impl Hash for Caseless<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut buf = [0u8; 64];
        for chunk in self.0.as_bytes().chunks(buf.len()) {
            let lower = &mut buf[..chunk.len()];
            lower.copy_from_slice(chunk);
            lower.make_ascii_lowercase();
            state.write(lower);
        }
        state.write_u8(0xff);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn limits(per_user: &str, burst: i64) -> RateLimits {
        RateLimits {
            per_user: Some(Rate::parse(per_user, Some(burst)).unwrap()),
            ..RateLimits::default()
        }
    }

    #[test]
    fn a_burst_passes_then_the_user_is_refused_and_others_are_not() {
        let l = Limiter::new(100, 1);
        let lim = limits("3/h", 3);
        for _ in 0..3 {
            assert!(l.admit("r", &lim, "alice", None).is_ok());
        }
        let refused = l.admit("r", &lim, "alice", None).unwrap_err();
        assert_eq!(refused.standing.scope, Scope::User);
        assert!(refused.retry_after() > 1000, "{}", refused.retry_after());
        assert!(l.admit("r", &lim, "bob", None).is_ok());
    }

    #[test]
    fn a_refusal_gives_back_the_tokens_taken_before_it() {
        let l = Limiter::new(100, 1);
        let mut lim = limits("10/h", 10);
        lim.route = Some(Rate::parse("2/h", Some(2)).unwrap());
        assert!(l.admit("r", &lim, "a", None).is_ok());
        assert!(l.admit("r", &lim, "a", None).is_ok());
        let refused = l.admit("r", &lim, "a", None).unwrap_err();
        assert_eq!(refused.standing.scope, Scope::Route);
        // The user's bucket was not charged for the refused request: 8 of 10 left.
        let only_user = limits("10/h", 10);
        let ok = l.admit("r", &only_user, "a", None).unwrap();
        assert_eq!(ok.tightest.unwrap().remaining, 7);
    }

    #[test]
    fn replicas_share_the_burst() {
        let l = Limiter::new(100, 2);
        let lim = limits("10/h", 10);
        let admitted = (0..10)
            .filter(|_| l.admit("r", &lim, "a", None).is_ok())
            .count();
        assert_eq!(admitted, 5);
    }

    #[test]
    fn the_per_user_map_stays_bounded() {
        let l = Limiter::new(SHARDS * 2, 1);
        let lim = limits("1/h", 1);
        for i in 0..10_000 {
            let _ = l.admit("r", &lim, &format!("user{i}"), None);
        }
        assert!(l.tracked() <= SHARDS * 2, "{}", l.tracked());
    }

    #[test]
    fn headers_follow_the_draft_shape() {
        let p = vec![(Scope::User, Rate::parse("10/s", Some(20)).unwrap())];
        let s = Standing {
            scope: Scope::User,
            rate: p[0].1,
            remaining: 0,
            wait_secs: 0.2,
        };
        let (policy, limit) = headers(&p, &s).unwrap();
        assert_eq!(policy, "\"user\";q=10;w=1");
        assert_eq!(limit, "\"user\";r=0;t=1");
    }

    #[test]
    fn admitted_headers_list_every_policy_and_are_the_same_when_kept() {
        let l = Limiter::new(100, 1);
        let mut lim = limits("10/s", 20);
        lim.user_types = vec![(Arc::from("Agent"), Rate::parse("60/min", None).unwrap())];
        lim.route = Some(Rate::parse("200/s", None).unwrap());
        let admitted = l.admit("r", &lim, "a", Some("agent")).unwrap();
        let tightest = admitted.tightest.unwrap();
        let expected = "\"user\";q=10;w=1, \"user_type\";q=60;w=60, \"route\";q=200;w=1";
        for _ in 0..2 {
            let (policy, state) = l.admitted_headers(&admitted.policies, &tightest).unwrap();
            assert_eq!(policy, expected);
            assert_eq!(
                (policy, state),
                headers(&admitted.policies, &tightest).unwrap()
            );
        }
        // Another list of policies gets its own value.
        let only_user = l.admit("r", &limits("5/h", 5), "a", None).unwrap();
        let standing = only_user.tightest.unwrap();
        let (policy, _) = l.admitted_headers(&only_user.policies, &standing).unwrap();
        assert_eq!(policy, "\"user\";q=5;w=3600");
        assert!(l.admitted_headers(&[], &standing).is_none());
    }

    #[test]
    fn states_are_written_in_decimal() {
        for (remaining, wait_secs, expected) in [
            (0, 0.0, "\"route\";r=0;t=0"),
            (9, 0.2, "\"route\";r=9;t=1"),
            (u32::MAX, 86_400.5, "\"route\";r=4294967295;t=86401"),
        ] {
            let standing = Standing {
                scope: Scope::Route,
                rate: Rate::parse("10/s", None).unwrap(),
                remaining,
                wait_secs,
            };
            assert_eq!(state_value(&standing).unwrap(), expected);
        }
        let mut text = StackText::default();
        text.push(&[b'a'; 250]);
        text.push_number(1_234_567_890);
        assert_eq!(
            text.value().unwrap(),
            format!("{}1234567890", "a".repeat(250)).as_str()
        );
    }

    #[test]
    fn a_long_value_spills_to_the_heap_whole() {
        let mut text = StackText::default();
        let long = "x".repeat(300);
        text.write(format_args!("a={}", 1));
        text.write(format_args!(", {long}"));
        text.write(format_args!(", b"));
        assert_eq!(text.value().unwrap(), format!("a=1, {long}, b").as_str());
    }

    #[test]
    fn user_types_share_a_bucket_in_any_case() {
        let l = Limiter::new(100, 1);
        let lim = RateLimits {
            user_types: vec![(Arc::from("Agent"), Rate::parse("2/h", Some(2)).unwrap())],
            ..RateLimits::default()
        };
        assert!(l.admit("r", &lim, "a", Some("agent")).is_ok());
        assert!(l.admit("r", &lim, "b", Some("AGENT")).is_ok());
        let refused = l.admit("r", &lim, "c", Some("Agent")).unwrap_err();
        assert_eq!(refused.standing.scope, Scope::UserType);
        // A type no limit names is not limited.
        assert!(l
            .admit("r", &lim, "d", Some("person"))
            .unwrap()
            .tightest
            .is_none());
        let long = "T".repeat(100);
        let lim = RateLimits {
            user_types: vec![(
                Arc::from(long.as_str()),
                Rate::parse("1/h", Some(1)).unwrap(),
            )],
            ..RateLimits::default()
        };
        assert!(l.admit("r", &lim, "a", Some(&long.to_lowercase())).is_ok());
        assert!(l.admit("r", &lim, "b", Some(&long)).is_err());
    }
}
