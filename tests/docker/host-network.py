"""Writes the compose file for scripts/docker-e2e: docker-compose.yml with
every service on the host's network (network_mode: host), its `ports` and
`networks` dropped (they mean nothing there, and Compose refuses `networks`
next to `network_mode`), and nothing else changed. An override file cannot
remove keys, so this is done here; tests/docker/compose.host.yml adds the
rest (loopback ports, local images) on top.

    python host-network.py docker-compose.yml OUT.yml
"""
import sys

import yaml

with open(sys.argv[1]) as f:
    compose = yaml.safe_load(f)
for service in compose["services"].values():
    service.pop("ports", None)
    service.pop("networks", None)
    service["network_mode"] = "host"
compose.pop("networks", None)
with open(sys.argv[2], "w") as f:
    yaml.safe_dump(compose, f, sort_keys=False)
