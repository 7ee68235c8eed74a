#!/usr/bin/env python3
"""Interop check: the official Python MCP SDK (mcp 2.x) against a server, in
legacy mode (initialize handshake, session-based Streamable HTTP, 2025-11-25).

    .tools/venv/bin/python tests/interop/python/legacy_client.py URL

Prints one line per check, "PASS <check> ..." or "FAIL <check>: <why>", and
exits non-zero if any check failed.

SDK notes (mcp 2.3.0):
- `Client(transport, mode="legacy")` forces the initialize handshake; the
  default mode "auto" would probe 2026-07-28 `server/discover` first.
- Progress: `client.call_tool(..., progress_callback=fn)`, where
  fn(progress, total, message) is async.
- Elicitation: `Client(elicitation_callback=fn)`, fn(context, params) async,
  returning `types.ElicitResult`; passing it declares the capability.
- Termination: there is no public "terminate" call. The Streamable HTTP
  transport sends DELETE (terminate_on_close=True) when the Client context
  exits, and only logs the status. The session id is not exposed either, so we
  hand the transport our own httpx2 client and watch responses with a hook.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx2

from mcp import Client, types
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client

from checks import Checks, text_of

PROTOCOL_VERSION = "2025-11-25"
ELICIT_ANSWER = {"username": "u", "email": "e@x.org"}


def describe(e: BaseException) -> str:
    # anyio task groups wrap the real error in (nested) exception groups.
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return f"{type(e).__name__}: {e}"


async def run(url: str, checks: Checks) -> None:
    # What the HTTP layer saw: the session id the server issued, DELETE status.
    seen: dict[str, Any] = {"session_id": None, "delete_status": None}

    async def on_response(response: httpx2.Response) -> None:
        if sid := response.headers.get("mcp-session-id"):
            seen["session_id"] = sid
        if response.request.method == "DELETE":
            seen["delete_status"] = response.status_code

    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    elicitations: list[types.ElicitRequestParams] = []

    async def on_elicit(
        _ctx: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        elicitations.append(params)
        return types.ElicitResult(action="accept", content=dict(ELICIT_ANSWER))

    timeout = httpx2.Timeout(30.0, read=60.0)
    async with httpx2.AsyncClient(timeout=timeout, event_hooks={"response": [on_response]}) as http:
        transport = streamable_http_client(url, http_client=http, terminate_on_close=True)
        client = Client(
            transport,
            mode="legacy",
            elicitation_callback=on_elicit,
            read_timeout_seconds=60,
            cache=None,  # always hit the server
        )
        try:
            async with client:
                # initialize (done by entering the context)
                checks.ok(
                    "initialize",
                    client.protocol_version == PROTOCOL_VERSION and seen["session_id"] is not None,
                    f"protocol {client.protocol_version}, session id {seen['session_id']!r}",
                )

                # tools/list (follow pagination)
                names: list[str] = []
                cursor: str | None = None
                while True:
                    page = await client.list_tools(cursor=cursor)
                    names += [t.name for t in page.tools]
                    cursor = page.next_cursor
                    if not cursor:
                        break
                missing = [n for n in ("echo", "test_simple_text") if n not in names]
                checks.ok(
                    "tools/list",
                    not missing,
                    f"{len(names)} tools" if not missing else f"missing {missing} in {names}",
                )

                # tools/call echo
                result = await client.call_tool("echo", {"message": "hi"})
                checks.ok(
                    "call echo",
                    not result.is_error and text_of(result) == "hi",
                    f"got {text_of(result)!r}, isError={result.is_error}",
                )

                # tools/call with progress notifications
                result = await client.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
                values = [p[0] for p in progress]
                checks.ok(
                    "call test_tool_with_progress",
                    not result.is_error and len(progress) >= 3 and values == sorted(values),
                    f"{len(progress)} progress notifications {values}, isError={result.is_error}",
                )

                # tools/call that elicits user input
                result = await client.call_tool(
                    "test_elicitation", {"message": "Please provide your information"}
                )
                text = text_of(result)
                checks.ok(
                    "call test_elicitation",
                    len(elicitations) == 1 and not result.is_error and "accept" in text and "e@x.org" in text,
                    f"{len(elicitations)} elicitation request(s), result {text!r}",
                )
        except Exception as e:  # noqa: BLE001 - report any SDK/transport failure as a check
            checks.ok("session", False, describe(e))
        else:
            # Leaving the context sent DELETE.
            status = seen["delete_status"]
            checks.ok("terminate (DELETE)", status is not None and 200 <= status < 300, f"HTTP {status}")

        # The old session id must now be dead.
        sid = seen["session_id"]
        if sid is None or seen["delete_status"] is None:
            checks.ok("POST after termination", False, "no session was established or terminated")
            return
        response = await http.post(
            url,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                "Mcp-Session-Id": sid,
                "MCP-Protocol-Version": PROTOCOL_VERSION,
            },
            json={"jsonrpc": "2.0", "id": 99, "method": "tools/list", "params": {}},
        )
        checks.ok("POST after termination", response.status_code == 404, f"HTTP {response.status_code}")


def main() -> int:
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} URL", file=sys.stderr)
        return 2
    checks = Checks()
    asyncio.run(run(sys.argv[1], checks))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
