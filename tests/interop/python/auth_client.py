#!/usr/bin/env python3
"""Interop check: the official Python MCP SDK (mcp 2.x) against a server that
requires credentials (`[auth] anonymous = "off"`, an API key of one tenant).

    .tools/venv/bin/python tests/interop/python/auth_client.py URL KEY [TENANT [KEY_ID]]

KEY is an API key of tenant TENANT (default "interop") whose `api_keys` entry
has id KEY_ID (default "py"): `switchboard keys new --tenant interop --id py`.

Checks, in the legacy era (initialize + Mcp-Session-Id) and in the stateless
2026-07-28 era (`Client(mode="2026-07-28")`):
  - with `Authorization: Bearer KEY`: connect, tools/list, and the built-in
    `whoami` tool names the tenant and the key id as subject;
  - without a token, and with a wrong one: the SDK raises, the error the user
    sees says why, and the wire carried HTTP 401 with a `WWW-Authenticate`
    challenge pointing at the RFC 9728 metadata (plus `error="invalid_token"`
    for the wrong key); the metadata document is served.

Prints one line per check, "PASS <check> ..." or "FAIL <check>: <why>", and
exits non-zero if any check failed.

SDK notes (mcp 2.3.0):
- Credentials: `streamable_http_client(url, http_client=...)` takes no headers
  or auth argument of its own; its docstring says to configure headers or
  authentication on an httpx2.AsyncClient and pass that. We use plain
  `headers={"Authorization": "Bearer KEY"}` (every request the transport makes
  - POST, the standalone GET stream, DELETE - goes through that client). An
  `auth=` httpx2.Auth would also do; the SDK's OAuthClientProvider is one and
  would start an OAuth flow on 401, which is not what an API key wants.
- What the user sees on 401: the transport does not turn a 4xx into an HTTP
  error. When the body is a JSON-RPC error (Switchboard sends one) it hands
  that error to the caller verbatim; otherwise it makes up
  MCPError(-32603, "Server returned an error response"). So the HTTP status and
  the WWW-Authenticate header are NOT exposed anywhere in the exception; only
  the server's JSON-RPC code/message/data are. Observed against Switchboard:
    no token, legacy (raised from `async with Client(...)`, i.e. initialize):
      ExceptionGroup('unhandled errors in a TaskGroup (1 sub-exception)')
        > ExceptionGroup('unhandled errors in a TaskGroup (1 sub-exception)')
          > mcp.shared.exceptions.MCPError(-32004, 'unauthorized: a bearer token is required', None)
      The traceback prints the leaf as
      "mcp.shared.exceptions.MCPError: unauthorized: a bearer token is required",
      but str() of the top-level exception is only
      "unhandled errors in a TaskGroup (1 sub-exception)".
    no token, 2026-07-28 (connect sends nothing; the first call fails): at the
      call site `await client.list_tools()` raises the bare
      MCPError(-32004, 'unauthorized: a bearer token is required', None); if it
      escapes the `async with Client(...)` block it is wrapped in the same two
      ExceptionGroups.
    wrong token: the same, message 'unauthorized: unknown or revoked credential'.
  The status and challenge are checked here through an httpx2 response hook.
"""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Any

import anyio
import httpx2

from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from checks import Checks

LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
MODES = ("legacy", MODERN_VERSION)
LIMIT = 30  # seconds per group of checks


def leaf(e: BaseException) -> BaseException:
    # anyio task groups wrap the real error in (nested) exception groups.
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return e


def describe(e: BaseException) -> str:
    e = leaf(e)
    first_line = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {first_line}"


def wrapping(e: BaseException) -> str:
    """The exception as the user gets it: the groups around the leaf, outermost first."""
    chain: list[str] = []
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        chain.append(type(e).__name__)
        e = e.exceptions[0]
    chain.append(repr(e))
    return " > ".join(chain)


class Wire:
    """What the HTTP layer saw: (method, status, WWW-Authenticate) per response."""

    def __init__(self) -> None:
        self.responses: list[tuple[str, int, str | None]] = []

    async def hook(self, response: httpx2.Response) -> None:
        self.responses.append(
            (response.request.method, response.status_code, response.headers.get("www-authenticate"))
        )


async def authorized(url: str, key: str, mode: str, tenant: str, key_id: str, checks: Checks) -> None:
    wire = Wire()
    timeout = httpx2.Timeout(LIMIT, read=LIMIT)
    headers = {"Authorization": f"Bearer {key}"}
    tag = f"({mode})"
    try:
        with anyio.fail_after(LIMIT):
            async with httpx2.AsyncClient(
                timeout=timeout, headers=headers, event_hooks={"response": [wire.hook]}
            ) as http:
                transport = streamable_http_client(url, http_client=http, terminate_on_close=True)
                async with Client(transport, mode=mode, read_timeout_seconds=LIMIT, cache=None) as client:
                    want = MODERN_VERSION if mode == MODERN_VERSION else LEGACY_VERSION
                    checks.ok(
                        f"connect with bearer token {tag}",
                        client.protocol_version == want,
                        f"protocol {client.protocol_version}, want {want}",
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
                        f"tools/list with bearer token {tag}",
                        "whoami" in names,
                        f"{len(names)} tools" if "whoami" in names else f"no whoami in {names}",
                    )

                    result: types.CallToolResult = await client.call_tool("whoami", {})
                    who: dict[str, Any] = result.structured_content or {}
                    session = who.get("session")
                    # Legacy calls run in the session; stateless ones have none.
                    session_ok = isinstance(session, str) and session != "" if mode == "legacy" else session is None
                    checks.ok(
                        f"whoami {tag}",
                        not result.is_error
                        and who.get("tenant") == tenant
                        and who.get("subject") == key_id
                        and session_ok,
                        f"tenant {who.get('tenant')!r}, subject {who.get('subject')!r}, session {session!r}"
                        f"; want tenant {tenant!r}, subject {key_id!r}, isError={result.is_error}",
                    )
    except Exception as e:  # noqa: BLE001 - report any SDK/transport failure as a check
        checks.ok(f"session with bearer token {tag}", False, describe(e))
        return

    # Every request carried the token: none was refused (the GET stream and
    # the closing DELETE included).
    refused = [(m, s) for m, s, _ in wire.responses if s in (401, 403)]
    methods = sorted({m for m, _, _ in wire.responses})
    checks.ok(
        f"no request refused with bearer token {tag}",
        wire.responses != [] and not refused,
        f"{len(wire.responses)} responses ({', '.join(methods)})" if not refused else f"refused: {refused}",
    )
    if mode == "legacy":
        deletes = [s for m, s, _ in wire.responses if m == "DELETE"]
        checks.ok(
            f"terminate (DELETE) with bearer token {tag}",
            len(deletes) == 1 and 200 <= deletes[0] < 300,
            f"DELETE statuses {deletes}",
        )


async def unauthorized(
    url: str, mode: str, what: str, key: str | None, hints: tuple[str, ...], invalid_token: bool, checks: Checks
) -> None:
    """Connect with `key` (None: no Authorization header) and expect a refusal."""
    wire = Wire()
    timeout = httpx2.Timeout(LIMIT, read=LIMIT)
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    name = f"{what} refused ({mode})"
    raised: BaseException | None = None
    stage = "connect"
    try:
        with anyio.fail_after(LIMIT):
            async with httpx2.AsyncClient(
                timeout=timeout, headers=headers, event_hooks={"response": [wire.hook]}
            ) as http:
                transport = streamable_http_client(url, http_client=http, terminate_on_close=True)
                async with Client(transport, mode=mode, read_timeout_seconds=LIMIT, cache=None) as client:
                    # 2026-07-28 connects without a round trip: the first call fails.
                    stage = "tools/list"
                    try:
                        await client.list_tools()
                    except Exception as e:  # noqa: BLE001 - what the call site sees
                        raised = e
                    else:
                        stage = "after tools/list"
    except Exception as e:  # noqa: BLE001 - what `async with Client(...)` raises
        if raised is None:
            raised = e

    if not checks.ok(
        f"{name}: SDK raises",
        raised is not None,
        f"at {stage}: {wrapping(raised)}" if raised is not None else f"no exception; wire {wire.responses}",
    ):
        return
    assert raised is not None
    err = leaf(raised)
    message = err.message if isinstance(err, MCPError) else str(err)
    checks.ok(
        f"{name}: error says why",
        isinstance(err, MCPError)
        and "unauthorized" in message.lower()
        and any(h in message.lower() for h in hints),
        f"{type(err).__name__} code={getattr(err, 'code', None)} message={message!r}"
        f"; want 'unauthorized' and one of {hints}",
    )

    # The SDK does not expose these; check what the server put on the wire.
    refusals = [(m, s, h) for m, s, h in wire.responses if s == 401]
    challenge = refusals[0][2] if refusals else None
    metadata = re.search(r'resource_metadata="([^"]+)"', challenge or "")
    good = (
        challenge is not None
        and challenge.startswith("Bearer ")
        and metadata is not None
        and metadata.group(1).endswith("/.well-known/oauth-protected-resource/mcp")
        and (('error="invalid_token"' in challenge) == invalid_token)
    )
    checks.ok(
        f"{name}: HTTP 401 with WWW-Authenticate",
        good,
        f"wire {[(m, s) for m, s, _ in wire.responses]}, WWW-Authenticate: {challenge}",
    )
    if metadata is not None and mode == "legacy":
        # The resource metadata document the challenge points at (RFC 9728).
        async with httpx2.AsyncClient(timeout=timeout) as http:
            response = await http.get(metadata.group(1))
        try:
            doc = response.json()
        except ValueError:
            doc = {}
        checks.ok(
            f"{what}: resource metadata served",
            response.status_code == 200 and doc.get("resource") == url,
            f"HTTP {response.status_code}, resource {doc.get('resource')!r}, want {url!r}",
        )


async def run(url: str, key: str, tenant: str, key_id: str, checks: Checks) -> None:
    for mode in MODES:
        await authorized(url, key, mode, tenant, key_id, checks)
    for mode in MODES:
        await unauthorized(url, mode, "no token", None, ("token",), False, checks)
    wrong = "sb_" + ("A" if not key.endswith("A") else "B") * 43  # well-formed, not the key
    for mode in MODES:
        await unauthorized(url, mode, "wrong token", wrong, ("credential", "token", "invalid"), True, checks)


def main() -> int:
    if not 3 <= len(sys.argv) <= 5:
        print(f"usage: {sys.argv[0]} URL KEY [TENANT [KEY_ID]]", file=sys.stderr)
        return 2
    url, key = sys.argv[1], sys.argv[2]
    tenant = sys.argv[3] if len(sys.argv) > 3 else "interop"
    key_id = sys.argv[4] if len(sys.argv) > 4 else "py"
    checks = Checks()
    try:
        asyncio.run(run(url, key, tenant, key_id, checks))
    except Exception as e:  # noqa: BLE001 - report any SDK/transport failure as a check
        checks.ok("session", False, describe(e))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
