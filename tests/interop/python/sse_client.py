#!/usr/bin/env python3
"""Interop check: the official Python MCP SDK (mcp 2.x) over the deprecated
2024-11-05 HTTP+SSE transport.

    .tools/venv/bin/python tests/interop/python/sse_client.py BASE_URL

BASE_URL is the server root, e.g. http://127.0.0.1:3000; the SSE endpoint is
BASE_URL/sse. The server must answer GET /sse with an `endpoint` event naming
the POST URL (conventionally /messages?sessionId=...), and send every reply as
an SSE `message` event on the GET stream.

Prints one line per check, "PASS <check> ..." or "FAIL <check>: <why>", and
exits non-zero if any check failed.

SDK notes (mcp 2.3.0):
- `mcp.client.sse.sse_client(url)` is the transport; `Client(transport,
  mode="legacy")` drives it (the initialize handshake is the only way to talk
  over HTTP+SSE, and "auto" would probe with server/discover first).
- `on_session_created` is called with the session id parsed from the
  endpoint URL's query: `sessionId` or `session_id`.
- The SDK only follows an endpoint on the same origin as the SSE URL.
- The client offers its latest handshake version (2025-11-25); the transport,
  not the version, is what makes this "2024-11-05", so any version the server
  echoes from its supported list is accepted.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx2

from mcp import Client, types
from mcp.client.sse import sse_client
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from checks import Checks, text_of


def describe(e: BaseException) -> str:
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    first_line = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {first_line}"


async def run(base_url: str, checks: Checks) -> None:
    sse_url = base_url.rstrip("/") + "/sse"
    seen: dict[str, Any] = {"session_id": None, "posts": []}

    def on_session(session_id: str) -> None:
        seen["session_id"] = session_id

    async def on_request(request: httpx2.Request) -> None:
        if request.method == "POST":
            seen["posts"].append(str(request.url))

    def http_factory(**kwargs: Any) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(event_hooks={"request": [on_request]}, **kwargs)

    transport = sse_client(
        sse_url,
        timeout=30,
        sse_read_timeout=60,
        httpx_client_factory=http_factory,
        on_session_created=on_session,
    )
    client = Client(transport, mode="legacy", read_timeout_seconds=60, cache=None)
    async with client:
        posts = seen["posts"]
        checks.ok(
            "initialize over SSE",
            client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS
            and seen["session_id"] is not None
            and bool(posts)
            and not posts[0].startswith(sse_url),
            f"protocol {client.protocol_version}, endpoint session {seen['session_id']!r}, "
            f"POSTs to {posts[0] if posts else None}",
        )

        names: list[str] = []
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor)
            names += [t.name for t in page.tools]
            cursor = page.next_cursor
            if not cursor:
                break
        checks.ok(
            "tools/list over SSE",
            "echo" in names,
            f"{len(names)} tools" if "echo" in names else f"echo missing in {names}",
        )

        result = await client.call_tool("echo", {"message": "hi over sse"})
        checks.ok(
            "call echo over SSE",
            not result.is_error and text_of(result) == "hi over sse",
            f"got {text_of(result)!r}, isError={result.is_error}",
        )


def main() -> int:
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} BASE_URL   (e.g. http://127.0.0.1:3000; connects to BASE_URL/sse)", file=sys.stderr)
        return 2
    checks = Checks()
    try:
        asyncio.run(run(sys.argv[1], checks))
    except Exception as e:  # noqa: BLE001 - report any SDK/transport failure as a check
        checks.ok("sse session", False, describe(e))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
