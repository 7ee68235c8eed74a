#!/usr/bin/env python3
"""Interop check: the official Python MCP SDK (mcp 2.x) launches
`switchboard stdio` as a child process and talks to it over stdin/stdout.

    .tools/venv/bin/python tests/interop/python/stdio_client.py PATH/TO/switchboard

Prints one line per check, "PASS <check> ..." or "FAIL <check>: <why>", and
exits non-zero if any check failed.
"""

from __future__ import annotations

import asyncio
import sys

from mcp import Client, types
from mcp.client.session import ClientRequestContext
from mcp.client.stdio import StdioServerParameters, stdio_client

from checks import text_of


class Checks:
    def __init__(self) -> None:
        self.failed = 0

    def ok(self, name: str, cond: bool, detail: str = "") -> None:
        if cond:
            print(f"PASS {name}" + (f" ({detail})" if detail else ""), flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail or 'check failed'}", flush=True)


def describe(e: BaseException) -> str:
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return f"{type(e).__name__}: {e}"


async def run(binary: str, checks: Checks) -> None:
    progress: list[float] = []

    async def on_progress(value: float, _total: float | None, _message: str | None) -> None:
        progress.append(value)

    async def on_elicit(
        _ctx: ClientRequestContext, _params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        return types.ElicitResult(action="accept", content={"username": "stdio-user", "email": "s@x.org"})

    params = StdioServerParameters(command=binary, args=["stdio"], env={"RUST_LOG": "warn"})
    client = Client(stdio_client(params), mode="legacy", elicitation_callback=on_elicit, cache=None)
    try:
        async with client:
            checks.ok("initialize over stdio", client.protocol_version is not None, f"protocol {client.protocol_version}")
            tools = await client.list_tools()
            names = [t.name for t in tools.tools]
            checks.ok("tools/list", "echo" in names, f"{len(names)} tools")
            result = await client.call_tool("echo", {"message": "over stdio"})
            checks.ok("call echo", text_of(result) == "over stdio", repr(text_of(result)))
            result = await client.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
            checks.ok("progress", len(progress) >= 3 and not result.is_error, f"{progress}")
            result = await client.call_tool("test_elicitation", {"message": "who?"})
            checks.ok("elicitation round trip", "stdio-user" in text_of(result), repr(text_of(result)))
    except Exception as e:  # noqa: BLE001 - report any SDK/transport failure as a check
        checks.ok("stdio session", False, describe(e))


def end_of_input(binary: str, checks: Checks) -> None:
    """At end of input the server answers what it was asked, then exits 0."""
    import json
    import subprocess

    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "sleep", "arguments": {"ms": 200}}},
    ]
    stdin = "".join(json.dumps(m) + "\n" for m in lines)
    try:
        done = subprocess.run([binary, "stdio"], input=stdin, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        checks.ok("exit at end of input", False, "still running after 30 s")
        return
    ids = [json.loads(line).get("id") for line in done.stdout.splitlines() if line.strip()]
    checks.ok("exit at end of input", done.returncode == 0 and ids == [1, 2], f"exit {done.returncode}, answered ids {ids}")


def main() -> int:
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} PATH/TO/switchboard", file=sys.stderr)
        return 2
    checks = Checks()
    asyncio.run(run(sys.argv[1], checks))
    end_of_input(sys.argv[1], checks)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
