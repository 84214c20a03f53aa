//! What a route asks of the caller's authentication, beyond who they are: step-up
//! rules (`step_up:`, a recent sign-in and/or an authentication context for some
//! methods or paths) and the route's session limits (`session:`, a maximum age and an
//! idle timeout for browser sessions, tighter than the global `sessions:` settings).
//!
//! Compiled here from the route's YAML; judged by the gate against the facts of the
//! caller's sign-in ([`AuthFacts`]): the ID token's or bearer token's `auth_time` and
//! `acr`, and the session's age and idleness.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::{file_line, Problems};
use super::model::RequestFacts;
use super::pattern::PathPattern;
use super::raw::SpannedList;
use super::values;
use super::yaml::at;

/// One `step_up` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStepUp {
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub methods: Option<SpannedList>,
    #[serde(default)]
    pub paths: Option<SpannedList>,
    #[serde(default)]
    pub max_auth_age: Option<Spanned<String>>,
    #[serde(default)]
    pub acr: Option<SpannedList>,
}

/// `session: { max_age, idle_timeout }` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSessionLimits {
    #[serde(default)]
    pub max_age: Option<Spanned<String>>,
    #[serde(default)]
    pub idle_timeout: Option<Spanned<String>>,
}

/// One compiled step-up rule.
#[derive(Debug)]
pub struct StepUpRule {
    /// `step_up[0]` or the rule's own `name`.
    pub name: Arc<str>,
    /// `file:line` of the rule.
    pub location: Arc<str>,
    /// Empty: any method.
    methods: Box<[Method]>,
    /// Empty: the whole route.
    paths: Box<[PathPattern]>,
    /// The sign-in must be at most this old (`auth_time`).
    pub max_auth_age: Option<Duration>,
    /// The sign-in's `acr` must be one of these (empty: any, or none).
    pub acr: Box<[Arc<str>]>,
}

impl StepUpRule {
    fn applies(&self, req: RequestFacts<'_>) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m == req.method))
            && (self.paths.is_empty() || self.paths.iter().any(|p| p.matches(req.path)))
    }

    /// Why `facts` fall short of this rule, if they do.
    fn shortfall(&self, facts: &AuthFacts<'_>) -> Option<String> {
        if let Some(max) = self.max_auth_age {
            match facts.auth_age_seconds() {
                None => return Some("the sign-in's time (auth_time) is not known".to_owned()),
                Some(age) if age > max.as_secs() => {
                    return Some(format!(
                    "the sign-in is {age} seconds old; this request needs one within {} seconds",
                    max.as_secs()
                ))
                }
                Some(_) => {}
            }
        }
        if !self.acr.is_empty()
            && !facts
                .acr
                .is_some_and(|a| self.acr.iter().any(|x| **x == *a))
        {
            return Some(format!(
                "the sign-in's authentication context (acr) is {}; this request needs one of {}",
                facts
                    .acr
                    .map_or("not given".to_owned(), |a| format!("`{a}`")),
                self.acr.join(", ")
            ));
        }
        None
    }
}

/// What is known of how the caller signed in.
#[derive(Debug, Clone, Copy)]
pub struct AuthFacts<'a> {
    /// Now, Unix seconds.
    pub now: i64,
    /// When the user last authenticated at the provider (`auth_time`, Unix seconds).
    pub auth_time: Option<i64>,
    /// The authentication context class the provider reported (`acr`).
    pub acr: Option<&'a str>,
}

impl AuthFacts<'_> {
    /// Seconds since the sign-in (0 for a time in the future).
    pub fn auth_age_seconds(&self) -> Option<u64> {
        self.auth_time
            .map(|t| u64::try_from(self.now.saturating_sub(t)).unwrap_or(0))
    }
}

/// A request the caller's sign-in does not satisfy: what to ask the provider for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpNeeded {
    /// The rule that is not satisfied.
    pub rule: Arc<str>,
    pub location: Arc<str>,
    /// Why, for the caller (no secrets: times and context names).
    pub reason: String,
    /// `max_age` to ask for: the least `max_auth_age` of the rules that apply.
    pub max_age: Option<Duration>,
    /// `acr_values` to ask for: the unsatisfied rule's list.
    pub acr_values: Box<[Arc<str>]>,
}

/// A route's step-up rules and session limits.
#[derive(Debug, Default)]
pub struct AuthRequirements {
    pub rules: Box<[StepUpRule]>,
    /// A browser session older than this must sign in again for this route.
    pub session_max_age: Option<Duration>,
    /// A browser session unused for longer than this must sign in again for this route.
    pub session_idle_timeout: Option<Duration>,
}

impl AuthRequirements {
    /// Whether any step-up rule applies to `req`.
    pub fn applies(&self, req: RequestFacts<'_>) -> bool {
        self.rules.iter().any(|r| r.applies(req))
    }

    /// The first rule that applies to `req` and that `facts` do not satisfy.
    pub fn check(&self, req: RequestFacts<'_>, facts: &AuthFacts<'_>) -> Option<StepUpNeeded> {
        let applying = || self.rules.iter().filter(|r| r.applies(req));
        let (rule, reason) = applying().find_map(|r| Some((r, r.shortfall(facts)?)))?;
        Some(StepUpNeeded {
            rule: rule.name.clone(),
            location: rule.location.clone(),
            reason,
            max_age: applying().filter_map(|r| r.max_auth_age).min(),
            acr_values: rule.acr.clone(),
        })
    }

    /// Lines for `policy explain`: the step-up rules that apply to `req` and the
    /// route's session limits.
    pub fn explain(&self, req: RequestFacts<'_>) -> Vec<String> {
        let mut lines: Vec<String> = self
            .rules
            .iter()
            .filter(|r| r.applies(req))
            .map(|r| {
                let mut asks = Vec::new();
                if let Some(d) = r.max_auth_age {
                    asks.push(format!("a sign-in within {}", seconds(d)));
                }
                if !r.acr.is_empty() {
                    asks.push(format!("acr one of {}", r.acr.join(", ")));
                }
                format!(
                    "step-up:  {} ({}): {}",
                    r.name,
                    r.location,
                    asks.join(" and ")
                )
            })
            .collect();
        let mut limits = Vec::new();
        if let Some(d) = self.session_max_age {
            limits.push(format!("at most {} old", seconds(d)));
        }
        if let Some(d) = self.session_idle_timeout {
            limits.push(format!("idle at most {}", seconds(d)));
        }
        if !limits.is_empty() {
            lines.push(format!("session:  browser sessions {}", limits.join(", ")));
        }
        lines
    }

    /// Why a session `age_ms` old and unused for `idle_ms` is too old or idle for this
    /// route, if it is.
    pub fn session_refusal(&self, age_ms: i64, idle_ms: i64) -> Option<String> {
        let over = |limit: Option<Duration>, ms: i64| {
            limit.filter(|l| i128::from(ms) > i128::try_from(l.as_millis()).unwrap_or(i128::MAX))
        };
        if let Some(l) = over(self.session_max_age, age_ms) {
            return Some(format!(
                "the session is older than this route's {} seconds",
                l.as_secs()
            ));
        }
        over(self.session_idle_timeout, idle_ms).map(|l| {
            format!(
                "the session was idle for longer than this route's {} seconds",
                l.as_secs()
            )
        })
    }
}

fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

/// Compiles a route's `step_up` and `session`; problems go to `problems`.
pub(crate) fn compile(
    step_up: &[Spanned<RawStepUp>],
    session: Option<&Spanned<RawSessionLimits>>,
    problems: &mut Problems<'_>,
) -> AuthRequirements {
    let mut rules = Vec::new();
    for (i, raw) in step_up.iter().enumerate() {
        if let Some(rule) = compile_rule(raw, i, problems) {
            if rules.iter().any(|r: &StepUpRule| r.name == rule.name) {
                problems.at(
                    at(raw),
                    format!("step_up rule name `{}` is used twice", rule.name),
                );
                continue;
            }
            rules.push(rule);
        }
    }
    let duration = |d: &Option<Spanned<String>>, problems: &mut Problems<'_>| {
        d.as_ref()
            .and_then(|d| problems.check(at(d), values::duration(&d.value)))
    };
    let (mut max_age, mut idle) = (None, None);
    if let Some(s) = session {
        if s.value.max_age.is_none() && s.value.idle_timeout.is_none() {
            problems.at(
                at(s),
                "`session` limits nothing: give max_age and/or idle_timeout",
            );
        }
        max_age = duration(&s.value.max_age, problems);
        idle = duration(&s.value.idle_timeout, problems);
    }
    AuthRequirements {
        rules: rules.into(),
        session_max_age: max_age,
        session_idle_timeout: idle,
    }
}

fn compile_rule(
    raw: &Spanned<RawStepUp>,
    index: usize,
    problems: &mut Problems<'_>,
) -> Option<StepUpRule> {
    let before = problems.list.len();
    let r = &raw.value;
    let name: Arc<str> = match &r.name {
        Some(n) => {
            problems.check(at(n), values::name("step_up rule name", &n.value));
            Arc::from(n.value.as_str())
        }
        None => Arc::from(format!("step_up[{index}]")),
    };
    if r.max_auth_age.is_none() && r.acr.is_none() {
        problems.at(
            at(raw),
            "a step_up rule must ask for something: max_auth_age and/or acr",
        );
    }
    let max_auth_age = r
        .max_auth_age
        .as_ref()
        .and_then(|d| problems.check(at(d), values::duration(&d.value)));
    let mut acr = Vec::new();
    if let Some(list) = &r.acr {
        if list.value.is_empty() {
            problems.at(
                at(list),
                "`acr: []` accepts nothing; list at least one value",
            );
        }
        for v in &list.value {
            if let Some(ok) = problems.check(at(v), acr_value(&v.value)) {
                acr.push(ok);
            }
        }
    }
    let mut methods = Vec::new();
    for m in r.methods.iter().flat_map(|l| l.value.iter()) {
        methods.extend(problems.check(at(m), values::method(&m.value)));
    }
    let mut paths = Vec::new();
    for p in r.paths.iter().flat_map(|l| l.value.iter()) {
        paths.extend(problems.check(at(p), PathPattern::parse(&p.value, false)));
    }
    for (list, key) in [(&r.methods, "methods"), (&r.paths, "paths")] {
        if let Some(l) = list.as_ref().filter(|l| l.value.is_empty()) {
            problems.at(
                at(l),
                format!("`{key}: []` is empty and would match nothing; list at least one or remove the key"),
            );
        }
    }
    if problems.list.len() > before {
        return None;
    }
    Some(StepUpRule {
        location: Arc::from(file_line(problems.file, at(raw))),
        name,
        methods: methods.into(),
        paths: paths.into(),
        max_auth_age,
        acr: acr.into(),
    })
}

/// An `acr` value: printable ASCII without spaces, quotes or backslashes (it is sent
/// space-separated in `acr_values` and quoted in `WWW-Authenticate`).
fn acr_value(text: &str) -> Result<Arc<str>, String> {
    let ok = !text.is_empty()
        && text.len() <= 256
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
    if ok {
        Ok(Arc::from(text))
    } else {
        Err(format!(
            "acr value `{}` must be printable ASCII without spaces, quotes or backslashes",
            text.escape_debug()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The compiled set of one route `api` with `step_up` (its YAML lines).
    fn requirements(step_up: &str) -> crate::policy::PolicySet {
        let yaml = format!(
            "routes:\n  - name: api\n    upstream: http://127.0.0.1:1\n    allow:\n      - {{ everyone: true }}\n{step_up}"
        );
        crate::policy::tests::set(&yaml)
    }

    fn facts(auth_time: Option<i64>, acr: Option<&str>) -> AuthFacts<'_> {
        AuthFacts {
            now: 10_000,
            auth_time,
            acr,
        }
    }

    #[test]
    fn every_matching_rule_applies_and_the_least_age_is_asked() {
        let set = requirements(
            "    step_up:\n      - { name: writes, methods: [POST], max_auth_age: 15m }\n      - { name: keys, paths: [/keys/**], max_auth_age: 1m, acr: [mfa] }\n",
        );
        let r = &set.routes()[0].auth;
        let post = Method::POST;
        let get = Method::GET;
        let req = |method, path| RequestFacts { method, path };
        assert!(!r.applies(req(&get, "/jobs")));
        assert!(r.check(req(&get, "/jobs"), &facts(None, None)).is_none());
        // 10 minutes old: enough for writes, not for keys.
        let ten_min = facts(Some(10_000 - 600), Some("mfa"));
        assert!(r.check(req(&post, "/jobs"), &ten_min).is_none());
        let needed = r.check(req(&post, "/keys/a"), &ten_min).unwrap();
        assert_eq!(&*needed.rule, "keys");
        assert_eq!(needed.max_age, Some(Duration::from_secs(60)));
        assert_eq!(&*needed.location, "policies/t.yaml:8");
        // Fresh but another acr: the keys rule names its list.
        let needed = r
            .check(req(&get, "/keys/a"), &facts(Some(10_000), Some("pwd")))
            .unwrap();
        assert_eq!(needed.acr_values.len(), 1);
        assert!(needed.reason.contains("`pwd`"), "{}", needed.reason);
        // The least max_auth_age of the matching rules is asked, even from the first.
        let needed = r
            .check(req(&post, "/keys/a"), &facts(None, Some("mfa")))
            .unwrap();
        assert_eq!(&*needed.rule, "writes");
        assert_eq!(needed.max_age, Some(Duration::from_secs(60)));
    }

    #[test]
    fn session_limits_name_what_was_exceeded() {
        let set = requirements("    session: { max_age: 1h, idle_timeout: 15m }\n");
        let r = &set.routes()[0].auth;
        assert_eq!(r.session_refusal(3_600_000, 900_000), None);
        assert!(r
            .session_refusal(3_600_001, 0)
            .unwrap()
            .contains("older than this route's 3600 seconds"));
        assert!(r
            .session_refusal(0, 900_001)
            .unwrap()
            .contains("idle for longer than this route's 900 seconds"));
        let none = requirements("");
        assert_eq!(
            none.routes()[0].auth.session_refusal(i64::MAX, i64::MAX),
            None
        );
    }

    #[test]
    fn refuses_rules_that_ask_nothing_or_cannot_be_sent() {
        let got = crate::policy::tests::refused(
            "routes:\n  - name: api\n    upstream: http://127.0.0.1:1\n    step_up:\n      - { name: a, methods: [], max_auth_age: 1m }\n      - { name: b, acr: [x] }\n      - { name: b, acr: [y] }\n      - { acr: [] }\n    session: {}\n",
        );
        assert!(got.contains("t.yaml:5:29: `methods: []` is empty"), "{got}");
        assert!(
            got.contains("t.yaml:7:9: step_up rule name `b` is used twice"),
            "{got}"
        );
        assert!(
            got.contains("t.yaml:8:16: `acr: []` accepts nothing"),
            "{got}"
        );
        assert!(
            got.contains("t.yaml:9:14: `session` limits nothing"),
            "{got}"
        );
    }
}
