#!/usr/bin/env python3
"""Interop check of `switchboard connect URL`: the official Python SDK's
stdio client launches the bridge, which reaches a remote Switchboard over
Streamable HTTP with an API key from an environment variable.

    .tools/venv/bin/python tests/interop/python/connect_client.py \\
        SWITCHBOARD URL KEY RESTART_CMD

For each mode the SDK offers over stdio (`legacy`, `2026-07-28`): the
remote's tools listed under their own names; a call; progress; a sampling
request and an elicitation request of the remote answered by this client;
cancellation (the call ends, the session goes on). Then the remote is
killed (SIGKILL) while a call is pending and started again by RESTART_CMD
(a shell command; the remote keeps its sessions in its file store): the
pending call must end — completed or with an error — within a bound,
never hang, and the next call must succeed. Without a key the bridge's
calls are refused clearly.

Prints one line per check ("PASS …" / "FAIL …"); exits non-zero if any
check failed.
"""

from __future__ import annotations

import subprocess
import tempfile
import sys
import time

import anyio
from mcp import Client, types
from mcp.client.session import ClientRequestContext
from mcp.client.stdio import StdioServerParameters, stdio_client

from checks import Checks, text_of

MODES = ("legacy", "2026-07-28")
SAMPLED = "sampled by the desktop"


def describe(e: BaseException) -> str:
    if isinstance(e, BaseExceptionGroup):
        return "; ".join(describe(x) for x in e.exceptions)
    return f"{type(e).__name__}: {e}"


async def step(checks: Checks, name: str, fn, limit: float = 60) -> None:
    try:
        with anyio.fail_after(limit):
            await fn()
    except Exception as e:  # noqa: BLE001 - any failure is a failed check
        checks.ok(name, False, describe(e))


def client_for(binary: str, url: str, env: dict[str, str], mode: str, key_env: bool = True,
               errlog=sys.stderr) -> Client:
    async def on_sampling(_ctx: ClientRequestContext, _p: types.CreateMessageRequestParams):
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=SAMPLED), model="desktop",
            stop_reason="endTurn")

    async def on_elicit(_ctx: ClientRequestContext, _p: types.ElicitRequestParams):
        return types.ElicitResult(action="accept", content={"username": "desk", "email": "desk@example.com"})

    args = ["connect", url] + (["--token-env", "REMOTE_KEY"] if key_env else [])
    params = StdioServerParameters(command=binary, args=args, env={"RUST_LOG": "warn", **env})
    return Client(stdio_client(params, errlog=errlog), mode=mode, sampling_callback=on_sampling,
                  elicitation_callback=on_elicit, read_timeout_seconds=60, cache=None)


async def session(binary: str, url: str, key: str, restart: str, mode: str, checks: Checks) -> None:
    async with client_for(binary, url, {"REMOTE_KEY": key}, mode) as client:
        checks.ok(f"[{mode}] connect", True, f"protocol {client.protocol_version}")

        async def listing() -> None:
            names = [t.name for t in (await client.list_tools()).tools]
            want = ["echo", "sleep", "test_sampling", "test_elicitation", "test_tool_with_progress"]
            missing = [n for n in want if n not in names]
            checks.ok(f"[{mode}] the remote's tools under their own names", not missing,
                      f"{len(names)} tools" if not missing else f"missing {missing}")
            r = await client.call_tool("echo", {"message": "through the bridge"})
            checks.ok(f"[{mode}] call echo", text_of(r) == "through the bridge", repr(text_of(r)))

        async def progress() -> None:
            seen: list[float] = []

            async def on_progress(p: float, _total: float | None, _msg: str | None) -> None:
                seen.append(p)

            r = await client.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
            checks.ok(f"[{mode}] progress", seen == [0, 50, 100] and "successfully" in text_of(r),
                      f"{seen}, {text_of(r)!r}")

        async def requests_back() -> None:
            r = await client.call_tool("test_sampling", {"prompt": "hi"})
            checks.ok(f"[{mode}] sampling answered by the stdio client", SAMPLED in text_of(r), repr(text_of(r)))
            r = await client.call_tool("test_elicitation", {"message": "Who is at the desk?"})
            checks.ok(f"[{mode}] elicitation answered by the stdio client", "desk" in text_of(r), repr(text_of(r)))

        async def cancellation() -> None:
            with anyio.move_on_after(1.0) as scope:
                await client.call_tool("sleep", {"ms": 30000})
            r = await client.call_tool("echo", {"message": "after cancel"})
            checks.ok(f"[{mode}] cancellation (the call ends, the session goes on)",
                      scope.cancelled_caught and text_of(r) == "after cancel", repr(text_of(r)))

        async def remote_restart() -> None:
            outcome: list[str] = []

            async def pending() -> None:
                try:
                    r = await client.call_tool("sleep", {"ms": 4000})
                    outcome.append("completed: " + text_of(r) if not r.is_error else "error: " + text_of(r))
                except Exception as e:  # noqa: BLE001 - an error is an allowed outcome
                    outcome.append("error: " + describe(e))

            started = time.monotonic()
            async with anyio.create_task_group() as tg:
                tg.start_soon(pending)
                await anyio.sleep(1.0)
                subprocess.run(["sh", "-c", restart], check=True)
            took = time.monotonic() - started
            checks.ok(f"[{mode}] a call pending while the remote restarts ends (no hang)",
                      len(outcome) == 1, f"{outcome[0][:120] if outcome else 'nothing'} after {took:.1f} s")
            r = None
            for _ in range(20):  # the remote may take a moment to listen again
                try:
                    r = await client.call_tool("echo", {"message": "after restart"})
                    if not r.is_error:
                        break
                except Exception:  # noqa: BLE001
                    pass
                await anyio.sleep(0.5)
            checks.ok(f"[{mode}] the next call after the restart succeeds",
                      r is not None and text_of(r) == "after restart", repr(text_of(r)) if r else "no answer")

        await step(checks, f"[{mode}] listing", listing)
        await step(checks, f"[{mode}] progress", progress)
        await step(checks, f"[{mode}] requests back", requests_back)
        await step(checks, f"[{mode}] cancellation", cancellation)
        await step(checks, f"[{mode}] remote restart", remote_restart, limit=90)


async def no_key(binary: str, url: str, checks: Checks) -> None:
    """No credential at all: the remote's 401 must reach the client as a
    refusal that says so (an error result, or a failed start), quickly."""
    started = time.monotonic()
    said = ""
    with tempfile.TemporaryFile("w+") as errlog:
        try:
            with anyio.fail_after(60):
                async with client_for(binary, url, {}, "legacy", key_env=False, errlog=errlog) as client:
                    r = await client.call_tool("echo", {"message": "x"})
                    said = ("error result: " if r.is_error else "result: ") + text_of(r)
        except Exception as e:  # noqa: BLE001 - a refusal at start is right too: its stderr says why
            errlog.seek(0)
            said = describe(e) + " / stderr: " + errlog.read().strip()
    clear = "401" in said and "credential" in said
    checks.ok("without a key the remote's refusal reaches the client", clear and not said.startswith("result:"),
              f"{said[:200]} after {time.monotonic() - started:.1f} s")


async def main() -> int:
    binary, url, key, restart = sys.argv[1:5]
    checks = Checks()
    for mode in MODES:
        await session(binary, url, key, restart, mode, checks)
    await no_key(binary, url, checks)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
