#!/usr/bin/env python3
"""Interop check: a server written with the Switchboard library (the
`custom_tools` example, crates/switchboard/examples/custom_tools.rs) driven
by the official Python MCP SDK (mcp 2.x) in one negotiation mode.

    .tools/venv/bin/python tests/interop/python/library_client.py URL MODE

MODE is `legacy` (initialize handshake, session-based Streamable HTTP,
2025-11-25) or `2026-07-28` (stateless: no handshake, no session).

The example's typed tools:
- `greet` {name} answers "Hello, <name>!";
- `count` {to, pause_ms} sends one notifications/progress per number
  (progress n of total `to`) and answers "counted to <to>" with
  structuredContent {"counted": to}; `to` above 100 is refused (isError);
- `ask_name` {} asks the user for a `name` (elicitation/create in a
  session; an `input_required` result in 2026-07-28, which
  `Client.call_tool` answers through the same `elicitation_callback` and
  retries with `inputResponses`) and answers "Hello, <name>!".

Prints one line per check, "PASS <check> ..." or "FAIL <check>: <why>", and
exits non-zero if any check failed.
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

from checks import Checks, text_of

LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
MODES = ("legacy", MODERN_VERSION)
ANSWER = {"name": "Py Library"}


def describe(e: BaseException) -> str:
    # anyio task groups wrap the real error in (nested) exception groups.
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    first_line = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {first_line}"


async def step(checks: Checks, name: str, fn: Callable[[], Awaitable[None]], limit: float = 60) -> None:
    """Run one group of checks; an exception (or hang) fails it without stopping the others."""
    try:
        with anyio.fail_after(limit):
            await fn()
    except Exception as e:  # noqa: BLE001 - report any SDK/transport failure as a check
        checks.ok(name, False, describe(e))


async def run(url: str, mode: str, checks: Checks) -> None:
    modern = mode != "legacy"
    # Every JSON-RPC message the client POSTed (to see the input_required retry).
    posted: list[dict[str, Any]] = []

    async def on_request(request: httpx2.Request) -> None:
        if request.method != "POST":
            return
        try:
            posted.append(json.loads(request.content))
        except (ValueError, TypeError):  # streamed or empty body: nothing to check
            pass

    def tool_calls(name: str) -> list[dict[str, Any]]:
        return [
            b.get("params") or {}
            for b in posted
            if isinstance(b, dict) and b.get("method") == "tools/call" and (b.get("params") or {}).get("name") == name
        ]

    elicitations: list[types.ElicitRequestParams] = []

    async def on_elicit(
        _ctx: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        elicitations.append(params)
        return types.ElicitResult(action="accept", content=dict(ANSWER))

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
            want = MODERN_VERSION if modern else LEGACY_VERSION
            checks.ok(
                f"negotiate ({mode})",
                client.protocol_version == want,
                f"protocol {client.protocol_version}, want {want}",
            )

            async def list_tools() -> None:
                page = await client.list_tools()
                tools = {t.name: t for t in page.tools}
                wanted = ["ask_name", "count", "greet"]
                count = tools.get("count")
                schema = count.input_schema if count else {}
                output = (count.output_schema or {}) if count else {}
                checks.ok(
                    "tools/list (typed tools with generated schemas)",
                    sorted(tools) == wanted
                    and schema.get("required") == ["to"]
                    and "pause_ms" in (schema.get("properties") or {})
                    and output.get("required") == ["counted"],
                    f"tools {sorted(tools)}, count input {schema}, output {output}",
                )

            async def greet() -> None:
                result = await client.call_tool("greet", {"name": "Interop"})
                checks.ok(
                    "call greet",
                    not result.is_error and text_of(result) == "Hello, Interop!",
                    f"got {text_of(result)!r}, isError={result.is_error}",
                )
                result = await client.call_tool("greet", {"nom": "x"})
                checks.ok(
                    "call greet with a wrong argument (tool error naming the field)",
                    result.is_error is True and "name" in text_of(result),
                    f"got {text_of(result)!r}, isError={result.is_error}",
                )

            async def count() -> None:
                progress: list[tuple[float, float | None]] = []

                async def on_progress(value: float, total: float | None, _message: str | None) -> None:
                    progress.append((value, total))

                result = await client.call_tool("count", {"to": 3, "pause_ms": 20}, progress_callback=on_progress)
                checks.ok(
                    "call count (progress, structured result)",
                    not result.is_error
                    and progress == [(1.0, 3.0), (2.0, 3.0), (3.0, 3.0)]
                    and text_of(result) == "counted to 3"
                    and result.structured_content == {"counted": 3},
                    f"progress {progress}, result {text_of(result)!r} {result.structured_content}",
                )
                result = await client.call_tool("count", {"to": 101})
                checks.ok(
                    "call count beyond its limit (tool error)",
                    result.is_error is True and "at most 100" in text_of(result),
                    f"got {text_of(result)!r}, isError={result.is_error}",
                )

            async def ask_name() -> None:
                before = len(elicitations)
                result = await client.call_tool("ask_name", {})
                text = text_of(result)
                asked = elicitations[before:]
                props = sorted(((asked[0].requested_schema or {}).get("properties") or {}) if asked else {})
                calls = tool_calls("ask_name")
                retried = [c for c in calls if "inputResponses" in c]
                how = f"{len(calls)} tools/call request(s), {len(retried)} with inputResponses"
                checks.ok(
                    "call ask_name (elicitation round trip)",
                    len(asked) == 1 and props == ["name"] and not result.is_error and text == f"Hello, {ANSWER['name']}!",
                    f"{len(asked)} elicitation(s) asking {props}, {how}, isError={result.is_error}, result {text!r}",
                )
                if modern:
                    checks.ok("ask_name via input_required", len(calls) == 2 and len(retried) == 1, how)
                else:
                    checks.ok("ask_name within one call (session era)", len(calls) == 1 and not retried, how)

            await step(checks, "tools/list (typed tools with generated schemas)", list_tools)
            await step(checks, "call greet", greet)
            await step(checks, "call count (progress, structured result)", count)
            await step(checks, "call ask_name (elicitation round trip)", ask_name)


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
