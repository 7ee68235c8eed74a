#!/usr/bin/env python3
"""Interop check: `switchboard stdio --config FILE` as a desktop client's one
local gateway, launched by the official Python SDK's stdio client (mcp 2.x),
with the TypeScript `@modelcontextprotocol/server-everything` as a stdio
upstream (tools as ev__<name>), a Streamable HTTP server written with the
Python SDK (`http_upstream_server.py`, tools as py__<name>) and the
upstream crate's fixture server (a plain Python stdio server, fx__<name>,
for its `crash` and `pid` tools) behind it.

    .tools/venv/bin/python tests/interop/python/stdio_gateway_client.py \\
        SWITCHBOARD NODE SERVER_EVERYTHING_JS HTTP_UPSTREAM_URL FIXTURE_PY

For each mode the SDK offers over stdio — `legacy` (initialize, 2025-11-25)
and `2026-07-28` (stateless requests with `_meta`) — it checks: tools of
every upstream listed under their prefixes; calls; progress from both the
TypeScript and the Python server; a sampling request from the TypeScript
server answered by this client; cancellation (the call ends, the session
goes on); the TypeScript server killed with SIGKILL and started again under
the breaker, the session going on; at the end, closing the session ends the
front and every upstream process (checked in /proc). Then, without the SDK:
at end of input the front exits 0 with no upstream process left, a key for
the HTTP server gives one warning line, and `stdio --help` says what the
config file does.

Prints one line per check, "PASS <check> ..." or "FAIL <check>: <why>", and
exits non-zero if any check failed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from mcp import Client, types
from mcp.client.session import ClientRequestContext
from mcp.client.stdio import StdioServerParameters, stdio_client

from checks import Checks, text_of

MODES = ("legacy", "2026-07-28")
EV = "ev__"
PY = "py__"
FX = "fx__"
SAMPLED = "the desktop model says hi"


def describe(e: BaseException) -> str:
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    first = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {first}"


# --- /proc ------------------------------------------------------------------


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Running, not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not stat.rsplit(")", 1)[1].split()[0] == "Z"


def children(parent: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            out.append(int(entry))
    return out


def front_pid(config: Path) -> int | None:
    """The `switchboard stdio --config <config>` process (the path is unique)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and f"stdio --config {config}" in cmdline(int(entry)):
            return int(entry)
    return None


async def gone(pids: list[int]) -> list[int]:
    """The pids still running after waiting (bounded) for them to end."""
    left = list(pids)
    for _ in range(100):
        left = [p for p in left if alive(p)]
        if not left:
            break
        await anyio.sleep(0.05)
    return left


# --- one SDK session ----------------------------------------------------------


async def step(checks: Checks, name: str, fn: Callable[[], Awaitable[None]], limit: float = 60) -> None:
    """Run one group of checks; an exception (or hang) fails it without stopping the others."""
    try:
        with anyio.fail_after(limit):
            await fn()
    except Exception as e:  # noqa: BLE001 - report any SDK/transport failure as a check
        checks.ok(name, False, describe(e))


async def session(binary: str, config: Path, mode: str, checks: Checks) -> None:
    async def on_sampling(
        _ctx: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.ErrorData:
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=SAMPLED), model="desktop", stop_reason="endTurn"
        )

    async def on_elicit(
        _ctx: ClientRequestContext, _params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        return types.ElicitResult(action="accept", content={"name": "Stdio Desktop"})

    params = StdioServerParameters(command=binary, args=["stdio", "--config", str(config)], env={"RUST_LOG": "warn"})
    client = Client(
        stdio_client(params),
        mode=mode,
        sampling_callback=on_sampling,
        elicitation_callback=on_elicit,
        read_timeout_seconds=60,
        cache=None,
    )
    upstreams: list[int] = []
    pid: int | None = None
    async with client:
        pid = front_pid(config)
        checks.ok(f"[{mode}] connect", pid is not None, f"protocol {client.protocol_version}, front pid {pid}")

        async def listing() -> None:
            names: list[str] = []
            cursor = None
            while True:
                page = await client.list_tools(cursor=cursor)
                names += [t.name for t in page.tools]
                cursor = page.next_cursor
                if not cursor:
                    break
            wanted = [EV + "echo", EV + "trigger-sampling-request", EV + "trigger-long-running-operation",
                      PY + "py_echo", PY + "py_progress", FX + "crash"]
            missing = [n for n in wanted if n not in names]
            unprefixed = [n for n in names if not n.startswith((EV, PY, FX))]
            checks.ok(f"[{mode}] tools/list (ev__, py__, fx__)", not missing and not unprefixed,
                      f"{len(names)} tools" if not missing else f"missing {missing}; unprefixed {unprefixed}")

        async def calls() -> None:
            r = await client.call_tool(EV + "echo", {"message": "via stdio"})
            checks.ok(f"[{mode}] call {EV}echo", text_of(r) == "Echo: via stdio", repr(text_of(r)))
            r = await client.call_tool(PY + "py_echo", {"message": "via stdio"})
            checks.ok(f"[{mode}] call {PY}py_echo", text_of(r) == "py: via stdio", repr(text_of(r)))

        async def progress() -> None:
            for tool, args, done in ((EV + "trigger-long-running-operation", {"duration": 1, "steps": 3}, "completed"),
                                     (PY + "py_progress", {"steps": 3}, "done")):
                seen: list[float] = []

                async def on_progress(value: float, _total: float | None, _msg: str | None) -> None:
                    seen.append(value)

                r = await client.call_tool(tool, args, progress_callback=on_progress)
                checks.ok(f"[{mode}] progress from {tool}", len(seen) >= 3 and seen == sorted(seen)
                          and done in text_of(r), f"{seen}, result {text_of(r)[:80]!r}")

        async def sampling() -> None:
            r = await client.call_tool(EV + "trigger-sampling-request", {"prompt": "hello", "maxTokens": 10})
            checks.ok(f"[{mode}] sampling request answered by the client", SAMPLED in text_of(r) and not r.is_error,
                      " ".join(text_of(r).split())[:200])

        async def cancellation() -> None:
            with anyio.move_on_after(1.5) as scope:
                await client.call_tool(EV + "trigger-long-running-operation", {"duration": 30, "steps": 30})
            r = await client.call_tool(EV + "echo", {"message": "after cancel"})
            checks.ok(f"[{mode}] cancellation (the call ends, the session goes on)",
                      scope.cancelled_caught and text_of(r) == "Echo: after cancel", repr(text_of(r)))

        async def crash() -> None:
            nodes = [p for p in children(pid or 0) if "server-everything" in cmdline(p)]
            for p in nodes:
                os.kill(p, signal.SIGKILL)
            after = None
            errors = []
            for _ in range(5):  # the first call may meet the dead process
                try:
                    r = await client.call_tool(EV + "echo", {"message": "after crash"})
                    if text_of(r) == "Echo: after crash":
                        after = r
                        break
                    errors.append(text_of(r)[:100])
                except Exception as e:  # noqa: BLE001
                    errors.append(describe(e))
                await anyio.sleep(0.3)
            fresh = [p for p in children(pid or 0) if "server-everything" in cmdline(p) and p not in nodes]
            checks.ok(f"[{mode}] a killed upstream is started again, the session goes on",
                      bool(nodes) and after is not None and bool(fresh),
                      f"killed {nodes}, now {fresh}, errors before {errors}")

        await step(checks, f"[{mode}] tools/list", listing)
        await step(checks, f"[{mode}] calls", calls)
        await step(checks, f"[{mode}] progress", progress)
        await step(checks, f"[{mode}] sampling", sampling)
        await step(checks, f"[{mode}] cancellation", cancellation)
        await step(checks, f"[{mode}] crash", crash)
        upstreams = children(pid or 0)
    left = await gone(([pid] if pid else []) + upstreams)
    checks.ok(f"[{mode}] closing the session ends the front and its {len(upstreams)} upstream processes",
              bool(upstreams) and not left, f"still running: {left}")


# --- without the SDK ----------------------------------------------------------


def raw_front(binary: str, config: Path, checks: Checks) -> None:
    """End of input: answered, exit 0, no upstream process left; one warning line."""
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": EV + "echo", "arguments": {"message": "x"}}},
    ]
    proc = subprocess.Popen([binary, "stdio", "--config", str(config)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "RUST_LOG": "warn"})
    assert proc.stdin and proc.stdout
    for m in lines:
        proc.stdin.write(json.dumps(m) + "\n")
    proc.stdin.flush()
    answered = []
    while len(answered) < 2:
        line = proc.stdout.readline()
        if not line:
            break
        msg = json.loads(line)
        if "id" in msg and "method" not in msg:
            answered.append(msg)
    upstreams = children(proc.pid)
    proc.stdin.close()
    try:
        rc = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = None
    stderr = proc.stderr.read() if proc.stderr else ""
    left = anyio.run(gone, upstreams)
    echo = answered[-1].get("result", {}) if answered else {}
    checks.ok("end of input: answered, exit 0, every upstream process ended",
              rc == 0 and [m.get("id") for m in answered] == [1, 2] and bool(upstreams) and not left
              and "Echo: x" in json.dumps(echo),
              f"exit {rc}, answered {[m.get('id') for m in answered]}, upstreams {upstreams}, left {left}")
    warned = [line for line in stderr.splitlines() if "ignored here" in line]
    checks.ok("one warning line names the HTTP server's keys",
              len(warned) == 1 and "listen" in warned[0] and "tenants" in warned[0], repr(warned or stderr[-400:]))


def help_text(binary: str, checks: Checks) -> None:
    out = subprocess.run([binary, "stdio", "--help"], capture_output=True, text=True, timeout=30).stdout
    checks.ok("stdio --help says what the config file does", "[[upstreams]]" in out and "stdin closes" in out,
              out.split("--config", 1)[-1][:160].replace("\n", " "))


def config_text(node: str, js: str, url: str, fixture: str, extra: str = "") -> str:
    return f"""{extra}
[[upstreams]]
name = "ev"
command = {json.dumps(node)}
args = [{json.dumps(js)}, "stdio"]

[[upstreams]]
name = "py"
kind = "http"
url = {json.dumps(url)}
# py_ask elicits the session way (ctx.elicit), refused on a stateless request.
protocol = "session"

[[upstreams]]
name = "fx"
command = "python3"
args = [{json.dumps(fixture)}]
"""


def main() -> int:
    if len(sys.argv) != 6:
        print(f"usage: {sys.argv[0]} SWITCHBOARD NODE SERVER_EVERYTHING_JS HTTP_UPSTREAM_URL FIXTURE_PY", file=sys.stderr)
        return 2
    binary, node, js, url, fixture = sys.argv[1:]
    checks = Checks()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "desktop.toml"
        config.write_text(config_text(node, js, url, fixture))
        for mode in MODES:
            try:
                anyio.run(session, binary, config, mode, checks)
            except Exception as e:  # noqa: BLE001
                checks.ok(f"[{mode}] stdio session", False, describe(e))
        noisy = Path(tmp) / "with-http-keys.toml"
        noisy.write_text(config_text(node, js, url, fixture, 'listen = "127.0.0.1:9"\n\n[[tenants]]\nid = "t"\n'))
        raw_front(binary, noisy, checks)
    help_text(binary, checks)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
