//! Fuzz target: SCIM filter parsing, and evaluation of every filter that
//! parses against a fixed User and a fixed Group.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scimgate_scim::filter::parse_filter;
use scimgate_scim::schema::ResourceKind;
use serde_json::{json, Value};

fn resources() -> &'static (Value, Value) {
    static R: OnceLock<(Value, Value)> = OnceLock::new();
    R.get_or_init(|| {
        let user = json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "e1",
            "userName": "bjensen@example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "groups": [{"value": "g1", "display": "Eng"}],
            "meta": {"resourceType": "User", "lastModified": "2011-05-13T04:42:34Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "manager": {"value": "m1"}
            }
        });
        let group = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "g1",
            "displayName": "Eng",
            "members": [{"value": "u1", "type": "User"}]
        });
        (user, group)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(f) = parse_filter(s, 16) {
        let (user, group) = resources();
        let _ = f.matches(ResourceKind::User, user);
        let _ = f.matches(ResourceKind::Group, group);
        let _ = f.as_equality();
    }
});
