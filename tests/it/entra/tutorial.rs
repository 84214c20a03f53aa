//! Microsoft's SCIM endpoint tutorial for Entra ID, replayed as documented: every
//! request of its "SCIM protocol requests and responses" section and of its
//! "Handling provisioning and deprovisioning of users" walkthrough, loaded from
//! `tests/data/entra/` and sent to the real server over HTTP. The tutorial's
//! placeholder ids are replaced by the ids the server gave; the outcome the tutorial
//! documents (status, and the state read back) is asserted.

use std::path::Path;

use reqwest::Method;
use serde_json::Value;

use crate::support::{
    self, sorted_values, Gate, Resp, ENTERPRISE_SCHEMA, GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA,
};

/// One request from the tutorial: its section, the request line as documented, and
/// the body.
pub(super) struct Documented {
    pub section: String,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    pub body: Value,
}

/// Loads `tests/data/entra/<name>.json`.
pub(super) fn documented(name: &str) -> Documented {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/entra")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
    let line = doc["request"].as_str().unwrap_or_default();
    let line = line.strip_suffix(" HTTP/1.1").unwrap_or(line);
    let (method, target) = line
        .split_once(' ')
        .unwrap_or_else(|| panic!("{name}: no request line"));
    // The walkthrough writes the endpoint as `https://.../scim` or `~/scim`.
    let target = ["https://.../scim", "~/scim"]
        .iter()
        .fold(target, |t, base| t.strip_prefix(base).unwrap_or(t));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    Documented {
        section: doc["section"].as_str().unwrap_or(name).to_owned(),
        method: method
            .parse()
            .unwrap_or_else(|_| panic!("{name}: bad method {method}")),
        path: path.to_owned(),
        query,
        body: doc["body"].clone(),
    }
}

impl Documented {
    /// Sends the request as documented, each `(documented id, real id)` replaced.
    pub(super) async fn send(&self, gate: &Gate, ids: &[(&str, &str)]) -> Resp {
        let sub = |s: &str| {
            ids.iter()
                .fold(s.to_owned(), |acc, (from, to)| acc.replace(from, to))
        };
        let mut r = gate.req(self.method.clone(), &sub(&self.path));
        if !self.query.is_empty() {
            r = r.query(&self.query);
        }
        if !self.body.is_null() {
            let body: Value = serde_json::from_str(&sub(&self.body.to_string()))
                .unwrap_or_else(|e| panic!("{}: {e}", self.section));
            r = support::with_json(r, &body);
        }
        support::send(r).await
    }

    /// The documented value of the `Operations[i]` of a PATCH.
    pub(super) fn op_value(&self, i: usize) -> &Value {
        &self.body["Operations"][i]["value"]
    }
}

#[track_caller]
fn status(resp: &Resp, want: u16, doc: &Documented) {
    assert_eq!(
        resp.status, want,
        "{}: unexpected status; body: {}",
        doc.section, resp.text
    );
}

fn schemas_of(v: &Value) -> Vec<String> {
    v["schemas"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn work_email(user: &Value) -> Value {
    user["emails"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["type"] == "work"))
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn user_operations_work_as_documented() {
    let gate = support::start("").await;

    // Create User: 201 with the resource as sent, plus id and meta.
    let create = documented("user-01-create-user");
    let resp = create.send(&gate, &[]).await;
    status(&resp, 201, &create);
    let id = resp.id();
    assert!(!id.is_empty(), "{}", resp.text);
    let sent = &create.body;
    for attr in ["userName", "externalId", "active", "emails", "name"] {
        assert_eq!(resp.body[attr], sent[attr], "{attr}: {}", resp.text);
    }
    assert!(schemas_of(&resp.body).contains(&USER_SCHEMA.to_owned()));
    assert_eq!(resp.body["meta"]["resourceType"], "User");
    assert!(resp.body["meta"]["created"].is_string(), "{}", resp.text);
    let location = resp.header("location").unwrap_or_default().to_owned();
    assert!(location.ends_with(&format!("/Users/{id}")), "{location}");
    let user_name = sent["userName"].as_str().unwrap_or_default();

    // Get User, by the id the server gave.
    let get = documented("user-02-get-user");
    let resp = get.send(&gate, &[("5d48a0a8e9f04aa38008", &id)]).await;
    status(&resp, 200, &get);
    assert_eq!(resp.id(), id);
    assert_eq!(resp.body["userName"], user_name);
    assert_eq!(resp.body["emails"], sent["emails"]);

    // Get User, an id the server never gave: 404 with a SCIM error.
    let missing = documented("user-03-get-user-not-found");
    let resp = missing.send(&gate, &[]).await;
    resp.expect_error(404, None);

    // Get User by query: a ListResponse holding the one user.
    let query = documented("user-04-get-user-by-query");
    let resp = query.send(&gate, &[]).await;
    status(&resp, 200, &query);
    assert_eq!(schemas_of(&resp.body), vec![LIST_SCHEMA.to_owned()]);
    assert_eq!(resp.body["totalResults"], 1, "{}", resp.text);
    assert_eq!(resp.body["startIndex"], 1);
    assert!(resp.body["itemsPerPage"].is_number(), "{}", resp.text);
    assert_eq!(support::ids(&resp.resources()), vec![id.clone()]);

    // Get User by query - Zero results: 200 with an empty ListResponse.
    let zero = documented("user-05-get-user-by-query-zero-results");
    let resp = zero.send(&gate, &[]).await;
    status(&resp, 200, &zero);
    assert_eq!(schemas_of(&resp.body), vec![LIST_SCHEMA.to_owned()]);
    assert_eq!(resp.body["totalResults"], 0, "{}", resp.text);
    assert!(resp.resources().is_empty(), "{}", resp.text);

    // Update User [Multi-valued properties]: the work e-mail and the family name.
    let multi = documented("user-06-update-user-multi-valued");
    let resp = multi.send(&gate, &[("6764549bef60420686bc", &id)]).await;
    status(&resp, 200, &multi);
    let new_mail = multi.op_value(0).clone();
    let new_family = multi.op_value(1).clone();
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    let work = work_email(&got.body);
    assert_eq!(work["value"], new_mail, "{}", got.text);
    assert_eq!(work["primary"], true, "the other sub-attributes stay");
    assert_eq!(got.body["emails"].as_array().map(Vec::len), Some(1));
    assert_eq!(got.body["name"]["familyName"], new_family);
    assert_eq!(got.body["name"]["givenName"], sent["name"]["givenName"]);
    // Entra matches users on the work e-mail: the new address finds the user.
    let filter = format!(
        "emails[type eq \"work\"].value eq \"{}\"",
        new_mail.as_str().unwrap_or_default()
    );
    assert_eq!(
        support::ids(&gate.filter("/Users", &filter).await),
        vec![id.clone()]
    );

    // Update User [Single-valued properties]: a new userName.
    let single = documented("user-07-update-user-single-valued");
    let resp = single.send(&gate, &[("5171a35d82074e068ce2", &id)]).await;
    status(&resp, 200, &single);
    let new_name = single.op_value(0).as_str().unwrap_or_default().to_owned();
    assert_eq!(resp.body["userName"], new_name.as_str());
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["userName"], new_name.as_str());
    let by_old = format!("userName eq \"{user_name}\"");
    assert!(gate.filter("/Users", &by_old).await.is_empty());
    let by_new = format!("userName eq \"{new_name}\"");
    assert_eq!(
        support::ids(&gate.filter("/Users", &by_new).await),
        vec![id.clone()]
    );

    // Disable User: inactive, and still returned (only a DELETE removes it).
    let disable = documented("user-08-disable-user");
    let resp = disable.send(&gate, &[("5171a35d82074e068ce2", &id)]).await;
    status(&resp, 200, &disable);
    assert_eq!(resp.body["active"], false, "{}", resp.text);
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["active"], false);
    assert!(gate
        .running
        .directory
        .user_by_id(&id)
        .is_some_and(|u| !u.active));
    assert_eq!(
        support::ids(&gate.filter("/Users", &by_new).await),
        vec![id.clone()]
    );

    // Delete User: 204, then gone.
    let delete = documented("user-09-delete-user");
    let resp = delete.send(&gate, &[("5171a35d82074e068ce2", &id)]).await;
    status(&resp, 204, &delete);
    assert!(resp.text.is_empty(), "{}", resp.text);
    gate.get(&format!("/Users/{id}"))
        .await
        .expect_error(404, None);
    assert!(gate.running.directory.user_by_id(&id).is_none());
    assert!(gate.filter("/Users", &by_new).await.is_empty());
}

#[tokio::test]
async fn group_operations_work_as_documented() {
    let gate = support::start("").await;
    // The member to add: the tutorial's own Create User request.
    let uid = documented("user-01-create-user")
        .send(&gate, &[])
        .await
        .expect(201)
        .id();

    // Create Group, with Microsoft's ADSCIM schema URI in `schemas`: 201, and the
    // URI the service does not know is not echoed back.
    let create = documented("group-01-create-group");
    let resp = create.send(&gate, &[]).await;
    status(&resp, 201, &create);
    let gid = resp.id();
    assert!(!gid.is_empty(), "{}", resp.text);
    assert_eq!(schemas_of(&resp.body), vec![GROUP_SCHEMA.to_owned()]);
    assert_eq!(resp.body["displayName"], create.body["displayName"]);
    assert_eq!(resp.body["externalId"], create.body["externalId"]);
    assert_eq!(resp.body["meta"]["resourceType"], "Group");
    assert!(
        resp.body["members"].as_array().is_none_or(|m| m.is_empty()),
        "{}",
        resp.text
    );
    let stored = gate.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(schemas_of(&stored.body), vec![GROUP_SCHEMA.to_owned()]);
    assert!(
        !stored.text.contains("schemas.microsoft.com"),
        "{}",
        stored.text
    );

    // Get Group, members excluded.
    let get = documented("group-02-get-group");
    let resp = get.send(&gate, &[("40734ae655284ad3abcc", &gid)]).await;
    status(&resp, 200, &get);
    assert_eq!(resp.id(), gid);
    assert_eq!(resp.body["displayName"], create.body["displayName"]);
    assert!(resp.body.get("members").is_none(), "{}", resp.text);

    // Get Group by displayName, members excluded.
    let by_name = documented("group-03-get-group-by-display-name");
    let resp = by_name.send(&gate, &[]).await;
    status(&resp, 200, &by_name);
    assert_eq!(schemas_of(&resp.body), vec![LIST_SCHEMA.to_owned()]);
    assert_eq!(resp.body["totalResults"], 1, "{}", resp.text);
    assert_eq!(support::ids(&resp.resources()), vec![gid.clone()]);
    assert!(
        resp.resources()[0].get("members").is_none(),
        "{}",
        resp.text
    );

    // Update Group [Non-member attributes]: 204, the new name read back.
    let rename = documented("group-04-update-group-non-member-attributes");
    let resp = rename.send(&gate, &[("fa2ce26709934589afc5", &gid)]).await;
    status(&resp, 204, &rename);
    assert!(resp.text.is_empty(), "{}", resp.text);
    let got = gate.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(got.body["displayName"], *rename.op_value(0));
    let resp = by_name.send(&gate, &[]).await.expect(200);
    assert_eq!(resp.body["totalResults"], 0, "the old name is free");

    // Update Group [Add Members]: 204, the member read back on both sides.
    let ids = [
        ("a99962b9f99d4c4fac67", gid.as_str()),
        ("f648f8d5ea4e4cd38e9c", uid.as_str()),
    ];
    let add = documented("group-05-update-group-add-members");
    let resp = add.send(&gate, &ids).await;
    status(&resp, 204, &add);
    assert!(resp.text.is_empty(), "{}", resp.text);
    assert_eq!(gate.member_ids(&gid).await, vec![uid.clone()]);
    let user = gate.get(&format!("/Users/{uid}")).await.expect(200);
    assert_eq!(sorted_values(&user.body["groups"]), vec![gid.clone()]);

    // Update Group [Remove Members]: 204, no members left.
    let remove = documented("group-06-update-group-remove-members");
    let resp = remove.send(&gate, &ids).await;
    status(&resp, 204, &remove);
    assert!(gate.member_ids(&gid).await.is_empty());
    let user = gate.get(&format!("/Users/{uid}")).await.expect(200);
    assert!(user.body.get("groups").is_none(), "{}", user.text);

    // Delete Group: 204, then gone; the former member stays.
    let delete = documented("group-07-delete-group");
    let resp = delete.send(&gate, &[("cdb1ce18f65944079d37", &gid)]).await;
    status(&resp, 204, &delete);
    gate.get(&format!("/Groups/{gid}"))
        .await
        .expect_error(404, None);
    gate.get(&format!("/Users/{uid}")).await.expect(200);
}

#[tokio::test]
async fn schema_discovery_lists_the_documented_schemas() {
    let gate = support::start("").await;
    let discover = documented("schema-01-discover-schema");
    let resp = discover.send(&gate, &[]).await;
    status(&resp, 200, &discover);
    assert_eq!(schemas_of(&resp.body), vec![LIST_SCHEMA.to_owned()]);
    let listed = support::ids(&resp.resources());
    for id in [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA] {
        assert!(
            listed.contains(&id.to_owned()),
            "{id} missing from {listed:?}"
        );
    }
    let user = resp
        .resources()
        .into_iter()
        .find(|s| s["id"] == USER_SCHEMA)
        .unwrap_or_default();
    let user_name = user["attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["name"] == "userName"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(user_name["required"], true, "{user}");
    assert_eq!(user_name["uniqueness"], "server");
}

#[tokio::test]
async fn walkthrough_requests_work_as_documented() {
    let gate = support::start("").await;
    let manager = gate.create_user("manager@example.com").await["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Example 2: provisioning with a misspelt enterprise URN (`…:2.0User`) and nulls
    // for attributes it has no value for. The URN is ignored, not echoed.
    let provision = documented("walkthrough-02-provision-user");
    let resp = provision.send(&gate, &[]).await;
    status(&resp, 201, &provision);
    let id = resp.id();
    assert_eq!(schemas_of(&resp.body), vec![USER_SCHEMA.to_owned()]);
    for attr in [
        "userName",
        "externalId",
        "displayName",
        "emails",
        "name",
        "active",
    ] {
        assert_eq!(
            resp.body[attr], provision.body[attr],
            "{attr}: {}",
            resp.text
        );
    }
    for absent in [
        "addresses",
        "phoneNumbers",
        "title",
        "department",
        "manager",
    ] {
        assert!(resp.body.get(absent).is_none(), "{absent}: {}", resp.text);
    }

    // Example 1: the walkthrough writes the externalId query without quotes, which
    // the filter grammar (RFC 7644 §3.4.2.2) does not allow: 400 invalidFilter, as
    // for any malformed filter. Quoted, as Entra sends it, it finds the user.
    let query = documented("walkthrough-01-query-user-by-external-id");
    query
        .send(&gate, &[])
        .await
        .expect_error(400, Some("invalidFilter"));
    let external = provision.body["externalId"].as_str().unwrap_or_default();
    let found = gate
        .filter("/Users", &format!("externalId eq \"{external}\""))
        .await;
    assert_eq!(support::ids(&found), vec![id.clone()]);

    // Example 3: the current state.
    let user_path_id = "a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1";
    let state = documented("walkthrough-03-query-user-state");
    let resp = state.send(&gate, &[(user_path_id, &id)]).await;
    status(&resp, 200, &state);
    assert_eq!(resp.id(), id);

    // Example 5: the manager, by an unqualified path and a one-element array.
    let update = documented("walkthrough-05-update-user-manager");
    let resp = update
        .send(
            &gate,
            &[
                (user_path_id, &id),
                ("00aa00aa-bb11-cc22-dd33-44ee44ee44ee", &manager),
            ],
        )
        .await;
    status(&resp, 200, &update);
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(
        got.body[ENTERPRISE_SCHEMA]["manager"]["value"],
        manager.as_str(),
        "{}",
        got.text
    );
    assert!(schemas_of(&got.body).contains(&ENTERPRISE_SCHEMA.to_owned()));
    // Example 4 checks the manager with a filter on `manager`: it finds the user.
    let filter = format!("id eq \"{id}\" and manager eq \"{manager}\"");
    assert_eq!(
        support::ids(&gate.filter("/Users", &filter).await),
        vec![id.clone()]
    );

    // Example 6: deprovisioning.
    let delete = documented("walkthrough-06-deprovision-user");
    let resp = delete.send(&gate, &[(user_path_id, &id)]).await;
    status(&resp, 204, &delete);
    gate.get(&format!("/Users/{id}"))
        .await
        .expect_error(404, None);
}
