//! Unit tests for filter parsing, evaluation and equality recognition.

use serde_json::{json, Value};

use super::super::schema::{ResourceKind, ENTERPRISE_USER_SCHEMA};
use super::super::scim_type::ScimType;
use super::*;

const DEPTH: usize = 8;

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_SCHEMA],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Ext-1",
        "userName": "Bjensen@Example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "title": "",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "groups": [{"value": "g1", "display": "Engineering"}],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "location": "https://example.com/v2/Users/2819c223"
        },
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "manager": {"value": "m-1"}}
    })
}

fn m(filter: &str) -> bool {
    match parse_filter(filter, DEPTH) {
        Ok(f) => f.matches(ResourceKind::User, &user()),
        Err(e) => panic!("{filter}: {e}"),
    }
}

fn err(filter: &str) -> FilterError {
    match parse_filter(filter, DEPTH) {
        Ok(f) => panic!("{filter} parsed as {f:?}"),
        Err(e) => e,
    }
}

#[test]
fn every_operator() {
    let yes = [
        r#"userName eq "bjensen@example.com""#,
        r#"userName ne "other""#,
        r#"userName co "JENSEN""#,
        r#"userName sw "bjen""#,
        r#"userName ew ".COM""#,
        r#"userName gt "a""#,
        r#"userName ge "bjensen@example.com""#,
        r#"userName lt "c""#,
        r#"userName le "bjensen@example.com""#,
        "userName pr",
        "name.familyName pr",
        "emails pr",
        "active eq true",
        "active ne false",
        r#"meta.lastModified gt "2011-05-13T04:42:33Z""#,
        r#"meta.lastModified ge "2011-05-13T06:42:34+02:00""#,
        r#"meta.lastModified lt "2012-01-01T00:00:00.000Z""#,
        r#"meta.created le "2010-01-23T04:56:22Z""#,
        "title eq null",
        "displayName ne null",
    ];
    for f in yes {
        assert!(m(f), "{f} should match");
    }
    let no = [
        r#"userName eq "bjensen""#,
        r#"userName ne "BJENSEN@example.com""#,
        r#"userName co "xyz""#,
        r#"userName sw "jensen""#,
        r#"userName ew "org""#,
        r#"userName gt "c""#,
        r#"userName lt "a""#,
        "title pr",
        "nickName pr",
        "active eq false",
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified lt "not a date""#,
        r#"userName eq 5"#,
        "displayName eq null",
    ];
    for f in no {
        assert!(!m(f), "{f} should not match");
    }
}

#[test]
fn keywords_are_case_insensitive() {
    assert!(m(r#"USERNAME EQ "bjensen@example.com" AND Active Eq TRUE"#));
    assert!(m(r#"not (userName Eq "x") OR title PR"#));
}

#[test]
fn case_exact_attributes() {
    assert!(m(r#"id eq "2819c223-7f76-453a-919d-413861904646""#));
    assert!(!m(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
    assert!(m(r#"externalId eq "Ext-1""#));
    assert!(!m(r#"externalId eq "ext-1""#));
    assert!(!m(r#"externalId sw "ext""#));
}

#[test]
fn precedence_and_binds_tighter() {
    // a or (b and c): true because a is true.
    assert!(m(r#"userName pr or title pr and nickName pr"#));
    // (a or b) and c would be false.
    assert!(!m(r#"(userName pr or title pr) and nickName pr"#));
    assert!(matches!(
        parse_filter("a pr or b pr and c pr", DEPTH),
        Ok(Filter::Or(terms)) if matches!(terms[1], Filter::And(_))
    ));
    assert!(m(r#"title pr and nickName pr or userName pr"#));
}

#[test]
fn not_and_grouping() {
    assert!(m(r#"not (userName eq "x")"#));
    assert!(!m(r#"not (userName pr)"#));
    assert!(m(r#"not(not(userName pr))"#));
    assert!(m(r#"((userName pr) and (active eq true))"#));
    assert!(!m(r#"not ((userName pr) and (active eq true))"#));
}

#[test]
fn multi_valued_and_value_paths() {
    assert!(m(r#"emails eq "babs@jensen.org""#));
    assert!(m(r#"emails.value eq "BABS@jensen.org""#));
    assert!(m(r#"emails.type eq "home""#));
    assert!(m(r#"emails co "example.com""#));
    assert!(m(r#"emails[type eq "work" and value co "@example.com"]"#));
    assert!(!m(r#"emails[type eq "home" and value co "@example.com"]"#));
    assert!(m(r#"emails[type eq "work"] and userName pr"#));
    assert!(m(r#"emails[not (type eq "work")]"#));
    assert!(m(
        r#"emails[primary eq true].value eq "bjensen@example.com""#
    ));
    assert!(m(
        r#"emails[type eq "work"].value eq "bjensen@example.com""#
    ));
    assert!(!m(
        r#"emails[type eq "home"].value eq "bjensen@example.com""#
    ));
    assert!(m(r#"emails[type eq "home"].value pr"#));
    assert!(m(r#"groups.value eq "g1""#));
    assert!(m(r#"groups[display sw "eng"]"#));
    assert!(!m(r#"emails[nope eq "x"]"#));
    assert!(!m(r#"name[givenName eq "Barbara"].familyName eq "Jensen""#) || m("name pr"));
}

#[test]
fn urn_qualified_paths() {
    assert!(m(&format!(
        r#"{ENTERPRISE_USER_SCHEMA}:employeeNumber eq "701984""#
    )));
    assert!(m(&format!(
        r#"{ENTERPRISE_USER_SCHEMA}:manager.value eq "m-1""#
    )));
    assert!(m(&format!(r#"{ENTERPRISE_USER_SCHEMA}:manager eq "M-1""#)));
    assert!(m(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b""#
    ));
    assert!(!m(
        r#"urn:ietf:params:scim:schemas:core:2.0:Group:displayName pr"#
    ));
    assert!(!m(r#"urn:example:unknown:2.0:User:userName pr"#));
}

#[test]
fn schemas_can_be_filtered() {
    assert!(m(&format!(
        r#"schemas eq "{}""#,
        ENTERPRISE_USER_SCHEMA.to_lowercase()
    )));
    assert!(!m(
        r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:Group""#
    ));
}

#[test]
fn large_inputs_stay_fast() {
    let start = std::time::Instant::now();
    let chain = vec!["a pr"; MAX_FILTER_LEN / 10].join(" or ");
    assert!(chain.len() <= MAX_FILTER_LEN);
    assert!(parse_filter(&chain, 4).is_ok());
    let long_string = format!(r#"userName eq "{}""#, "x".repeat(MAX_FILTER_LEN - 20));
    assert!(parse_filter(&long_string, 4).is_ok());
    let nots = "not (".repeat(MAX_FILTER_LEN / 5);
    assert!(parse_filter(&nots, usize::MAX).is_err());
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn unknown_attributes_never_match() {
    assert!(!m(r#"favouriteColour eq "blue""#));
    assert!(!m(r#"favouriteColour ne "blue""#));
    assert!(!m("favouriteColour pr"));
    assert!(m("not (favouriteColour pr)"));
    assert!(!m(r#"name.nope eq "x""#));
}

#[test]
fn literals() {
    let f = parse_filter(r#"displayName eq "Babs \"B\" \u00e9\n""#, DEPTH);
    assert!(matches!(
        f,
        Ok(Filter::Attr { test: AttrTest::Compare(CompareOp::Eq, CompValue::String(ref s)), .. })
            if s == "Babs \"B\" é\n"
    ));
    for lit in ["1", "-1", "1.5", "1e3", "-0.5E-2"] {
        assert!(parse_filter(&format!("x eq {lit}"), DEPTH).is_ok(), "{lit}");
    }
    let group = json!({"id": "g", "displayName": "Straße"});
    let f = parse_filter(r#"displayName eq "STRASSE""#, DEPTH);
    assert!(f.is_ok_and(|f| !f.matches(ResourceKind::Group, &group)));
    let f = parse_filter(r#"displayName eq "straße""#, DEPTH);
    assert!(f.is_ok_and(|f| f.matches(ResourceKind::Group, &group)));
}

#[test]
fn ordering_on_booleans_and_complex_is_rejected_at_parse_time() {
    for f in [
        "active gt true",
        "active gt 1",
        "userName lt null",
        "name gt \"x\"",
        r#"emails[primary ge "x"]"#,
        "x509Certificates.value gt \"a\"",
        "emails[type eq \"work\"].primary gt \"x\"",
    ] {
        let e = err(f);
        assert_eq!(e.scim_type(), ScimType::InvalidFilter);
        assert!(e.column().is_some(), "{f}");
    }
    assert!(m(r#"emails gt "a""#));
}

#[test]
fn errors_report_columns() {
    let cases: [(&str, usize); 12] = [
        (r#"userName eq"#, 12),
        (r#"userName xx "a""#, 10),
        (r#"userName eq "unterminated"#, 13),
        (r#"(userName pr"#, 13),
        (r#"userName pr)"#, 12),
        (r#"userName pr and"#, 16),
        (r#"userName eq 12abc"#, 13),
        (r#"userName eq 1e999"#, 13),
        (r#"userName = "a""#, 10),
        (r#"émails pr"#, 1),
        (r#"ü eq "ä" or ! pr"#, 1),
        (r#"emails[type eq "work"] .value"#, 30),
    ];
    for (f, col) in cases {
        let e = err(f);
        assert_eq!(e.column(), Some(col), "{f}: {e}");
        assert!(e.to_string().contains(&format!("column {col}")), "{e}");
    }
    assert_eq!(err(""), FilterError::Empty);
    assert_eq!(err("   "), FilterError::Empty);
    assert!(matches!(
        err("emails[value[x eq 1]]"),
        FilterError::Syntax { .. }
    ));
    assert!(matches!(
        err("emails[name.givenName eq 1]"),
        FilterError::Syntax { .. }
    ));
    assert!(matches!(
        err("emails.value[type eq 1]"),
        FilterError::Syntax { .. }
    ));
    assert!(matches!(err("1 eq 1"), FilterError::Syntax { .. }));
    assert!(matches!(err("a.b.c pr"), FilterError::Syntax { .. }));
    assert!(matches!(err(r#"a eq "\x""#), FilterError::Syntax { .. }));
}

#[test]
fn depth_cap() {
    let nested = |n: usize| format!("{}userName pr{}", "(".repeat(n), ")".repeat(n));
    assert!(parse_filter(&nested(3), 3).is_ok());
    assert!(matches!(
        parse_filter(&nested(4), 3),
        Err(FilterError::TooDeep { column: 4, max: 3 })
    ));
    assert!(parse_filter("userName pr", 0).is_ok());
    assert!(matches!(
        parse_filter("(userName pr)", 0),
        Err(FilterError::TooDeep { .. })
    ));
    assert!(matches!(
        parse_filter(r#"emails[type eq "w"]"#, 0),
        Err(FilterError::TooDeep { .. })
    ));
    let nots = format!("{}userName pr{}", "not (".repeat(5), ")".repeat(5));
    assert!(matches!(
        parse_filter(&nots, 4),
        Err(FilterError::TooDeep { .. })
    ));
    // A huge caller cap is still bounded: no stack overflow.
    let deep = nested(30_000);
    assert!(matches!(
        parse_filter(&deep, usize::MAX),
        Err(FilterError::TooDeep { .. })
    ));
    let too_long = "a".repeat(MAX_FILTER_LEN + 1);
    assert!(matches!(
        parse_filter(&too_long, DEPTH),
        Err(FilterError::TooLong { .. })
    ));
    // Long flat chains are fine and evaluate without recursion depth.
    let chain = vec![r#"userName eq "x""#; 2000].join(" or ");
    assert!(parse_filter(&chain, 0).is_ok_and(|f| !f.matches(ResourceKind::User, &user())));
}

#[test]
fn groups_filters() {
    let g = json!({"id": "g1", "displayName": "Engineering",
        "members": [{"value": "u1", "type": "User"}, {"value": "u2"}]});
    let yes = [
        r#"displayName eq "engineering""#,
        r#"members[value eq "u2"]"#,
        r#"members.value eq "u1""#,
        r#"members eq "u1""#,
        r#"members[type eq "user"]"#,
    ];
    for f in yes {
        assert!(
            parse_filter(f, DEPTH).is_ok_and(|p| p.matches(ResourceKind::Group, &g)),
            "{f}"
        );
    }
    assert!(parse_filter(r#"members eq "U1""#, DEPTH)
        .is_ok_and(|p| !p.matches(ResourceKind::Group, &g)));
    assert!(
        parse_filter(r#"userName pr"#, DEPTH).is_ok_and(|p| !p.matches(ResourceKind::Group, &g))
    );
}

fn eq(filter: &str) -> Option<(EqTarget, String)> {
    parse_filter(filter, DEPTH)
        .ok()
        .and_then(|f| f.as_equality().map(|(t, v)| (t, v.to_string())))
}

#[test]
fn equality_recognition() {
    let email = |t: Option<&str>| EqTarget::Email {
        type_eq: t.map(str::to_string),
    };
    let cases = [
        (r#"userName eq "a""#, Some((EqTarget::UserName, "a"))),
        (r#"USERNAME EQ "a""#, Some((EqTarget::UserName, "a"))),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a""#,
            Some((EqTarget::UserName, "a")),
        ),
        (r#"externalId eq "e""#, Some((EqTarget::ExternalId, "e"))),
        (r#"id eq "i""#, Some((EqTarget::Id, "i"))),
        (r#"displayName eq "d""#, Some((EqTarget::DisplayName, "d"))),
        (r#"emails.value eq "m""#, Some((email(None), "m"))),
        (r#"emails eq "m""#, Some((email(None), "m"))),
        (r#"emails[value eq "m"]"#, Some((email(None), "m"))),
        (
            r#"emails[type eq "work"].value eq "m""#,
            Some((email(Some("work")), "m")),
        ),
        (r#"userName ne "a""#, None),
        (r#"userName eq 1"#, None),
        (r#"(userName eq "a")"#, Some((EqTarget::UserName, "a"))),
        (r#"userName eq "a" and active eq true"#, None),
        (r#"not (userName eq "a")"#, None),
        (r#"emails.type eq "m""#, None),
        (r#"emails[type eq "work"]"#, None),
        (r#"emails[type eq "work"].display eq "m""#, None),
        (r#"urn:example:x:userName eq "a""#, None),
        (r#"name.givenName eq "a""#, None),
    ];
    for (f, want) in cases {
        assert_eq!(eq(f), want.map(|(t, v)| (t, v.to_string())), "{f}");
    }
    assert!(EqTarget::Id.case_exact() && !EqTarget::UserName.case_exact());
}

#[test]
fn references_names_top_level_attributes_only() {
    let f = parse_filter(
        r#"displayName eq "members" or not (members[value eq "x"])"#,
        8,
    )
    .unwrap();
    assert!(f.references("members"));
    assert!(f.references("DISPLAYNAME"));
    assert!(!f.references("value"));
    let g = parse_filter(r#"displayName eq "members""#, 8).unwrap();
    assert!(!g.references("members"));
    let u = parse_filter(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:groups.value eq "g""#,
        8,
    )
    .unwrap();
    assert!(u.references("groups"));
}
