#!/usr/bin/env python3
"""Interop check: Switchboard as a gateway, with a real foreign stdio upstream
(`@modelcontextprotocol/server-everything`, prefix `ev__`), a foreign
Streamable HTTP upstream written with the Python SDK
(`http_upstream_server.py`, prefix `py__`) and the built-in toolset (prefix
empty) behind it, driven by the official Python MCP SDK
(mcp 2.x) in one negotiation mode.

    .tools/venv/bin/python tests/interop/python/gateway_client.py URL MODE

MODE is `legacy` (initialize handshake, session-based Streamable HTTP,
2025-11-25) or `2026-07-28` (stateless: no handshake, no session). The
gateway's config (scripts/test.sh):

    [[upstreams]]
    name = "ev"                # server-everything, tools as ev__<name>
    command = ".../node"
    args = [".../server-everything/dist/index.js", "stdio"]

    [[upstreams]]
    name = "py"                # http_upstream_server.py, tools as py__<name>
    kind = "http"
    url = "http://127.0.0.1:PORT/mcp"

    [[upstreams]]
    name = "builtin"
    kind = "builtin"
    prefix = ""

Prints one line per check, "PASS <check> ..." or "FAIL <check>: <why>", and
exits non-zero if any check failed.

server-everything notes (2026.8.31, SDK 1.x, stdio):
- `echo` answers "Echo: <message>".
- `trigger-long-running-operation` {duration, steps} sends one
  notifications/progress per step when the call carries a progressToken.
- `trigger-elicitation-request` is only registered when the client (here:
  the gateway's process for us) declared the `elicitation` capability; it
  sends elicitation/create with a form schema (`name` required, `check`
  boolean, `email`, `integer` 1..100, ...) and echoes the answer back
  ("- Name: <name>", "- Email: <email>", "Raw result: {...}").
- `toggle-simulated-logging` sends one notifications/message at once (not
  tied to the request), then one every 5 s until toggled off; the gateway
  carries it on the newest call of that process, i.e. the toggle call.
- Prompts `simple-prompt` ("This is a simple prompt without arguments."),
  resources `demo://resource/static/document/<file>.md`.

http_upstream_server.py (mcp 2.x MCPServer, stateful Streamable HTTP):
`py_echo` answers "py: <message>", `py_progress` {steps} sends one
notifications/progress per step then answers "done", `py_ask` elicits a
`name` string and answers "name: <name>".

In 2026-07-28 mode the upstream's elicitation/create becomes an
`input_required` result; `Client.call_tool` answers it through the same
`elicitation_callback` and retries with `inputResponses` (see
modern_client.py). Log messages need the per-request opt-in
`Client(log_level=...)` there.
"""

from __future__ import annotations

import asyncio
import json
import sys
import warnings
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
PREFIX = "ev__"
EV_ECHO = PREFIX + "echo"
EV_PROGRESS = PREFIX + "trigger-long-running-operation"
EV_ELICIT = PREFIX + "trigger-elicitation-request"
EV_LOGGING = PREFIX + "toggle-simulated-logging"
EV_PROMPT = PREFIX + "simple-prompt"
EV_RESOURCE = "demo://resource/static/document/features.md"
# Matches the form server-everything asks for (`name` required).
ELICIT_ANSWER = {"name": "Gateway Interop", "check": True, "email": "gw@x.org", "integer": 7}
PY_PREFIX = "py__"
PY_ECHO = PY_PREFIX + "py_echo"
PY_PROGRESS = PY_PREFIX + "py_progress"
PY_ASK = PY_PREFIX + "py_ask"
# What py_ask asks for: only `name` (a string).
PY_ANSWER = {"name": "Py Interop"}


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
        props = (params.requested_schema or {}).get("properties") or {}
        answer = PY_ANSWER if set(props) == set(PY_ANSWER) else ELICIT_ANSWER
        return types.ElicitResult(action="accept", content=dict(answer))

    logs: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    timeout = httpx2.Timeout(30.0, read=60.0)
    async with httpx2.AsyncClient(timeout=timeout, event_hooks={"request": [on_request]}) as http:
        transport = streamable_http_client(url, http_client=http, terminate_on_close=True)
        client = Client(
            transport,
            mode=mode,
            elicitation_callback=on_elicit,
            logging_callback=on_log,
            log_level="debug" if modern else None,
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
                names: list[str] = []
                cursor: str | None = None
                while True:
                    page = await client.list_tools(cursor=cursor)
                    names += [t.name for t in page.tools]
                    cursor = page.next_cursor
                    if not cursor:
                        break
                wanted = (EV_ECHO, EV_PROGRESS, EV_ELICIT, PY_ECHO, PY_PROGRESS, PY_ASK, "echo", "add")
                missing = [n for n in wanted if n not in names]
                ev = sorted(n for n in names if n.startswith(PREFIX))
                py = sorted(n for n in names if n.startswith(PY_PREFIX))
                checks.ok(
                    "tools/list (ev__ + py__ upstreams + builtin)",
                    not missing,
                    f"{len(names)} tools, {len(ev)} from ev, py: {py}" if not missing else f"missing {missing} in {names}",
                )

            async def call_echos() -> None:
                result = await client.call_tool(EV_ECHO, {"message": "via gateway"})
                checks.ok(
                    f"call {EV_ECHO}",
                    not result.is_error and text_of(result) == "Echo: via gateway",
                    f"got {text_of(result)!r}, isError={result.is_error}",
                )
                result = await client.call_tool("echo", {"message": "builtin"})
                checks.ok(
                    "call echo (builtin)",
                    not result.is_error and text_of(result) == "builtin",
                    f"got {text_of(result)!r}, isError={result.is_error}",
                )

            async def call_progress() -> None:
                progress: list[tuple[float, float | None]] = []

                async def on_progress(value: float, total: float | None, _message: str | None) -> None:
                    progress.append((value, total))

                result = await client.call_tool(
                    EV_PROGRESS, {"duration": 1.5, "steps": 3}, progress_callback=on_progress
                )
                values = [p[0] for p in progress]
                checks.ok(
                    f"call {EV_PROGRESS} (progress)",
                    not result.is_error
                    and len(progress) >= 1
                    and values == sorted(values)
                    and "completed" in text_of(result),
                    f"{len(progress)} progress notifications {progress}, result {text_of(result)!r}",
                )

            async def call_elicitation() -> None:
                before = len(elicitations)
                result = await client.call_tool(EV_ELICIT, {})
                text = text_of(result)
                asked = elicitations[before:]
                props = sorted(((asked[0].requested_schema or {}).get("properties") or {}) if asked else {})
                calls = tool_calls(EV_ELICIT)
                retried = [c for c in calls if "inputResponses" in c]
                how = f"{len(calls)} tools/call request(s), {len(retried)} with inputResponses"
                checks.ok(
                    f"call {EV_ELICIT} (elicitation round trip)",
                    len(asked) == 1
                    and "name" in props
                    and not result.is_error
                    and f"Name: {ELICIT_ANSWER['name']}" in text
                    and f"Email: {ELICIT_ANSWER['email']}" in text
                    and '"action": "accept"' in text,
                    f"{len(asked)} elicitation(s) asking {props}, {how}, isError={result.is_error}, "
                    f"result {text[:300]!r}",
                )
                if modern:
                    checks.ok(
                        f"{EV_ELICIT} via input_required",
                        len(calls) == 2 and len(retried) == 1,
                        how,
                    )

            async def call_logging() -> None:
                if not modern:
                    # Deprecated as of 2026-07-28 (SEP-2577), still the legacy way.
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        await client.set_logging_level("debug")
                before = len(logs)
                result = await client.call_tool(EV_LOGGING, {})
                if "Stopped" in text_of(result):
                    # A stateless principal's process outlives a client: an
                    # earlier run may have left it on.
                    before = len(logs)
                    result = await client.call_tool(EV_LOGGING, {})
                got = logs[before:]
                started = "Started" in text_of(result)
                # Turn it off again (the 5 s interval would go on otherwise).
                if started:
                    await client.call_tool(EV_LOGGING, {})
                checks.ok(
                    f"call {EV_LOGGING} (log notification)",
                    not result.is_error and started and len(got) >= 1,
                    f"{len(got)} log message(s) {[(m.level, m.data) for m in got]}, result {text_of(result)[:80]!r}",
                )

            async def prompt() -> None:
                listed = await client.list_prompts()
                names = [p.name for p in listed.prompts]
                got = await client.get_prompt(EV_PROMPT) if EV_PROMPT in names else None
                texts = [
                    m.content.text for m in (got.messages if got else []) if isinstance(m.content, types.TextContent)
                ]
                checks.ok(
                    f"prompts/get {EV_PROMPT}",
                    any("simple prompt" in t for t in texts),
                    f"messages {texts}" if got else f"{EV_PROMPT} not in {names}",
                )

            async def resource() -> None:
                listed = await client.list_resources()
                uris = [str(r.uri) for r in listed.resources]
                # The gateway may or may not prefix an upstream's URIs: take
                # the listed one for features.md.
                uri = next((u for u in uris if u.endswith("static/document/features.md")), None)
                got = await client.read_resource(uri) if uri else None
                texts = [c.text for c in (got.contents if got else []) if isinstance(c, types.TextResourceContents)]
                checks.ok(
                    "resources/read (ev)",
                    any("Everything Server" in t for t in texts),
                    f"{uri}: {len(texts)} text content(s), {sum(map(len, texts))} chars"
                    if got
                    else f"no URI ending in {EV_RESOURCE.rsplit('/', 3)[-3:]} in {uris}",
                )

            async def py_echo() -> None:
                result = await client.call_tool(PY_ECHO, {"message": "via gateway"})
                checks.ok(
                    f"call {PY_ECHO}",
                    not result.is_error and text_of(result) == "py: via gateway",
                    f"got {text_of(result)!r}, isError={result.is_error}",
                )

            async def py_progress() -> None:
                progress: list[tuple[float, float | None]] = []

                async def on_progress(value: float, total: float | None, _message: str | None) -> None:
                    progress.append((value, total))

                result = await client.call_tool(PY_PROGRESS, {"steps": 3}, progress_callback=on_progress)
                values = [p[0] for p in progress]
                checks.ok(
                    f"call {PY_PROGRESS} (progress)",
                    not result.is_error
                    and len(progress) >= 1
                    and values == sorted(values)
                    and text_of(result) == "done",
                    f"{len(progress)} progress notifications {progress}, result {text_of(result)!r}",
                )

            async def py_ask() -> None:
                before = len(elicitations)
                result = await client.call_tool(PY_ASK, {})
                text = text_of(result)
                asked = elicitations[before:]
                props = sorted(((asked[0].requested_schema or {}).get("properties") or {}) if asked else {})
                calls = tool_calls(PY_ASK)
                retried = [c for c in calls if "inputResponses" in c]
                how = f"{len(calls)} tools/call request(s), {len(retried)} with inputResponses"
                checks.ok(
                    f"call {PY_ASK} (elicitation round trip)",
                    len(asked) == 1
                    and props == ["name"]
                    and not result.is_error
                    and text == f"name: {PY_ANSWER['name']}",
                    f"{len(asked)} elicitation(s) asking {props}, {how}, isError={result.is_error}, result {text!r}",
                )
                if modern:
                    checks.ok(
                        f"{PY_ASK} via input_required",
                        len(calls) == 2 and len(retried) == 1,
                        how,
                    )

            await step(checks, "tools/list (ev__ + py__ upstreams + builtin)", list_tools)
            await step(checks, f"call {EV_ECHO}", call_echos)
            await step(checks, f"call {EV_PROGRESS} (progress)", call_progress)
            await step(checks, f"call {EV_ELICIT} (elicitation round trip)", call_elicitation)
            await step(checks, f"call {EV_LOGGING} (log notification)", call_logging)
            await step(checks, f"prompts/get {EV_PROMPT}", prompt)
            await step(checks, "resources/read (ev)", resource)
            await step(checks, f"call {PY_ECHO}", py_echo)
            await step(checks, f"call {PY_PROGRESS} (progress)", py_progress)
            await step(checks, f"call {PY_ASK} (elicitation round trip)", py_ask)

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
