//! Filters (RFC 7644 §3.4.2.2), sorting, attribute projection and `.search`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{self, user_names, Gate, ENTERPRISE_SCHEMA, SEARCH_SCHEMA, USER_SCHEMA};

/// Four users with distinct attributes, created a few milliseconds apart, and two
/// groups.
struct Fixture {
    gate: Gate,
    /// Users by first name, as created.
    users: Vec<Value>,
}

impl Fixture {
    fn user(&self, n: usize) -> &Value {
        &self.users[n]
    }

    fn id(&self, n: usize) -> &str {
        self.users[n]["id"].as_str().unwrap_or_default()
    }

    /// The userNames matched by `filter`, in list order.
    async fn names(&self, filter: &str) -> Vec<String> {
        let resp = self.gate.get_q("/Users", &[("filter", filter)]).await;
        assert_eq!(resp.status, 200, "filter {filter:?}: {}", resp.text);
        assert_eq!(
            resp.body["totalResults"].as_u64(),
            Some(resp.resources().len() as u64),
            "totalResults for {filter:?}"
        );
        user_names(&resp.resources())
    }

    /// Asserts that `filter` matches exactly `want` (in creation order).
    #[track_caller]
    fn check(&self, filter: &str, got: Vec<String>, want: &[&str]) {
        assert_eq!(got, want, "filter {filter:?}");
    }
}

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@sample.org";
const DAVE: &str = "Dave@Example.com";

async fn fixture() -> Fixture {
    let gate = support::start("").await;
    let bodies = [
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "userName": ALICE,
            "displayName": "Alice Eng",
            "name": {"givenName": "Alice", "familyName": "Archer"},
            "title": "Engineer",
            "userType": "Employee",
            "active": true,
            "externalId": "ext-a",
            "emails": [
                {"type": "work", "value": "alice@work.example", "primary": true},
                {"type": "home", "value": "alice@home.example"}
            ],
            ENTERPRISE_SCHEMA: {"employeeNumber": "42", "department": "R&D"}
        }),
        json!({
            "schemas": [USER_SCHEMA],
            "userName": BOB,
            "name": {"givenName": "Bob", "familyName": "Baker"},
            "title": "Analyst",
            "userType": "Contractor",
            "active": false,
            "emails": [{"type": "work", "value": "bob@work.example"}]
        }),
        json!({
            "schemas": [USER_SCHEMA],
            "userName": CAROL,
            "name": {"givenName": "Carol", "familyName": "Carter"},
            "userType": "Employee",
            "active": true,
            "emails": [{"type": "home", "value": "carol@home.example"}]
        }),
        json!({
            "schemas": [USER_SCHEMA],
            "userName": DAVE,
            "name": {"givenName": "Dave", "familyName": "Dunn"},
            "title": "Engineer",
            "userType": "Intern",
            "active": true
        }),
    ];
    let mut users = Vec::new();
    for b in bodies {
        users.push(gate.create_user_with(&b).await);
        // Distinct millisecond timestamps.
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let alice = users[0]["id"].as_str().unwrap_or_default().to_owned();
    let dave = users[3]["id"].as_str().unwrap_or_default().to_owned();
    gate.create_group("Engineering", &[&alice, &dave]).await;
    gate.create_group("Analytics", &[]).await;
    Fixture { gate, users }
}

#[tokio::test]
async fn string_eq_and_ne() {
    let f = fixture().await;
    for (filter, want) in [
        // userName and title are case-insensitive (caseExact false).
        ("userName eq \"ALICE@example.com\"", vec![ALICE]),
        ("title eq \"engineer\"", vec![ALICE, DAVE]),
        ("userType ne \"Employee\"", vec![BOB, DAVE]),
        ("name.familyName eq \"baker\"", vec![BOB]),
        ("externalId eq \"ext-a\"", vec![ALICE]),
        // Attribute names and operators are case-insensitive.
        ("USERNAME EQ \"bob@example.com\"", vec![BOB]),
        ("Name.FamilyName Eq \"Carter\"", vec![CAROL]),
    ] {
        let got = f.names(filter).await;
        f.check(filter, got, &want);
    }
    // JSON string escapes inside a filter value.
    let id = f.gate.create_user("o\"brien\\x@example.com").await;
    let got = f.names("userName eq \"o\\\"brien\\\\x@example.com\"").await;
    assert_eq!(got, vec!["o\"brien\\x@example.com"], "{id}");
    let got = f.names("userName sw \"o\\\"b\"").await;
    assert_eq!(got, vec!["o\"brien\\x@example.com"]);
}

#[tokio::test]
async fn string_co_sw_ew() {
    let f = fixture().await;
    for (filter, want) in [
        ("userName co \"example\"", vec![ALICE, BOB, DAVE]),
        ("userName co \"EXAMPLE.COM\"", vec![ALICE, BOB, DAVE]),
        ("userName sw \"a\"", vec![ALICE]),
        ("name.familyName sw \"c\"", vec![CAROL]),
        ("userName ew \"sample.org\"", vec![CAROL]),
        ("userName ew \".COM\"", vec![ALICE, BOB, DAVE]),
        ("emails.value co \"home\"", vec![ALICE, CAROL]),
        ("displayName co \"eng\"", vec![ALICE]),
    ] {
        let got = f.names(filter).await;
        f.check(filter, got, &want);
    }
}

#[tokio::test]
async fn presence_pr() {
    let f = fixture().await;
    for (filter, want) in [
        ("title pr", vec![ALICE, BOB, DAVE]),
        ("emails pr", vec![ALICE, BOB, CAROL]),
        ("externalId pr", vec![ALICE]),
        ("name.givenName pr", vec![ALICE, BOB, CAROL, DAVE]),
        ("nickName pr", vec![]),
    ] {
        let got = f.names(filter).await;
        f.check(filter, got, &want);
    }
}

#[tokio::test]
async fn string_ordering_gt_ge_lt_le() {
    let f = fixture().await;
    for (filter, want) in [
        ("userName gt \"bob@example.com\"", vec![CAROL, DAVE]),
        ("userName ge \"bob@example.com\"", vec![BOB, CAROL, DAVE]),
        ("userName lt \"carol@sample.org\"", vec![ALICE, BOB]),
        ("userName le \"CAROL@SAMPLE.ORG\"", vec![ALICE, BOB, CAROL]),
        ("name.familyName gt \"C\"", vec![CAROL, DAVE]),
    ] {
        let got = f.names(filter).await;
        f.check(filter, got, &want);
    }
}

#[tokio::test]
async fn booleans() {
    let f = fixture().await;
    for (filter, want) in [
        ("active eq true", vec![ALICE, CAROL, DAVE]),
        ("active eq false", vec![BOB]),
        ("active ne true", vec![BOB]),
        ("active eq TRUE", vec![ALICE, CAROL, DAVE]),
    ] {
        let got = f.names(filter).await;
        f.check(filter, got, &want);
    }
    // Ordering a boolean is an invalid filter (RFC 7644 §3.4.2.2).
    let resp = f
        .gate
        .get_q("/Users", &[("filter", "active gt false")])
        .await;
    resp.expect_error(400, Some("invalidFilter"));
}

#[tokio::test]
async fn dates_compare_as_times() {
    let f = fixture().await;
    let bob_modified = f.user(1)["meta"]["lastModified"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let bob_created = f.user(1)["meta"]["created"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for (filter, want) in [
        (
            format!("meta.lastModified gt \"{bob_modified}\""),
            vec![CAROL, DAVE],
        ),
        (
            format!("meta.lastModified ge \"{bob_modified}\""),
            vec![BOB, CAROL, DAVE],
        ),
        (
            format!("meta.lastModified lt \"{bob_modified}\""),
            vec![ALICE],
        ),
        (
            format!("meta.lastModified le \"{bob_modified}\""),
            vec![ALICE, BOB],
        ),
        (format!("meta.created eq \"{bob_created}\""), vec![BOB]),
        (
            "meta.created gt \"2000-01-01T00:00:00Z\"".to_owned(),
            vec![ALICE, BOB, CAROL, DAVE],
        ),
        (
            "meta.created lt \"2000-01-01T00:00:00Z\"".to_owned(),
            vec![],
        ),
    ] {
        let got = f.names(&filter).await;
        f.check(&filter, got, &want);
    }

    // The same instant written with another offset compares equal (not as text).
    let t = time::OffsetDateTime::parse(
        &bob_modified,
        &time::format_description::well_known::Rfc3339,
    )
    .expect("lastModified is RFC 3339");
    let shifted = t
        .to_offset(time::macros::offset!(+02:00))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    assert!(shifted.contains("+02:00"), "{shifted}");
    let filter = format!("meta.lastModified gt \"{shifted}\"");
    let got = f.names(&filter).await;
    f.check(&filter, got, &[CAROL, DAVE]);

    // A change moves lastModified, not created.
    tokio::time::sleep(Duration::from_millis(15)).await;
    let alice = f.id(0).to_owned();
    let mut body = f.user(0).clone();
    body["title"] = json!("Principal Engineer");
    f.gate
        .put(&format!("/Users/{alice}"), &body)
        .await
        .expect(200);
    let filter = format!("meta.lastModified gt \"{bob_modified}\"");
    let got = f.names(&filter).await;
    f.check(&filter, got, &[ALICE, CAROL, DAVE]);
    let filter = format!("meta.created gt \"{bob_created}\"");
    let got = f.names(&filter).await;
    f.check(&filter, got, &[CAROL, DAVE]);
}

#[tokio::test]
async fn and_binds_tighter_than_or() {
    let f = fixture().await;
    for (filter, want) in [
        // a or (b and c), not (a or b) and c.
        (
            "userName eq \"alice@example.com\" or title eq \"Engineer\" and active eq false",
            vec![ALICE],
        ),
        (
            "userType eq \"Employee\" or userType eq \"Intern\" and title eq \"Engineer\"",
            vec![ALICE, CAROL, DAVE],
        ),
        // (a and b) or c.
        (
            "active eq false and userName sw \"b\" or userName sw \"c\"",
            vec![BOB, CAROL],
        ),
    ] {
        let got = f.names(filter).await;
        f.check(filter, got, &want);
    }
}

#[tokio::test]
async fn not_and_grouping() {
    let f = fixture().await;
    for (filter, want) in [
        ("not (userType eq \"Employee\")", vec![BOB, DAVE]),
        (
            "(userType eq \"Employee\" or userType eq \"Intern\") and title eq \"Engineer\"",
            vec![ALICE, DAVE],
        ),
        ("not (active eq true and title pr)", vec![BOB, CAROL]),
        (
            "((userName sw \"a\") or (userName sw \"b\")) and not (active eq false)",
            vec![ALICE],
        ),
    ] {
        let got = f.names(filter).await;
        f.check(filter, got, &want);
    }
}

#[tokio::test]
async fn value_paths_match_within_one_element() {
    let f = fixture().await;
    for (filter, want) in [
        ("emails[type eq \"work\"]", vec![ALICE, BOB]),
        ("emails[type eq \"home\"]", vec![ALICE, CAROL]),
        (
            "emails[type eq \"work\" and value co \"alice\"]",
            vec![ALICE],
        ),
        // Alice has a work e-mail and a home.example e-mail, but not in one element.
        (
            "emails[type eq \"work\" and value ew \"home.example\"]",
            vec![],
        ),
        (
            "emails[type eq \"work\"].value eq \"bob@work.example\"",
            vec![BOB],
        ),
        ("emails[primary eq true]", vec![ALICE]),
        (
            "emails[type eq \"home\"] and not (emails[type eq \"work\"])",
            vec![CAROL],
        ),
    ] {
        let got = f.names(filter).await;
        f.check(filter, got, &want);
    }
}

#[tokio::test]
async fn extension_attributes_by_urn() {
    let f = fixture().await;
    let filter = format!("{ENTERPRISE_SCHEMA}:employeeNumber eq \"42\"");
    let got = f.names(&filter).await;
    f.check(&filter, got, &[ALICE]);
    let filter = format!("{ENTERPRISE_SCHEMA}:department pr");
    let got = f.names(&filter).await;
    f.check(&filter, got, &[ALICE]);
}

#[tokio::test]
async fn group_filters() {
    let f = fixture().await;
    let names = |r: &[Value]| -> Vec<String> {
        r.iter()
            .map(|g| g["displayName"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let got = f.gate.filter("/Groups", "displayName sw \"eng\"").await;
    assert_eq!(names(&got), vec!["Engineering"]);
    let got = f
        .gate
        .filter("/Groups", "displayName eq \"analytics\"")
        .await;
    assert_eq!(names(&got), vec!["Analytics"]);
    let filter = format!("members[value eq \"{}\"]", f.id(3));
    let got = f.gate.filter("/Groups", &filter).await;
    assert_eq!(names(&got), vec!["Engineering"], "{filter}");
    let filter = format!("members.value eq \"{}\"", f.id(0));
    let got = f.gate.filter("/Groups", &filter).await;
    assert_eq!(names(&got), vec!["Engineering"], "{filter}");
    let got = f.gate.filter("/Groups", "members pr").await;
    assert_eq!(names(&got), vec!["Engineering"]);
    // Users by the groups they are in (a read-only, computed attribute).
    let eng = f
        .gate
        .filter("/Groups", "displayName eq \"Engineering\"")
        .await;
    let eng_id = eng[0]["id"].as_str().unwrap_or_default().to_owned();
    let filter = format!("groups.value eq \"{eng_id}\"");
    let got = f.names(&filter).await;
    f.check(&filter, got, &[ALICE, DAVE]);
    let filter = "groups[display eq \"Engineering\"]";
    let got = f.names(filter).await;
    f.check(filter, got, &[ALICE, DAVE]);
    let filter = format!("id eq \"{}\"", f.id(1));
    assert!(f.gate.filter("/Groups", &filter).await.is_empty());
    let got = f.names(&filter).await;
    f.check(&filter, got, &[BOB]);
}

#[tokio::test]
async fn sort_by_and_sort_order() {
    let f = fixture().await;
    let sorted = |q: Vec<(&'static str, &'static str)>| {
        let gate = &f.gate;
        async move {
            let resp = gate.get_q("/Users", &q).await.expect(200);
            user_names(&resp.resources())
        }
    };
    assert_eq!(
        sorted(vec![("sortBy", "userName")]).await,
        vec![ALICE, BOB, CAROL, DAVE]
    );
    assert_eq!(
        sorted(vec![("sortBy", "userName"), ("sortOrder", "descending")]).await,
        vec![DAVE, CAROL, BOB, ALICE]
    );
    assert_eq!(
        sorted(vec![
            ("sortBy", "name.givenName"),
            ("sortOrder", "descending")
        ])
        .await,
        vec![DAVE, CAROL, BOB, ALICE]
    );
    assert_eq!(
        sorted(vec![("sortBy", "userType"), ("sortOrder", "ascending")]).await,
        // Contractor, Employee (alice, carol: ties in creation order), Intern.
        vec![BOB, ALICE, CAROL, DAVE]
    );
    // Filter, sort and page together.
    let page = f
        .gate
        .get_q(
            "/Users",
            &[
                ("filter", "active eq true"),
                ("sortBy", "userName"),
                ("sortOrder", "descending"),
                ("startIndex", "2"),
                ("count", "1"),
            ],
        )
        .await
        .expect(200);
    assert_eq!(page.body["totalResults"], 3);
    assert_eq!(page.body["startIndex"], 2);
    assert_eq!(user_names(&page.resources()), vec![CAROL]);
    // A bad sortOrder is a 400.
    f.gate
        .get_q(
            "/Users",
            &[("sortBy", "userName"), ("sortOrder", "sideways")],
        )
        .await
        .expect_error(400, None);
}

#[tokio::test]
async fn attributes_and_excluded_attributes() {
    let f = fixture().await;
    let only = f
        .gate
        .get_q("/Users", &[("attributes", "userName")])
        .await
        .expect(200);
    for r in only.resources() {
        assert!(r["id"].is_string(), "id is always returned: {r}");
        assert!(r["userName"].is_string(), "{r}");
        for absent in ["name", "emails", "title", "active", "displayName"] {
            assert!(r.get(absent).is_none(), "{absent} returned: {r}");
        }
    }

    let sub = f
        .gate
        .get_q(
            &format!("/Users/{}", f.id(0)),
            &[("attributes", "name.givenName,emails.value")],
        )
        .await
        .expect(200);
    assert_eq!(sub.body["name"], json!({"givenName": "Alice"}));
    assert_eq!(
        sub.body["emails"],
        json!([{"value": "alice@work.example"}, {"value": "alice@home.example"}])
    );
    assert!(sub.body.get("userName").is_none(), "{}", sub.text);

    let excluded = f
        .gate
        .get_q("/Users", &[("excludedAttributes", "emails,name")])
        .await
        .expect(200);
    for r in excluded.resources() {
        assert!(r.get("emails").is_none(), "{r}");
        assert!(r.get("name").is_none(), "{r}");
        assert!(r["userName"].is_string(), "{r}");
        assert!(r["id"].is_string(), "{r}");
    }
    // id cannot be excluded.
    let id_kept = f
        .gate
        .get_q(
            &format!("/Users/{}", f.id(1)),
            &[("excludedAttributes", "id")],
        )
        .await
        .expect(200);
    assert_eq!(id_kept.body["id"], f.id(1));

    // An extension attribute by URN.
    let ext = f
        .gate
        .get_q(
            &format!("/Users/{}", f.id(0)),
            &[("attributes", &format!("{ENTERPRISE_SCHEMA}:employeeNumber"))],
        )
        .await
        .expect(200);
    assert_eq!(ext.body[ENTERPRISE_SCHEMA], json!({"employeeNumber": "42"}));
    assert!(ext.body.get("name").is_none());

    // Users' groups can be excluded too.
    let no_groups = f
        .gate
        .get_q(
            &format!("/Users/{}", f.id(0)),
            &[("excludedAttributes", "groups")],
        )
        .await
        .expect(200);
    assert!(no_groups.body.get("groups").is_none(), "{}", no_groups.text);
    let with_groups = f.gate.get(&format!("/Users/{}", f.id(0))).await.expect(200);
    assert_eq!(with_groups.body["groups"][0]["display"], "Engineering");
}

#[tokio::test]
async fn post_users_search() {
    let f = fixture().await;
    let resp = f
        .gate
        .post(
            "/Users/.search",
            &json!({
                "schemas": [SEARCH_SCHEMA],
                "filter": "title eq \"Engineer\" or active eq false",
                "sortBy": "userName",
                "sortOrder": "descending",
                "attributes": ["userName", "title"],
                "startIndex": 1,
                "count": 2
            }),
        )
        .await
        .expect(200);
    assert_eq!(resp.body["schemas"], json!([support::LIST_SCHEMA]));
    assert_eq!(resp.body["totalResults"], 3);
    assert_eq!(resp.body["itemsPerPage"], 2);
    let r = resp.resources();
    assert_eq!(user_names(&r), vec![DAVE, BOB]);
    assert!(r[0].get("name").is_none());
    assert_eq!(r[0]["title"], "Engineer");

    let groups = f
        .gate
        .post(
            "/Groups/.search",
            &json!({"schemas": [SEARCH_SCHEMA], "filter": "displayName ew \"ytics\""}),
        )
        .await
        .expect(200);
    assert_eq!(groups.body["totalResults"], 1);
    assert_eq!(groups.resources()[0]["displayName"], "Analytics");
}

#[tokio::test]
async fn post_root_search_spans_users_and_groups() {
    let f = fixture().await;
    let all = f
        .gate
        .post("/.search", &json!({"schemas": [SEARCH_SCHEMA]}))
        .await
        .expect(200);
    assert_eq!(all.body["totalResults"], 6);
    let kinds: Vec<String> = all
        .resources()
        .iter()
        .map(|r| {
            r["meta"]["resourceType"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "User").count(), 4);
    assert_eq!(kinds.iter().filter(|k| *k == "Group").count(), 2);

    // displayName exists on both kinds.
    let both = f
        .gate
        .post(
            "/.search",
            &json!({"schemas": [SEARCH_SCHEMA], "filter": "displayName co \"eng\""}),
        )
        .await
        .expect(200);
    assert_eq!(both.body["totalResults"], 2, "{}", both.text);
    let mut found: Vec<(String, String)> = both
        .resources()
        .iter()
        .map(|r| {
            (
                r["meta"]["resourceType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                r["displayName"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("Group".to_owned(), "Engineering".to_owned()),
            ("User".to_owned(), "Alice Eng".to_owned())
        ]
    );

    // An attribute only Users have simply does not match Groups.
    let users_only = f
        .gate
        .post(
            "/.search",
            &json!({"schemas": [SEARCH_SCHEMA], "filter": "userName sw \"alice\""}),
        )
        .await;
    assert_eq!(users_only.status, 200, "{}", users_only.text);
    assert_eq!(users_only.body["totalResults"], 1);

    // Paged across the two kinds.
    let page = f
        .gate
        .post(
            "/.search",
            &json!({"schemas": [SEARCH_SCHEMA], "startIndex": 4, "count": 2}),
        )
        .await
        .expect(200);
    assert_eq!(page.body["totalResults"], 6);
    assert_eq!(page.body["startIndex"], 4);
    let r = page.resources();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["userName"], DAVE);
    assert_eq!(r[1]["displayName"], "Engineering");
}

#[tokio::test]
async fn post_root_search_pages_past_max_results() {
    // With more users than one page holds, later pages of /.search still hold the
    // users beyond the first max_results, then the groups.
    let gate = support::start("scim:\n  max_results: 5\n").await;
    let mut users = Vec::new();
    for n in 0..8 {
        users.push(gate.create_user(&format!("wide{n}@example.com")).await);
    }
    gate.create_group("Wide Group 1", &[]).await;
    gate.create_group("Wide Group 2", &[]).await;

    let mut seen: Vec<String> = Vec::new();
    for start in [1, 6] {
        let page = gate
            .post(
                "/.search",
                &json!({"schemas": [SEARCH_SCHEMA], "startIndex": start, "count": 5}),
            )
            .await
            .expect(200);
        assert_eq!(page.body["totalResults"], 10);
        assert_eq!(page.body["startIndex"], start);
        for r in page.resources() {
            let label = r["userName"]
                .as_str()
                .or(r["displayName"].as_str())
                .unwrap_or_default();
            seen.push(label.to_owned());
        }
    }
    let mut want: Vec<String> = (0..8).map(|n| format!("wide{n}@example.com")).collect();
    want.push("Wide Group 1".into());
    want.push("Wide Group 2".into());
    assert_eq!(seen, want, "/.search pages");
}
