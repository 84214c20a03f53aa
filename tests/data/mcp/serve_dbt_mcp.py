"""Runs the real dbt-mcp server over streamable HTTP on 127.0.0.1:PORT, recording
every HTTP request that reaches it (method and body, one JSON line each) in RECORD.

    serve_dbt_mcp.py PORT RECORD

dbt-mcp's own entry point (`dbt-mcp`, MCP_TRANSPORT=streamable-http) always listens on
port 8000; this builds the same server (dbt_mcp.main: load_config, create_dbt_mcp)
and serves its streamable HTTP app behind a recording wrapper on the given port.
Configuration comes from the environment, as for `dbt-mcp` (DBT_PROJECT_DIR, DBT_PATH,
DISABLE_*).
"""

import asyncio
import json
import sys

import uvicorn
from dbt_mcp.config.config import load_config
from dbt_mcp.mcp.server import create_dbt_mcp


def main() -> None:
    port, record = int(sys.argv[1]), sys.argv[2]
    server = asyncio.run(create_dbt_mcp(load_config()))
    app = server.streamable_http_app()

    async def recording(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        chunks = []

        async def receive_and_record():
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    line = {
                        "method": scope["method"],
                        "body": b"".join(chunks).decode("utf-8", "replace"),
                    }
                    with open(record, "a", encoding="utf-8") as f:
                        f.write(json.dumps(line) + "\n")
            return message

        await app(scope, receive_and_record, send)

    uvicorn.run(recording, host="127.0.0.1", port=port, log_level="info")


if __name__ == "__main__":
    main()
