//! Writes to several replica processes at once (`scimgate serve`, started together on
//! a fresh database): exactly one of two same-name creates wins, and concurrent
//! membership changes to one group all land. The store's own stale-plan refusal is
//! tested on a store handle in the test process.

use reqwest::Method;
use serde_json::json;

use super::env::{store_yaml, TestDb};
use super::procs::{give_token, start_together, Proc};
use crate::support::{sorted_values, GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA};

async fn replicas(db: &TestDb, n: usize) -> Vec<Proc> {
    let mut rs = start_together(n, &store_yaml(&db.url(), 10.0), &[]).await;
    let token = db.token("idp").await;
    give_token(&mut rs, &token);
    rs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_user_name_on_two_replicas_at_once_is_created_once() {
    let db = TestDb::create().await;
    let rs = replicas(&db, 2).await;
    for i in 0..25 {
        let name = format!("twin{i}");
        let upper = name.to_uppercase();
        let (a, b) = tokio::join!(rs[0].create_user(&name), rs[1].create_user(&upper));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "trial {i}: {} / {}", a.text, b.text);
        let loser = if a.status == 409 { &a } else { &b };
        loser.expect_error(409, Some("uniqueness"));
        // Both replicas list exactly one such user.
        for r in &rs {
            let list = r
                .scim(
                    Method::GET,
                    &format!("/Users?filter=userName%20eq%20%22{name}%22"),
                    None,
                )
                .await
                .expect(200);
            assert_eq!(list.body["totalResults"], 1, "trial {i}: {}", list.text);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_to_one_group_lose_no_member() {
    let db = TestDb::create().await;
    let rs = replicas(&db, 3).await;
    let mut users = Vec::new();
    for i in 0..45 {
        let r = &rs[i % 3];
        users.push(r.create_user(&format!("m{i}")).await.expect(201).id());
    }
    let group = rs[0]
        .scim(
            Method::POST,
            "/Groups",
            Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": "team", "members": []})),
        )
        .await
        .expect(201)
        .id();
    // Each replica adds its own members one PATCH at a time, all at once; one of
    // them also removes a member the others add to no one.
    let tasks: Vec<_> = (0..3)
        .map(|k| {
            let mine: Vec<String> = users.iter().skip(k).step_by(3).cloned().collect();
            let url = format!("{}/scim/v2/Groups/{group}", rs[k].root());
            let (http, token) = (rs[k].http.clone(), rs[k].token.clone());
            tokio::spawn(async move {
                for id in mine {
                    let body = json!({"schemas": [PATCH_SCHEMA], "Operations": [
                        {"op": "add", "path": "members", "value": [{"value": id}]}]});
                    let r = http
                        .patch(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/scim+json")
                        .body(body.to_string())
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut want = users.clone();
    want.sort();
    for (k, r) in rs.iter().enumerate() {
        super::env::eventually(
            std::time::Duration::from_secs(5),
            "members converge",
            || async {
                let g = r.scim(Method::GET, &format!("/Groups/{group}"), None).await;
                sorted_values(&g.body["members"]) == want
            },
        )
        .await;
        // A user body works as a sanity check of the replica's own copy.
        let u = r
            .scim(Method::GET, &format!("/Users/{}", users[k]), None)
            .await
            .expect(200);
        assert_eq!(u.body["schemas"][0], USER_SCHEMA);
    }
}

fn put_user(ord: u32, name: &str) -> scimgate::record::Change {
    use scimgate::record::UserRecord;
    use std::sync::Arc;
    let user = UserRecord {
        created: 1,
        modified: 1,
        scim_managed: true,
        ..UserRecord::new(ord, format!("id-{ord}"), name)
    };
    scimgate::record::Change {
        at: 1,
        actor: "scim:test".into(),
        action: "user.create",
        resource_type: "User",
        resource_id: user.id.to_string(),
        before: None,
        after: None,
        ops: vec![scimgate::record::StoreOp::PutUser(Arc::new(user))],
    }
}

#[tokio::test]
async fn a_commit_planned_on_an_old_head_is_refused_as_stale() {
    use scimgate::record::StoreOp;
    use scimgate::store::{Store, StoreError};
    let db = TestDb::create().await;
    let store = db.store().await;
    tokio::task::spawn_blocking(move || {
        assert_eq!(
            store.commit_planned_at(0, &[put_user(0, "ann")]).unwrap(),
            vec![1]
        );
        // Planned at 0, but the head is 1 now: another writer went first.
        match store.commit_planned_at(0, &[put_user(1, "bob")]) {
            Err(StoreError::Stale { head: 1, base: 0 }) => {}
            other => panic!("expected a stale refusal, got {other:?}"),
        }
        assert_eq!(
            store.load().unwrap().users.len(),
            1,
            "nothing of the stale batch stays"
        );
        assert_eq!(
            store.commit_planned_at(1, &[put_user(1, "bob")]).unwrap(),
            vec![2]
        );
        // The database's unique constraint is the backstop for a plan that slipped.
        match store.commit_planned_at(2, &[put_user(2, "ANN")]) {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("expected a conflict, got {other:?}"),
        }
        // What followers replay is exactly what was committed.
        let changes = store.changes_since(0, 10).unwrap();
        assert_eq!(changes.iter().map(|c| c.0).collect::<Vec<_>>(), vec![1, 2]);
        match &changes[1].1.ops[..] {
            [StoreOp::PutUser(u)] => assert_eq!((u.ord, &*u.user_name), (1, "bob")),
            other => panic!("unexpected ops {other:?}"),
        }
        assert!(store.changes_since(2, 10).unwrap().is_empty());
    })
    .await
    .unwrap();
}
