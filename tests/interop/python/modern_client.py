#!/usr/bin/env python3
"""Interop check: the official Python MCP SDK (mcp 2.x) `Client(url, mode=MODE)`
against a dual-era server, one run per negotiation mode.

    .tools/venv/bin/python tests/interop/python/modern_client.py URL MODE

MODE is one of
  legacy      initialize handshake, session-based Streamable HTTP (2025-11-25);
  auto        `server/discover` probe, falling back to initialize; against a
              dual-era server it must settle on the modern era (2026-07-28);
  2026-07-28  adopt 2026-07-28 directly: no probe, no handshake.

Prints one line per check, "PASS <check> ..." or "FAIL <check>: <why>", and
exits non-zero if any check failed.

SDK notes (mcp 2.3.0):
- Era selection is `Client(..., mode=...)`; the default is "auto". The era is
  not exposed as such: `client.protocol_version` is the negotiated version and
  `client.session.discover_result` / `.initialize_result` say which path ran.
- input_required (SEP-2322): `Client.call_tool` (also get_prompt and
  read_resource) runs the multi-round-trip driver
  (mcp/client/_input_required.py). Each entry of `inputRequests` goes through
  `ClientSession.dispatch_input_request`, the same table that serves legacy
  server->client requests, so the ordinary `elicitation_callback` answers it.
  Its `ClientRequestContext.request_id` is the inputRequests key (not a
  JSON-RPC id). The call is retried with a fresh id carrying `inputResponses`
  and the echoed `requestState`, up to `input_required_max_rounds` (10).
  `client.session.call_tool(..., allow_input_required=True)` is the manual path.
- subscriptions/listen: `async with client.listen(tools_list_changed=True) as
  sub:` waits for `notifications/subscriptions/acknowledged` (`sub.honored` is
  the honored filter); iterating `sub` yields typed events (ToolsListChanged,
  ...). Raises ListenNotSupportedError on a legacy connection.
- We hand the transport our own httpx2 client with request hooks to check the
  wire: modern requests carry `_meta` with io.modelcontextprotocol/protocolVersion
  and clientCapabilities and no Mcp-Session-Id.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx2

from mcp import Client, types
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ToolsListChanged

from checks import Checks, text_of

LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
PV_KEY = "io.modelcontextprotocol/protocolVersion"
CAPS_KEY = "io.modelcontextprotocol/clientCapabilities"
ELICIT_ANSWER = {"username": "u", "email": "e@x.org"}
NAME_ANSWER = "Interop"
MODES = ("legacy", "auto", MODERN_VERSION)


def describe(e: BaseException) -> str:
    # anyio task groups wrap the real error in (nested) exception groups.
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    first_line = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {first_line}"


async def run(url: str, mode: str, checks: Checks) -> None:
    # Every JSON-RPC message the client POSTed, with the headers that matter.
    posted: list[tuple[dict[str, Any], dict[str, str | None]]] = []

    async def on_request(request: httpx2.Request) -> None:
        if request.method != "POST":
            return
        try:
            body = json.loads(request.content)
        except (ValueError, TypeError):  # streamed or empty body: nothing to check
            return
        headers = {
            "session": request.headers.get("mcp-session-id"),
            "version": request.headers.get("mcp-protocol-version"),
        }
        posted.append((body, headers))

    def tool_calls(name: str) -> list[dict[str, Any]]:
        return [
            b.get("params") or {}
            for b, _ in posted
            if b.get("method") == "tools/call" and (b.get("params") or {}).get("name") == name
        ]

    elicitations: list[tuple[Any, types.ElicitRequestParams]] = []

    async def on_elicit(
        ctx: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        elicitations.append((ctx.request_id, params))
        props = (getattr(params, "requested_schema", None) or {}).get("properties", {})
        if "name" in props:
            return types.ElicitResult(action="accept", content={"name": NAME_ANSWER})
        return types.ElicitResult(action="accept", content=dict(ELICIT_ANSWER))

    timeout = httpx2.Timeout(30.0, read=60.0)
    async with httpx2.AsyncClient(timeout=timeout, event_hooks={"request": [on_request]}) as http:
        transport = streamable_http_client(url, http_client=http, terminate_on_close=True)
        client = Client(
            transport,
            mode=mode,
            elicitation_callback=on_elicit,
            read_timeout_seconds=60,
            cache=None,  # always hit the server
        )
        async with client:
            await checks_on(client, mode, posted, tool_calls, elicitations, checks)


async def step(checks: Checks, name: str, fn: Callable[[], Awaitable[None]], limit: float = 90) -> None:
    """Run one group of checks; an exception (or hang) fails it without stopping the others."""
    try:
        with anyio.fail_after(limit):
            await fn()
    except Exception as e:  # noqa: BLE001 - report any SDK/transport failure as a check
        checks.ok(name, False, describe(e))


async def checks_on(
    client: Client,
    mode: str,
    posted: list[tuple[dict[str, Any], dict[str, str | None]]],
    tool_calls: Callable[[str], list[dict[str, Any]]],
    elicitations: list[tuple[Any, types.ElicitRequestParams]],
    checks: Checks,
) -> None:
    modern = mode != "legacy"
    session = client.session
    version = client.protocol_version
    era = "modern" if session.discover_result is not None else "legacy"
    print(
        f"INFO mode={mode} era={era} protocolVersion={version} "
        f"discover={session.discover_result is not None} initialize={session.initialize_result is not None}",
        flush=True,
    )
    want = (MODERN_VERSION, "modern") if modern else (LEGACY_VERSION, "legacy")
    checks.ok(
        f"negotiate ({mode})",
        (version, era) == want,
        f"era {era}, protocol {version}; want era {want[1]}, protocol {want[0]}",
    )
    methods = [b.get("method") for b, _ in posted]
    if mode == "auto":
        checks.ok(
            "auto probe",
            "server/discover" in methods and "initialize" not in methods,
            f"connect sent {methods}",
        )
    elif mode == MODERN_VERSION:
        checks.ok("pinned connect", methods == [], f"connect sent {methods}")
    else:
        checks.ok("initialize", methods[:1] == ["initialize"], f"connect sent {methods}")

    async def list_tools() -> None:
        # tools/list (follow pagination)
        names: list[str] = []
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor)
            names += [t.name for t in page.tools]
            cursor = page.next_cursor
            if not cursor:
                break
        missing = [n for n in ("echo", "test_elicitation") if n not in names]
        checks.ok(
            "tools/list",
            not missing,
            f"{len(names)} tools" if not missing else f"missing {missing} in {names}",
        )

    async def call_echo() -> None:
        result = await client.call_tool("echo", {"message": "hi"})
        checks.ok(
            "call echo",
            not result.is_error and text_of(result) == "hi",
            f"got {text_of(result)!r}, isError={result.is_error}",
        )

    async def call_elicitation() -> None:
        # A server->client elicitation/create request in the legacy era, an
        # input_required round trip in the modern era.
        before = len(elicitations)
        result = await client.call_tool("test_elicitation", {"message": "Please provide your information"})
        text = text_of(result)
        calls = tool_calls("test_elicitation")
        retried = [c for c in calls if "inputResponses" in c]
        how = f"{len(calls)} tools/call request(s), {len(retried)} with inputResponses"
        checks.ok(
            "call test_elicitation",
            len(elicitations) - before == 1 and not result.is_error and "accept" in text and "e@x.org" in text,
            f"{len(elicitations) - before} elicitation(s), {how}, result {text!r}",
        )
        if modern:
            checks.ok("test_elicitation via input_required", len(calls) == 2 and len(retried) == 1, how)

    async def call_input_required() -> None:
        # The conformance fixture for input_required results (key user_name).
        before = len(elicitations)
        result = await client.call_tool("test_input_required_result_elicitation", {})
        text = text_of(result)
        keys = [key for key, _ in elicitations[before:]]
        calls = tool_calls("test_input_required_result_elicitation")
        retry = calls[-1] if calls else {}
        checks.ok(
            "call test_input_required_result_elicitation",
            keys == ["user_name"]
            and len(calls) == 2
            and "user_name" in (retry.get("inputResponses") or {})
            and not result.is_error
            and NAME_ANSWER in text,
            f"elicitation keys {keys}, {len(calls)} tools/call request(s), result {text!r}",
        )

    async def listen() -> None:
        # subscriptions/listen, then a tool that changes the tool list.
        async with client.listen(tools_list_changed=True) as sub:
            checks.ok(
                "subscriptions/listen ack",
                bool(sub.honored.tools_list_changed),
                f"honored {sub.honored.model_dump(exclude_none=True, by_alias=True)}",
            )
            result = await client.call_tool("test_trigger_tool_change", {})
            with anyio.fail_after(10):
                event = await sub.__anext__()
            checks.ok(
                "tools/list_changed on listen stream",
                isinstance(event, ToolsListChanged) and not result.is_error,
                f"event {event!r}, trigger isError={result.is_error}",
            )

    await step(checks, "tools/list", list_tools)
    await step(checks, "call echo", call_echo)
    await step(checks, "call test_elicitation", call_elicitation)
    if modern:
        await step(checks, "call test_input_required_result_elicitation", call_input_required)
        await step(checks, "subscriptions/listen", listen, limit=30)

    # The wire: which era did each POSTed request speak?
    requests = [(b, h) for b, h in posted if "id" in b and "method" in b]
    if modern:
        bad = [
            b.get("method")
            for b, h in requests
            if h["session"] is not None
            or h["version"] != MODERN_VERSION
            or ((b.get("params") or {}).get("_meta") or {}).get(PV_KEY) != MODERN_VERSION
            or not isinstance(((b.get("params") or {}).get("_meta") or {}).get(CAPS_KEY), dict)
        ]
        checks.ok(
            "modern wire (_meta, no session)",
            requests != [] and not bad,
            f"{len(requests)} requests" if not bad else f"non-modern requests: {bad}",
        )
    else:
        bad = [b.get("method") for b, h in requests[1:] if h["session"] is None or h["version"] != LEGACY_VERSION]
        checks.ok(
            "legacy wire (session, header)",
            len(requests) > 1 and not bad,
            f"{len(requests)} requests" if not bad else f"requests without session/version: {bad}",
        )


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[2] not in MODES:
        print(f"usage: {sys.argv[0]} URL {{{'|'.join(MODES)}}}", file=sys.stderr)
        return 2
    checks = Checks()
    try:
        asyncio.run(run(sys.argv[1], sys.argv[2], checks))
    except Exception as e:  # noqa: BLE001 - report any SDK/transport failure as a check
        checks.ok("session", False, describe(e))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
