#!/usr/bin/env python3
"""Opens N keep-alive connections to a proxy, one authorized GET on each, and holds them.

The connections row of `bench/proxy/run` reads the server's resident memory while they
are held: each connection has served one request and waits, idle, for the next, as a
browser's or an API client's keep-alive connection does between requests. The
requests are sent one connection at a time, so the server never has more than one in
flight. When every connection is open (or has failed), the counts are written to
READY_FILE; then the process sleeps until it is killed, which closes them all.

usage: BENCH_TOKEN=<bearer token> hold_conns.py HOST:PORT PATH N READY_FILE
"""

import os
import signal
import socket
import sys


def one_request(sock: socket.socket, host: str, path: str, token: str) -> bool:
    """Sends one GET and reads the whole answer; whether it was a 200."""
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        return False
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return False
        body += chunk
    return lines[0].split(b" ")[1:2] == [b"200"]


def main() -> None:
    addr, path, count, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    token = os.environ["BENCH_TOKEN"]
    host, port = addr.rsplit(":", 1)
    held = []
    answered = failed = 0
    for _ in range(count):
        try:
            sock = socket.create_connection((host, int(port)), timeout=30)
            ok = one_request(sock, addr, path, token)
        except OSError:
            failed += 1
            continue
        if ok:
            answered += 1
            held.append(sock)
        else:
            failed += 1
            sock.close()
    with open(ready + ".tmp", "w") as f:
        f.write(f"connections {count}\nanswered_200 {answered}\nfailed {failed}\n")
    os.rename(ready + ".tmp", ready)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
