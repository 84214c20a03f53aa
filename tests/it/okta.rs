//! Okta's SCIM dialect: lookup before create, creates with extra attributes, full-PUT
//! profile updates, deactivation by path-less replace, Group Push.

use serde_json::{json, Value};

use crate::support::{self, patch_ops, sorted, sorted_values, user_body, USER_SCHEMA};

/// Okta's lookup: `filter=userName eq "x"&startIndex=1&count=100`.
async fn okta_lookup(gate: &support::Gate, user_name: &str) -> support::Resp {
    let filter = format!("userName eq \"{user_name}\"");
    gate.get_q(
        "/Users",
        &[("filter", &filter), ("startIndex", "1"), ("count", "100")],
    )
    .await
    .expect(200)
}

#[tokio::test]
async fn lookup_before_create_is_empty_then_finds_the_user_case_insensitively() {
    let gate = support::start("").await;
    gate.create_user("someone.else@example.com").await;

    let empty = okta_lookup(&gate, "jane.doe@example.com").await;
    assert_eq!(empty.body["schemas"], json!([support::LIST_SCHEMA]));
    assert_eq!(empty.body["totalResults"], 0);
    assert_eq!(empty.body["startIndex"], 1);
    assert_eq!(empty.body["itemsPerPage"], 0);
    assert!(empty.resources().is_empty(), "{}", empty.text);

    let created = gate.create_user("Jane.Doe@example.com").await;

    for spelling in [
        "jane.doe@example.com",
        "JANE.DOE@EXAMPLE.COM",
        "Jane.Doe@example.com",
    ] {
        let found = okta_lookup(&gate, spelling).await;
        assert_eq!(found.body["totalResults"], 1, "{spelling}: {}", found.text);
        assert_eq!(found.body["itemsPerPage"], 1);
        assert_eq!(found.body["startIndex"], 1);
        let r = &found.resources()[0];
        assert_eq!(r["id"], created["id"]);
        assert_eq!(
            r["userName"], "Jane.Doe@example.com",
            "stored spelling kept"
        );
    }
    // The other user is not matched.
    let other = okta_lookup(&gate, "someone.else@example.com").await;
    assert_eq!(other.body["totalResults"], 1);
    assert_ne!(other.resources()[0]["id"], created["id"]);
}

#[tokio::test]
async fn create_with_password_groups_and_locale_never_returns_the_password() {
    let gate = support::start("").await;
    let body = json!({
        "schemas": [USER_SCHEMA],
        "userName": "okta.user@example.com",
        "name": {"givenName": "Okta", "familyName": "User"},
        "emails": [{"primary": true, "value": "okta.user@example.com", "type": "work"}],
        "displayName": "Okta User",
        "locale": "en-US",
        "externalId": "00u1abcd",
        "groups": [],
        "password": "t0p-Secret-pa55word",
        "active": true
    });
    let created = gate.post("/Users", &body).await.expect(201);
    assert!(
        !created.text.contains("t0p-Secret-pa55word"),
        "password echoed: {}",
        created.text
    );
    assert!(created.body.get("password").is_none());
    assert_eq!(created.body["locale"], "en-US");
    assert_eq!(created.body["name"]["givenName"], "Okta");
    assert_eq!(created.body["externalId"], "00u1abcd");
    assert_eq!(created.body["active"], true);
    let id = created.id();
    assert!(!id.is_empty());
    let location = created.header("location").unwrap_or_default().to_owned();
    assert!(location.ends_with(&format!("/Users/{id}")), "{location}");
    assert_eq!(created.body["meta"]["location"], location);
    assert_eq!(created.body["meta"]["resourceType"], "User");

    let fetched = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert!(
        !fetched.text.contains("t0p-Secret-pa55word"),
        "{}",
        fetched.text
    );
    assert!(fetched.body.get("password").is_none());
    assert_eq!(fetched.body["locale"], "en-US");
    assert_eq!(fetched.body["emails"][0]["value"], "okta.user@example.com");

    let listed = gate.get("/Users").await.expect(200);
    assert!(
        !listed.text.contains("t0p-Secret-pa55word"),
        "{}",
        listed.text
    );
    // Even asking for it by name does not return it.
    let asked = gate
        .get_q(
            &format!("/Users/{id}"),
            &[("attributes", "password,userName")],
        )
        .await
        .expect(200);
    assert!(
        !asked.text.contains("t0p-Secret-pa55word"),
        "{}",
        asked.text
    );
    assert_eq!(asked.body["userName"], "okta.user@example.com");
}

#[tokio::test]
async fn full_put_replaces_the_profile() {
    let gate = support::start("").await;
    let created = gate
        .create_user_with(&json!({
            "schemas": [USER_SCHEMA],
            "userName": "put.me@example.com",
            "name": {"givenName": "Put", "familyName": "Me"},
            "title": "Analyst",
            "emails": [{"value": "put.me@example.com", "type": "work", "primary": true}],
            "locale": "en-US",
            "active": true
        }))
        .await;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(support::version(&created), "W/\"1\"");

    // Okta sends the whole profile, with the id, and omits what it no longer has.
    let put = json!({
        "schemas": [USER_SCHEMA],
        "id": id,
        "userName": "put.me@example.com",
        "name": {"givenName": "Putnam", "familyName": "Mead"},
        "emails": [{"value": "putnam.mead@example.com", "type": "work", "primary": true}],
        "locale": "fr-FR",
        "active": true,
        "password": "never-stored-1"
    });
    let replaced = gate.put(&format!("/Users/{id}"), &put).await.expect(200);
    assert_eq!(replaced.body["id"], id.as_str());
    assert_eq!(replaced.body["name"]["givenName"], "Putnam");
    assert!(!replaced.text.contains("never-stored-1"));
    assert_eq!(support::version(&replaced.body), "W/\"2\"");

    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["name"]["givenName"], "Putnam");
    assert_eq!(got.body["name"]["familyName"], "Mead");
    assert_eq!(got.body["emails"][0]["value"], "putnam.mead@example.com");
    assert_eq!(got.body["locale"], "fr-FR");
    assert!(
        got.body.get("title").is_none(),
        "PUT replaces: {}",
        got.text
    );
    assert_eq!(got.body["meta"]["created"], created["meta"]["created"]);
    assert_eq!(got.header("etag"), Some("W/\"2\""));

    // The e-mail index follows the change.
    let by_new = gate
        .filter("/Users", "emails.value eq \"putnam.mead@example.com\"")
        .await;
    assert_eq!(support::ids(&by_new), vec![id.clone()]);
    let by_old = gate
        .filter("/Users", "emails.value eq \"put.me@example.com\"")
        .await;
    assert!(by_old.is_empty(), "{by_old:?}");
}

#[tokio::test]
async fn pathless_replace_active_false_deactivates_and_the_user_stays_listed() {
    let gate = support::start("").await;
    let created = gate.create_user("leaver@example.com").await;
    let id = created["id"].as_str().unwrap_or_default().to_owned();

    let body = patch_ops(json!([{"op": "replace", "value": {"active": false}}]));
    let patched = gate.patch(&format!("/Users/{id}"), &body).await.expect(200);
    assert_eq!(patched.body["active"], false);
    assert_eq!(patched.body["userName"], "leaver@example.com");

    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["active"], false);
    assert_eq!(support::version(&got.body), "W/\"2\"");

    let found = gate
        .filter("/Users", "userName eq \"leaver@example.com\"")
        .await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["active"], false);

    let all = gate.get("/Users").await.expect(200);
    assert_eq!(all.body["totalResults"], 1);
    assert_eq!(all.resources()[0]["active"], false);

    let user = gate
        .running
        .directory
        .user_by_name("leaver@example.com")
        .expect("still in the directory");
    assert!(!user.active);
}

#[tokio::test]
async fn group_push_renames_with_a_replace_whose_value_carries_the_id() {
    let gate = support::start("").await;
    let u = gate.create_user("member@example.com").await;
    let uid = u["id"].as_str().unwrap_or_default().to_owned();
    let g = gate.create_group("Okta Old Name", &[&uid]).await;
    let gid = g["id"].as_str().unwrap_or_default().to_owned();

    let body = patch_ops(json!([{
        "op": "replace",
        "value": {"id": gid, "displayName": "Okta New Name"}
    }]));
    let resp = gate.patch(&format!("/Groups/{gid}"), &body).await;
    assert!(
        resp.status == 204 || resp.status == 200,
        "rename: {} {}",
        resp.status,
        resp.text
    );

    let got = gate.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(got.body["id"], gid.as_str());
    assert_eq!(got.body["displayName"], "Okta New Name");
    assert_eq!(sorted_values(&got.body["members"]), vec![uid.clone()]);

    let by_new = gate
        .filter("/Groups", "displayName eq \"Okta New Name\"")
        .await;
    assert_eq!(support::ids(&by_new), vec![gid.clone()]);
    let by_old = gate
        .filter("/Groups", "displayName eq \"Okta Old Name\"")
        .await;
    assert!(by_old.is_empty());

    // The member sees the new name.
    let user = gate.get(&format!("/Users/{uid}")).await.expect(200);
    assert_eq!(user.body["groups"][0]["display"], "Okta New Name");
}

#[tokio::test]
async fn group_push_adds_and_removes_members_in_one_patch() {
    let gate = support::start("").await;
    let mut uids = Vec::new();
    for n in 0..4 {
        let u = gate.create_user(&format!("gp{n}@example.com")).await;
        uids.push(u["id"].as_str().unwrap_or_default().to_owned());
    }
    let g = gate.create_group("Group Push", &[&uids[0], &uids[1]]).await;
    let gid = g["id"].as_str().unwrap_or_default().to_owned();

    let body = patch_ops(json!([
        {"op": "replace", "value": {"id": gid, "displayName": "Group Push"}},
        {"op": "remove", "path": format!("members[value eq \"{}\"]", uids[0])},
        {"op": "add", "path": "members", "value": [
            {"value": uids[2], "display": "gp2@example.com"},
            {"value": uids[3], "display": "gp3@example.com"}
        ]}
    ]));
    let resp = gate.patch(&format!("/Groups/{gid}"), &body).await;
    assert!(resp.status == 204 || resp.status == 200, "{}", resp.text);

    assert_eq!(
        gate.member_ids(&gid).await,
        sorted(&[&uids[1], &uids[2], &uids[3]])
    );
    let removed = gate.get(&format!("/Users/{}", uids[0])).await.expect(200);
    assert!(removed.body.get("groups").is_none(), "{}", removed.text);
    let added = gate.get(&format!("/Users/{}", uids[3])).await.expect(200);
    assert_eq!(added.body["groups"][0]["value"], gid.as_str());
}

#[tokio::test]
async fn group_push_replaces_members_whole() {
    let gate = support::start("").await;
    let mut uids = Vec::new();
    for n in 0..4 {
        let u = gate.create_user(&format!("rm{n}@example.com")).await;
        uids.push(u["id"].as_str().unwrap_or_default().to_owned());
    }
    let g = gate
        .create_group("Replace Whole", &[&uids[0], &uids[1], &uids[2]])
        .await;
    let gid = g["id"].as_str().unwrap_or_default().to_owned();

    let body = patch_ops(json!([{
        "op": "replace",
        "path": "members",
        "value": [{"value": uids[2]}, {"value": uids[3]}]
    }]));
    let resp = gate.patch(&format!("/Groups/{gid}"), &body).await;
    assert!(resp.status == 204 || resp.status == 200, "{}", resp.text);
    assert_eq!(gate.member_ids(&gid).await, sorted(&[&uids[2], &uids[3]]));

    // Replacing with an empty list empties the group.
    let body = patch_ops(json!([{"op": "replace", "path": "members", "value": []}]));
    let resp = gate.patch(&format!("/Groups/{gid}"), &body).await;
    assert!(resp.status == 204 || resp.status == 200, "{}", resp.text);
    let got = gate.get(&format!("/Groups/{gid}")).await.expect(200);
    assert!(
        sorted_values(&got.body["members"]).is_empty(),
        "{}",
        got.text
    );
    assert_eq!(got.body["displayName"], "Replace Whole");
}

#[tokio::test]
async fn duplicate_user_name_in_another_case_is_409_uniqueness() {
    let gate = support::start("").await;
    let first = gate.create_user("Dup.User@Example.com").await;

    let dup = gate
        .post("/Users", &user_body("dup.user@example.com"))
        .await;
    dup.expect_error(409, Some("uniqueness"));
    assert_eq!(dup.body["status"], Value::String("409".into()));

    // Renaming another user onto the taken name is refused the same way.
    let other = gate.create_user("other@example.com").await;
    let oid = other["id"].as_str().unwrap_or_default();
    let put = gate
        .put(&format!("/Users/{oid}"), &user_body("DUP.USER@EXAMPLE.COM"))
        .await;
    put.expect_error(409, Some("uniqueness"));

    let all = gate.get("/Users").await.expect(200);
    assert_eq!(all.body["totalResults"], 2);
    let got = gate.get(&format!("/Users/{oid}")).await.expect(200);
    assert_eq!(got.body["userName"], "other@example.com");
    assert_eq!(support::version(&got.body), "W/\"1\"");
    let kept = gate
        .get(&format!(
            "/Users/{}",
            first["id"].as_str().unwrap_or_default()
        ))
        .await
        .expect(200);
    assert_eq!(kept.body["userName"], "Dup.User@Example.com");
}

#[tokio::test]
async fn renaming_a_user_frees_the_old_user_name() {
    let gate = support::start("").await;
    let created = gate.create_user("old.name@example.com").await;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    gate.put(&format!("/Users/{id}"), &user_body("new.name@example.com"))
        .await
        .expect(200);
    assert_eq!(
        okta_lookup(&gate, "old.name@example.com").await.body["totalResults"],
        0
    );
    let found = okta_lookup(&gate, "NEW.NAME@example.com").await;
    assert_eq!(support::ids(&found.resources()), vec![id.clone()]);
    // Someone else may now take the old name; the renamed user keeps the new one.
    let other = gate.create_user("Old.Name@example.com").await;
    assert_ne!(other["id"], created["id"]);
    gate.post("/Users", &user_body("new.NAME@example.com"))
        .await
        .expect_error(409, Some("uniqueness"));
    // A change of case only, on the user itself, is not a conflict.
    gate.put(&format!("/Users/{id}"), &user_body("New.Name@Example.com"))
        .await
        .expect(200);
}

#[tokio::test]
async fn group_push_rename_onto_a_taken_name_is_409_and_changes_nothing() {
    let gate = support::start("").await;
    gate.create_group("Taken Name", &[]).await;
    let g = gate.create_group("Free Name", &[]).await;
    let gid = g["id"].as_str().unwrap_or_default().to_owned();
    let body = patch_ops(json!([{
        "op": "replace",
        "value": {"id": gid, "displayName": "taken name"}
    }]));
    gate.patch(&format!("/Groups/{gid}"), &body)
        .await
        .expect_error(409, Some("uniqueness"));
    let got = gate.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(got.body["displayName"], "Free Name");
    assert_eq!(support::version(&got.body), "W/\"1\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_user_name_in_several_cases_make_one_user() {
    let gate = support::start("").await;
    let spellings = [
        "race@example.com",
        "RACE@example.com",
        "Race@Example.com",
        "race@EXAMPLE.COM",
        "rAcE@example.com",
        "RACE@EXAMPLE.COM",
    ];
    let mut tasks = Vec::new();
    for round in 0..3 {
        for s in spellings {
            let http = gate.http.clone();
            let url = format!("{}/Users", gate.base);
            let token = gate.token.clone();
            let body = user_body(s).to_string();
            tasks.push(tokio::spawn(async move {
                let _ = round;
                http.post(url)
                    .bearer_auth(token)
                    .header("content-type", support::SCIM_JSON)
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }));
        }
    }
    let mut created = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap_or(0) {
            201 => created += 1,
            409 => conflicts += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(created, 1, "exactly one create wins");
    assert_eq!(conflicts, 3 * spellings.len() - 1);
    let found = okta_lookup(&gate, "race@example.com").await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(gate.get("/Users").await.expect(200).body["totalResults"], 1);
}
