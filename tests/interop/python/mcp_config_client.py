#!/usr/bin/env python3
"""Interop check of `switchboard serve --mcp-config FILE`: the official
Python MCP SDK against a Switchboard whose only upstreams come from a
Claude Desktop-style `mcpServers` file (scripts/mcp-config-interop.sh
writes it: server-everything from npm, the fixture server and the built-in
toolset over stdio, and a remote Streamable HTTP server).

    .tools/venv/bin/python tests/interop/python/mcp_config_client.py URL MODE TOOLS_OUT CALL...

MODE is `legacy` or `2026-07-28`. Each CALL is `tool=expected text` (the
tool is called with {"message": "hi"}) or `tool@{json arguments}=expected
text`; the result's text must contain the expected text. The sorted tool names are written to TOOLS_OUT (to compare
the servers of the JSON file with those of its `switchboard import`).
Prints PASS/FAIL lines; exits non-zero if any check failed.
"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from checks import Checks, text_of


async def run(url: str, mode: str, out: str, calls: list[str], checks: Checks) -> None:
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0, read=60.0)) as http:
        transport = streamable_http_client(url, http_client=http, terminate_on_close=True)
        async with Client(transport, mode=mode, read_timeout_seconds=60, cache=None) as client:
            names: list[str] = []
            cursor = None
            while True:
                page = await client.list_tools(cursor=cursor)
                names += [t.name for t in page.tools]
                cursor = page.next_cursor
                if not cursor:
                    break
            names.sort()
            with open(out, "w") as f:
                json.dump(names, f)
            for call in calls:
                tool, want = call.split("=", 1)
                args = {"message": "hi"}
                if "@" in tool:
                    tool, raw = tool.split("@", 1)
                    args = json.loads(raw)
                checks.ok(f"listed {tool} ({mode})", tool in names, f"{len(names)} tools")
                result = await client.call_tool(tool, args)
                got = text_of(result)
                checks.ok(f"call {tool} ({mode})", not result.is_error and want in got, f"got {got!r}")


def main() -> int:
    url, mode, out, *calls = sys.argv[1:]
    checks = Checks()
    try:
        asyncio.run(asyncio.wait_for(run(url, mode, out, calls, checks), 120))
    except Exception as e:  # a failure to connect is a failed check, said plainly
        checks.ok(f"session ({mode})", False, f"{type(e).__name__}: {e}")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
