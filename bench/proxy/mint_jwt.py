#!/usr/bin/env python3
"""Makes the bench's JWT issuer with the openssl command and the standard library only.

Writes, in OUT_DIR: `issuer-key.pem` (a P-256 key), `jwks.json` (its public key as a
JWK set, kid "bench-1") and `token` (an ES256 bearer JWT for USER_NAME, valid for two
hours). Nothing secret is printed.

usage: mint_jwt.py OUT_DIR ISSUER AUDIENCE USER_NAME
"""

import base64
import json
import os
import subprocess
import sys
import time

KID = "bench-1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def openssl(*args: str, stdin: bytes = b"") -> bytes:
    return subprocess.run(
        ["openssl", *args], input=stdin, check=True, capture_output=True
    ).stdout


def der_length(sig: bytes, i: int) -> tuple[int, int]:
    """Reads a DER length at `i`; returns (length, index after it)."""
    first = sig[i]
    if first < 0x80:
        return first, i + 1
    n = first & 0x7F
    return int.from_bytes(sig[i + 1 : i + 1 + n], "big"), i + 1 + n


def ecdsa_der_to_raw(sig: bytes) -> bytes:
    """DER `SEQUENCE { INTEGER r, INTEGER s }` to JOSE's fixed r || s (32 bytes each)."""
    if sig[0] != 0x30:
        raise ValueError("not a DER sequence")
    _, i = der_length(sig, 1)
    out = b""
    for _ in range(2):
        if sig[i] != 0x02:
            raise ValueError("not a DER integer")
        n, i = der_length(sig, i + 1)
        value = sig[i : i + n].lstrip(b"\x00")
        if len(value) > 32:
            raise ValueError("integer longer than 32 bytes")
        out += value.rjust(32, b"\x00")
        i += n
    return out


def main() -> None:
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    out_dir, issuer, audience, user_name = sys.argv[1:]
    key_path = os.path.join(out_dir, "issuer-key.pem")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key_path)
    os.chmod(key_path, 0o600)
    spki = openssl("ec", "-in", key_path, "-pubout", "-outform", "DER")
    point = spki[-65:]
    if point[0] != 0x04:
        sys.exit("unexpected public key encoding")
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "use": "sig",
        "alg": "ES256",
        "kid": KID,
        "x": b64url(point[1:33]),
        "y": b64url(point[33:65]),
    }
    with open(os.path.join(out_dir, "jwks.json"), "w") as f:
        json.dump({"keys": [jwk]}, f)

    now = int(time.time())
    header = {"alg": "ES256", "typ": "JWT", "kid": KID}
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": user_name,
        "preferred_username": user_name,
        "iat": now,
        "nbf": now - 10,
        "exp": now + 7200,
    }
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    der = openssl("dgst", "-sha256", "-sign", key_path, stdin=signing_input.encode())
    token = signing_input + "." + b64url(ecdsa_der_to_raw(der))
    token_path = os.path.join(out_dir, "token")
    with open(token_path, "w") as f:
        f.write(token)
    os.chmod(token_path, 0o600)


if __name__ == "__main__":
    main()
