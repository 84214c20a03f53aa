//! Groups in groups: a user's effective groups include every group that contains one
//! of theirs; cycles are refused; unnesting takes the indirect membership away.

use serde_json::{json, Value};

use crate::support::{self, patch_ops, version, Gate};

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// `(group id, type)` of a user's `groups`, sorted.
async fn user_groups(gate: &Gate, uid: &str) -> Vec<(String, String)> {
    let u = gate.get(&format!("/Users/{uid}")).await.expect(200);
    let mut out: Vec<(String, String)> = u.body["groups"]
        .as_array()
        .map(|gs| {
            gs.iter()
                .map(|g| {
                    (
                        g["value"].as_str().unwrap_or_default().to_owned(),
                        g["type"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The names of a user's effective groups, from the directory, sorted.
fn effective(gate: &Gate, user_name: &str) -> Vec<String> {
    let dir = &gate.running.directory;
    let user = dir.user_by_name(user_name).expect("user in directory");
    let mut names: Vec<String> = dir
        .effective_groups(user.ord)
        .iter()
        .filter_map(|g| dir.group(*g))
        .map(|g| g.display_name.to_string())
        .collect();
    names.sort();
    names
}

fn pair(id: &str, kind: &str) -> (String, String) {
    (id.to_owned(), kind.to_owned())
}

fn sorted_pairs(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

async fn add_member(gate: &Gate, gid: &str, member: &str) -> support::Resp {
    gate.patch(
        &format!("/Groups/{gid}"),
        &patch_ops(json!([{"op": "add", "path": "members", "value": [{"value": member}]}])),
    )
    .await
}

#[tokio::test]
async fn user_groups_show_direct_and_indirect() {
    let gate = support::start("").await;
    let u = id_of(&gate.create_user("nested@example.com").await);
    let a = id_of(&gate.create_group("A", &[&u]).await);
    let b = id_of(&gate.create_group("B", &[&a]).await);
    // C contains B by a PATCH, D contains the user directly and A.
    let c = id_of(&gate.create_group("C", &[]).await);
    let resp = add_member(&gate, &c, &b).await;
    assert!(resp.status == 204 || resp.status == 200, "{}", resp.text);
    let d = id_of(&gate.create_group("D", &[&u, &a]).await);
    // An unrelated group.
    gate.create_group("E", &[]).await;

    assert_eq!(
        user_groups(&gate, &u).await,
        sorted_pairs(vec![
            pair(&a, "direct"),
            pair(&b, "indirect"),
            pair(&c, "indirect"),
            pair(&d, "direct"),
        ])
    );
    assert_eq!(
        effective(&gate, "nested@example.com"),
        vec!["A", "B", "C", "D"]
    );

    // The group lists its group member with type Group.
    let gb = gate.get(&format!("/Groups/{b}")).await.expect(200);
    assert_eq!(gb.body["members"][0]["value"], a.as_str());
    assert_eq!(gb.body["members"][0]["type"], "Group");

    // A user added later to A gets the whole chain at once.
    let v = id_of(&gate.create_user("late@example.com").await);
    let resp = add_member(&gate, &a, &v).await;
    assert!(resp.status == 204 || resp.status == 200, "{}", resp.text);
    assert_eq!(
        effective(&gate, "late@example.com"),
        vec!["A", "B", "C", "D"]
    );
}

#[tokio::test]
async fn cycles_are_refused_and_nothing_changes() {
    let gate = support::start("").await;
    let u = id_of(&gate.create_user("cyc@example.com").await);
    let a = id_of(&gate.create_group("CycA", &[&u]).await);
    let b = id_of(&gate.create_group("CycB", &[&a]).await);
    let c = id_of(&gate.create_group("CycC", &[&b]).await);
    let before_a = gate.get(&format!("/Groups/{a}")).await.expect(200).body;
    let before_b = gate.get(&format!("/Groups/{b}")).await.expect(200).body;
    let before_c = gate.get(&format!("/Groups/{c}")).await.expect(200).body;
    let before_eff = effective(&gate, "cyc@example.com");

    // B in A (A is already in B), by PATCH add.
    add_member(&gate, &a, &b)
        .await
        .expect_error(400, Some("invalidValue"));
    // A in A.
    add_member(&gate, &a, &a)
        .await
        .expect_error(400, Some("invalidValue"));
    // A longer loop: C in A (A in B in C).
    add_member(&gate, &a, &c)
        .await
        .expect_error(400, Some("invalidValue"));
    // By PATCH replace of members.
    gate.patch(
        &format!("/Groups/{a}"),
        &patch_ops(
            json!([{"op": "replace", "path": "members", "value": [{"value": u}, {"value": c}]}]),
        ),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    // By PUT.
    gate.put(
        &format!("/Groups/{a}"),
        &support::group_body("CycA", &[&u, &b]),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    gate.put(
        &format!("/Groups/{b}"),
        &support::group_body("CycB", &[&a, &b]),
    )
    .await
    .expect_error(400, Some("invalidValue"));

    for (id, before) in [(&a, &before_a), (&b, &before_b), (&c, &before_c)] {
        let after = gate.get(&format!("/Groups/{id}")).await.expect(200);
        assert_eq!(&after.body, before);
        assert_eq!(version(&after.body), "W/\"1\"");
    }
    assert_eq!(effective(&gate, "cyc@example.com"), before_eff);
    assert_eq!(before_eff, vec!["CycA", "CycB", "CycC"]);
    // The directory is still usable: a legal nesting works.
    let d = id_of(&gate.create_group("CycD", &[]).await);
    let resp = add_member(&gate, &d, &c).await;
    assert!(resp.status == 204 || resp.status == 200, "{}", resp.text);
    assert_eq!(
        effective(&gate, "cyc@example.com"),
        vec!["CycA", "CycB", "CycC", "CycD"]
    );
}

#[tokio::test]
async fn removing_the_nested_group_removes_the_indirect_membership() {
    let gate = support::start("").await;
    let u = id_of(&gate.create_user("unnest@example.com").await);
    let a = id_of(&gate.create_group("Inner", &[&u]).await);
    let b = id_of(&gate.create_group("Outer", &[&a]).await);
    let c = id_of(&gate.create_group("Outermost", &[&b]).await);
    assert_eq!(
        effective(&gate, "unnest@example.com"),
        vec!["Inner", "Outer", "Outermost"]
    );

    // Take Inner out of Outer.
    let resp = gate
        .patch(
            &format!("/Groups/{b}"),
            &patch_ops(json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}])),
        )
        .await;
    assert!(resp.status == 204 || resp.status == 200, "{}", resp.text);
    assert_eq!(user_groups(&gate, &u).await, vec![pair(&a, "direct")]);
    assert_eq!(effective(&gate, "unnest@example.com"), vec!["Inner"]);
    // Outer still sits in Outermost.
    assert_eq!(gate.member_ids(&c).await, vec![b.clone()]);

    // Nest again, then delete the middle group.
    let resp = add_member(&gate, &b, &a).await;
    assert!(resp.status == 204 || resp.status == 200, "{}", resp.text);
    assert_eq!(
        effective(&gate, "unnest@example.com"),
        vec!["Inner", "Outer", "Outermost"]
    );
    let resp = gate.delete(&format!("/Groups/{b}")).await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    assert_eq!(effective(&gate, "unnest@example.com"), vec!["Inner"]);
    assert_eq!(user_groups(&gate, &u).await, vec![pair(&a, "direct")]);
    let outermost = gate.get(&format!("/Groups/{c}")).await.expect(200);
    assert!(
        outermost.body.get("members").is_none(),
        "{}",
        outermost.text
    );

    // Replacing the members of a parent by PUT drops the nested group too.
    let d = id_of(&gate.create_group("Parent", &[&a]).await);
    assert_eq!(
        effective(&gate, "unnest@example.com"),
        vec!["Inner", "Parent"]
    );
    gate.put(&format!("/Groups/{d}"), &support::group_body("Parent", &[]))
        .await
        .expect(200);
    assert_eq!(effective(&gate, "unnest@example.com"), vec!["Inner"]);

    // Deleting the inner group leaves the user in none.
    let resp = gate.delete(&format!("/Groups/{a}")).await;
    assert_eq!(resp.status, 204);
    assert!(effective(&gate, "unnest@example.com").is_empty());
    assert!(user_groups(&gate, &u).await.is_empty());
}

#[tokio::test]
async fn group_member_of_a_group_is_listed_by_the_group_lookup() {
    let gate = support::start("").await;
    let a = id_of(&gate.create_group("Child", &[]).await);
    let b = id_of(&gate.create_group("Parent Group", &[&a]).await);
    let dir = &gate.running.directory;
    let child = dir.group_by_name("child").expect("case-insensitive lookup");
    let parent = dir
        .group_by_name("PARENT GROUP")
        .expect("case-insensitive lookup");
    assert_eq!(&*child.id, a.as_str());
    assert_eq!(&*parent.id, b.as_str());
    assert!(dir.group_contains(parent.ord, child.ord));
    assert!(!dir.group_contains(child.ord, parent.ord));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_opposite_nestings_never_both_succeed() {
    let gate = support::start("").await;
    for round in 0..10 {
        let a = id_of(&gate.create_group(&format!("RaceA{round}"), &[]).await);
        let b = id_of(&gate.create_group(&format!("RaceB{round}"), &[]).await);
        let add = |group: String, member: String| {
            let http = gate.http.clone();
            let url = format!("{}/Groups/{group}", gate.base);
            let token = gate.token.clone();
            let body =
                patch_ops(json!([{"op": "add", "path": "members", "value": [{"value": member}]}]))
                    .to_string();
            tokio::spawn(async move {
                http.patch(url)
                    .bearer_auth(token)
                    .header("content-type", support::SCIM_JSON)
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        };
        let t1 = add(a.clone(), b.clone());
        let t2 = add(b.clone(), a.clone());
        let s1 = t1.await.unwrap_or(0);
        let s2 = t2.await.unwrap_or(0);
        let ok = |s: u16| s == 204 || s == 200;
        assert!(
            ok(s1) != ok(s2),
            "round {round}: exactly one nesting may win, got {s1} and {s2}"
        );
        assert!(s1 == 400 || s2 == 400, "round {round}: {s1} {s2}");
        let dir = &gate.running.directory;
        let (ga, gb) = (
            dir.group_by_id(&a).expect("A"),
            dir.group_by_id(&b).expect("B"),
        );
        assert!(
            !(dir.group_contains(ga.ord, gb.ord) && dir.group_contains(gb.ord, ga.ord)),
            "round {round}: a cycle was stored"
        );
    }
}
