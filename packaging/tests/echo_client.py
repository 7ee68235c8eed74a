#!/usr/bin/env python3
"""A packaged Switchboard (container image, Debian package, Kubernetes
config) driven by the official Python MCP SDK (mcp 2.x): connect, list the
tools and call `echo`, in one era.

    .tools/venv/bin/python packaging/tests/echo_client.py URL MODE [TOKEN]

MODE is `legacy` (initialize handshake, session-based Streamable HTTP,
2025-11-25) or `2026-07-28` (stateless: no handshake, no session; the SDK's
`Client(mode="2026-07-28")`, as tests/interop/python selects the era).
TOKEN, if given, is sent as `Authorization: Bearer TOKEN` on every request
(a server listening off loopback refuses anonymous clients).

Prints one line per check, "PASS <check> ..." or "FAIL <check>: <why>", and
exits non-zero if any check failed. Used by scripts/packaging.sh.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys

import anyio
import httpx2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/interop/python"))

from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from checks import Checks, text_of  # noqa: E402

LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
LIMIT = 30  # seconds


def describe(e: BaseException) -> str:
    # anyio task groups wrap the real error in (nested) exception groups.
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    first_line = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {first_line}"


async def run(url: str, mode: str, token: str | None, checks: Checks) -> None:
    tag = f"({mode})"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    statuses: list[tuple[str, int]] = []

    async def hook(response: httpx2.Response) -> None:
        statuses.append((response.request.method, response.status_code))

    try:
        with anyio.fail_after(LIMIT):
            async with httpx2.AsyncClient(
                timeout=httpx2.Timeout(LIMIT), headers=headers, event_hooks={"response": [hook]}
            ) as http:
                transport = streamable_http_client(url, http_client=http, terminate_on_close=True)
                async with Client(transport, mode=mode, read_timeout_seconds=LIMIT, cache=None) as client:
                    want = MODERN_VERSION if mode == MODERN_VERSION else LEGACY_VERSION
                    checks.ok(
                        f"connect {tag}",
                        client.protocol_version == want,
                        f"protocol {client.protocol_version}, want {want}",
                    )
                    names = [t.name for t in (await client.list_tools()).tools]
                    checks.ok(f"tools/list {tag}", "echo" in names, f"{len(names)} tools, echo among them"
                              if "echo" in names else f"no echo in {names}")
                    message = f"packaged {mode} {secrets.token_hex(4)}"
                    result = await client.call_tool("echo", {"message": message})
                    said = text_of(result)
                    checks.ok(
                        f"tools/call echo {tag}",
                        not result.is_error and said == message,
                        f"answered {said!r}" if said == message else f"answered {said!r}, want {message!r}",
                    )
    except Exception as e:  # noqa: BLE001 - report any SDK/transport failure as a check
        checks.ok(f"session {tag}", False, f"{describe(e)}; HTTP statuses seen: {statuses}")
        return
    refused = [(m, s) for m, s in statuses if s >= 400]
    checks.ok(f"no request refused {tag}", statuses != [] and not refused, f"{len(statuses)} responses"
              if not refused else f"refused: {refused}")


def main() -> int:
    if len(sys.argv) not in (3, 4) or sys.argv[2] not in ("legacy", MODERN_VERSION):
        print(__doc__, file=sys.stderr)
        return 2
    url, mode = sys.argv[1], sys.argv[2]
    token = sys.argv[3] if len(sys.argv) == 4 else None
    checks = Checks()
    asyncio.run(run(url, mode, token, checks))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
