#!/usr/bin/env python3
"""Minimal reproductions of what the chaos run found (target/chaos/DEFECTS.md).

    .tools/venv/bin/python tests/chaos/repro.py [BINARY] follower|redis-pause-gap

Each starts the chaos run's cluster (three nodes on Redis, tests/chaos/cluster.py),
does one thing, prints what happened and what should have, and exits 1 if
the defect is there.

- follower: a 2025-11-25 session calls `sleep` (20 s, progress) on node 1;
  after two events node 1 is SIGKILLed; the client resumes the request
  stream at node 2 with Last-Event-ID. Should: an answer for the request
  (a response, or an error saying its node is gone) within the server's
  request timeout. Bug: the stream stays open with keep-alives, no answer.
- redis-pause-gap: a session's request stream (`sleep` with progress) while
  Redis is SIGSTOPped: event ids skip (events numbered and never sent).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx2  # noqa: E402

from clients import sse_events  # noqa: E402
from cluster import ROOT, Cluster  # noqa: E402

H = {"content-type": "application/json", "accept": "application/json, text/event-stream",
     "mcp-protocol-version": "2025-11-25"}


async def session(http: httpx2.AsyncClient, base: str) -> dict:
    r = await http.post(base + "/mcp", headers=H, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "repro", "version": "1"}}})
    h = dict(H, **{"mcp-session-id": r.headers["mcp-session-id"]})
    await http.post(base + "/mcp", headers=h, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
    return h


async def follower(c: Cluster) -> bool:
    n1, n2 = c.nodes[0], c.nodes[1]
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=60)) as http:
        h = await session(http, n1.url)
        ids = []
        body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": "sleep", "arguments": {"ms": 20000}, "_meta": {"progressToken": "p"}}}
        async with http.stream("POST", n1.url + "/mcp", headers=h, json=body) as r:
            async for ev in sse_events(r):
                if ev["id"]:
                    ids.append(ev["id"])
                if len(ids) >= 3:
                    break
        os.kill(n1.pid, signal.SIGKILL)
        n1.proc.wait()
        print(f"follower: node 1 killed after events {ids}; resuming at node 2 with Last-Event-ID {ids[-1]}")
        t0 = time.time()
        got = []
        try:
            async with asyncio.timeout(45):
                async with http.stream("GET", n2.url + "/mcp", headers=dict(h, **{"last-event-id": ids[-1], "accept": "text/event-stream"})) as r:
                    print(f"follower: GET at node 2: HTTP {r.status_code}")
                    async for ev in sse_events(r):
                        got.append(ev)
                        if ev["data"] and '"id":7' in ev["data"]:
                            break
        except TimeoutError:
            pass
        answered = any(ev["data"] and '"id":7' in ev["data"] for ev in got)
        print(f"follower: after {time.time() - t0:.0f} s: {len(got)} events, answer for id 7: {answered}")
        print("follower: should: an answer for request 7 (its result, or an error saying the node running it is gone) "
              "within request_timeout_secs (20 s)")
        return not answered


async def redis_pause_gap(c: Cluster) -> bool:
    n1 = c.nodes[0]
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=60)) as http:
        h = await session(http, n1.url)
        ids = []
        body = {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                "params": {"name": "sleep", "arguments": {"ms": 5000}, "_meta": {"progressToken": "p"}}}
        async with http.stream("POST", n1.url + "/mcp", headers=h, json=body) as r:
            async for ev in sse_events(r):
                if ev["id"]:
                    ids.append(ev["id"])
                if len(ids) == 2:
                    os.kill(c.redis.pid, signal.SIGSTOP)
                    asyncio.get_running_loop().call_later(2.5, os.kill, c.redis.pid, signal.SIGCONT)
    seqs = [int(i.rsplit("-", 1)[1]) for i in ids]
    gap = any(b != a + 1 for a, b in zip(seqs, seqs[1:]))
    print(f"redis-pause-gap: event ids on one live connection, Redis stopped for 2.5 s from the second: {seqs}")
    print("redis-pause-gap: should: consecutive ids (every event numbered is sent), or no id consumed by an event not sent")
    return gap


def main() -> int:
    args = sys.argv[1:]
    binary = Path(args.pop(0)) if len(args) == 2 else ROOT / "target/debug/switchboard"
    what = args[0] if args else "follower"
    fn = {"follower": follower, "redis-pause-gap": redis_pause_gap}[what]
    out = ROOT / "target/chaos/repro" / what
    import shutil
    shutil.rmtree(out, ignore_errors=True)
    c = Cluster(binary=binary.resolve(), out=out)
    try:
        c.start()
        bug = asyncio.run(fn(c))
    finally:
        c.stop_all()
    print(f"{what}: {'DEFECT REPRODUCED' if bug else 'not reproduced'}")
    return 1 if bug else 0


if __name__ == "__main__":
    sys.exit(main())
