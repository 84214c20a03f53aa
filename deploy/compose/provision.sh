#!/bin/sh
# The docker-compose demo's IdP stand-in: pushes two users and two groups to
# scimgate by SCIM, as Okta or Entra ID would. The SCIM token was written by
# the `token` service (scimgate token create demo). SCIMGATE_URL is replica
# a's address (default: its compose service name).
set -eu
token="$(cat /run/demo/token)"
gate="${SCIMGATE_URL:-http://scimgate-a:8080}"
base="$gate/scim/v2"
for _ in $(seq 60); do
	curl -fsS "$gate/readyz" >/dev/null 2>&1 && break
	sleep 1
done
scim() { # METHOD PATH [BODY]
	curl -sS -X "$1" "$base$2" -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/scim+json' ${3:+-d "$3"}
}
user() { # USERNAME: prints the new user's id
	scim POST /Users "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"$1\",\"active\":true,\"emails\":[{\"value\":\"$1@example.com\",\"primary\":true}]}" |
		sed -n 's/.*"id":"\([^"]*\)".*/\1/p'
}
existing() { # USERNAME: prints the id of an existing user
	scim GET "/Users?filter=userName%20eq%20%22$1%22" |
		sed -n 's/.*"Resources":\[{[^]]*"id":"\([^"]*\)".*/\1/p'
}
analyst="$(existing analyst)"
[ -n "$analyst" ] || analyst="$(user analyst)"
admin="$(existing admin)"
[ -n "$admin" ] || admin="$(user admin)"
[ -n "$(existing viewer)" ] || user viewer >/dev/null
scim POST /Groups "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"analysts\",\"members\":[{\"value\":\"$analyst\"}]}" >/dev/null
scim POST /Groups "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"scimgate-admins\",\"members\":[{\"value\":\"$admin\"}]}" >/dev/null
cat <<EOT
scimgate demo ready:
  http://localhost:8081/ and http://localhost:8082/ are two replicas of one directory.
  Sign in (any password) as "analyst" (the docs), "viewer" (the 403 page) or
  "admin" (the admin UI at /.scimgate/admin/).
  SCIM base URL http://localhost:8081/scim/v2, token: $token
EOT
