#!/bin/sh
# The official postgres image's start-up contract, small: on an empty PGDATA,
# initdb with POSTGRES_USER/POSTGRES_PASSWORD (password auth over TCP) and
# create POSTGRES_DB; then run the command as the postgres user.
set -eu
if [ "$(id -u)" = 0 ]; then
	install -d -o postgres -g postgres -m 0700 "$PGDATA"
	install -d -o postgres -g postgres -m 2775 /var/run/postgresql
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
	user="${POSTGRES_USER:-postgres}"
	pwfile="$(mktemp)"
	printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" >"$pwfile"
	initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
		--encoding=UTF8 -D "$PGDATA" >/dev/null
	rm -f "$pwfile"
	printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	db="${POSTGRES_DB:-$user}"
	if [ "$db" != postgres ]; then
		echo "CREATE DATABASE \"$db\" OWNER \"$user\"" | postgres --single -D "$PGDATA" -j postgres >/dev/null
	fi
	echo "postgres-entrypoint: initialised $PGDATA (database $db)"
fi
exec "$@"
