#!/usr/bin/env bash
# Create a self-signed development TLS certificate and key for
# localhost / 127.0.0.1 / ::1:
#   certs/dev-cert.pem   certificate (PEM)
#   certs/dev-key.pem    private key (PEM, PKCS#8, mode 0600)
# DEV_CERT_DIR=<dir> writes the two files there instead (bench/proxy/run uses it).
# Does nothing when both files exist, unless --force is given.
# Prints the two paths. Development only: never use or commit these files.
set -euo pipefail

DIR="${DEV_CERT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
CERT="$DIR/dev-cert.pem"
KEY="$DIR/dev-key.pem"
DAYS="${DEV_CERT_DAYS:-365}"

usage() {
	echo "usage: $0 [--force]" >&2
	exit 2
}

force=0
for arg in "$@"; do
	case "$arg" in
	--force | -f) force=1 ;;
	-h | --help) usage ;;
	*)
		echo "make-dev-cert: unknown argument: $arg" >&2
		usage
		;;
	esac
done

if [ "$force" -eq 0 ] && [ -s "$CERT" ] && [ -s "$KEY" ]; then
	echo "make-dev-cert: keeping existing files (use --force to regenerate)" >&2
	printf 'cert: %s\nkey:  %s\n' "$CERT" "$KEY"
	exit 0
fi

if ! command -v openssl >/dev/null 2>&1; then
	echo "make-dev-cert: openssl not found (Debian: apt-get install openssl)" >&2
	exit 1
fi

umask 077
work="$(mktemp -d "$DIR/.make-dev-cert.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# An explicit config keeps the certificate a plain end-entity (CA:FALSE):
# rustls refuses a CA certificate presented as a server certificate.
cat >"$work/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = server

[dn]
CN = localhost
O = scimgate development

[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
CNF

openssl req -x509 -new -nodes -config "$work/openssl.cnf" \
	-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	-keyout "$work/key.pem" -out "$work/cert.pem" -days "$DAYS" 2>"$work/openssl.log" || {
	cat "$work/openssl.log" >&2
	exit 1
}

chmod 0600 "$work/key.pem"
chmod 0644 "$work/cert.pem"
mv -f "$work/key.pem" "$KEY"
mv -f "$work/cert.pem" "$CERT"

printf 'cert: %s\nkey:  %s\n' "$CERT" "$KEY"
