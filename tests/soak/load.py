#!/usr/bin/env python3
"""The soak's mixed load besides `switchboard bench calls` (scripts/soak.sh):

- **streams**: `--streams` 2025-11-25 sessions, each holding its GET stream
  open, calling a tool every few seconds (progress notifications, logging,
  echo), resuming its GET stream once per session life with
  `Last-Event-ID`, and ending (DELETE) after `--session-life` (60-180 s) to
  open a new one;
  one of them announces a tool-list change every 20 s, which every GET
  stream (on every node, through the bus) receives;
- **churn**: `--churn` sessions a second, each initialize →
  notifications/initialized → echo → a call with progress → DELETE;
- **tasks**: `--tasks` task-augmented `slow_compute` calls a second
  (2025-11-25 experimental tasks, ttl 30 s), each followed by `tasks/result`.

Raw HTTP (httpx2), no SDK, so the client's own cost stays small. Runs for
`--duration` seconds, then every worker ends its session (DELETE), so a
server's sessions and streams must come back to their baseline. Writes its
counters as JSON to `--stats` at the end (and every minute while running).

    .tools/venv/bin/python tests/soak/load.py --url http://127.0.0.1:8080/mcp \
        --duration 180 --streams 24 --churn 10 --tasks 0.5 --stats stats.json
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import random
import sys
import time

import httpx2

PV = "2025-11-25"
ACCEPT = "application/json, text/event-stream"

stats: collections.Counter[str] = collections.Counter()
errors: collections.Counter[str] = collections.Counter()
ids = itertools.count(1)


def note_error(kind: str, detail: str) -> None:
    errors[kind] += 1
    stats["errors"] += 1
    if errors[kind] <= 3:
        print(f"load: {kind}: {detail[:300]}", file=sys.stderr, flush=True)


def answer_of(body: str, rid: int) -> dict | None:
    """The JSON-RPC answer to `rid` in a JSON or SSE body."""
    texts = [body] if body.lstrip().startswith("{") else [
        line[5:].strip() for line in body.splitlines() if line.startswith("data:")
    ]
    for text in texts:
        if not text:
            continue
        try:
            msg = json.loads(text)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("id") == rid and ("result" in msg or "error" in msg):
            return msg
    return None


class Session:
    def __init__(self, http: httpx2.AsyncClient, url: str):
        self.http, self.url, self.sid = http, url, None

    def headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json", "Accept": ACCEPT}
        if self.sid:
            h["Mcp-Session-Id"] = self.sid
            h["MCP-Protocol-Version"] = PV
        return h

    async def rpc(self, kind: str, method: str, params: dict | None = None) -> dict | None:
        rid = next(ids)
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        try:
            r = await self.http.post(self.url, json=msg, headers=self.headers())
            body = r.text
        except httpx2.HTTPError as e:
            note_error(f"{kind}:transport", f"{type(e).__name__}: {e}")
            return None
        if r.status_code != 200:
            note_error(f"{kind}:http{r.status_code}", body)
            return None
        ans = answer_of(body, rid)
        if ans is None or "error" in ans:
            note_error(f"{kind}:rpc", body)
            return None
        stats[f"{kind}_ok"] += 1
        if method == "initialize":
            self.sid = r.headers.get("mcp-session-id")
        return ans["result"]

    async def open(self, kind: str, capabilities: dict | None = None) -> bool:
        res = await self.rpc(f"{kind}_init", "initialize", {
            "protocolVersion": PV,
            "capabilities": capabilities or {},
            "clientInfo": {"name": f"soak-{kind}", "version": "1"},
        })
        if res is None or not self.sid:
            return False
        try:
            r = await self.http.post(self.url, headers=self.headers(),
                                     json={"jsonrpc": "2.0", "method": "notifications/initialized"})
            if r.status_code != 202:
                note_error(f"{kind}_initialized:http{r.status_code}", r.text)
        except httpx2.HTTPError as e:
            note_error(f"{kind}_initialized:transport", str(e))
        stats["sessions_opened"] += 1
        return True

    async def call(self, kind: str, tool: str, arguments: dict, progress: bool = False) -> dict | None:
        params: dict = {"name": tool, "arguments": arguments}
        if progress:
            params["_meta"] = {"progressToken": f"p{next(ids)}"}
        return await self.rpc(kind, "tools/call", params)

    async def close(self) -> None:
        if not self.sid:
            return
        try:
            r = await self.http.delete(self.url, headers=self.headers())
            if r.status_code in (200, 202, 204):
                stats["sessions_deleted"] += 1
            else:
                note_error(f"delete:http{r.status_code}", r.text)
        except httpx2.HTTPError as e:
            note_error("delete:transport", str(e))
        self.sid = None


async def get_stream(s: Session, stop: asyncio.Event, last: list[str | None]) -> None:
    """Hold the session's GET stream until `stop`, counting events; the
    last event id goes to last[0] (for Last-Event-ID)."""
    h = s.headers()
    del h["Content-Type"]
    h["Accept"] = "text/event-stream"
    if last[0]:
        h["Last-Event-ID"] = last[0]
    try:
        async with s.http.stream("GET", s.url, headers=h,
                                 timeout=httpx2.Timeout(10, read=None)) as r:
            if r.status_code != 200:
                note_error(f"get:http{r.status_code}", (await r.aread()).decode(errors="replace"))
                return
            stats["get_streams_opened"] += 1
            if last[0]:
                stats["get_resumes"] += 1
            lines = r.aiter_lines()
            while not stop.is_set():
                nxt = asyncio.ensure_future(lines.__anext__())
                stopper = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait({nxt, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if nxt not in done:
                    nxt.cancel()
                    try:
                        await nxt
                    except BaseException:
                        pass
                    break
                stopper.cancel()
                try:
                    line = nxt.result()
                except StopAsyncIteration:
                    stats["get_ended_by_server"] += 1
                    break
                if line.startswith("id:"):
                    last[0] = line[3:].strip()
                elif line.startswith("data:") and line[5:].strip():
                    stats["get_events"] += 1
    except httpx2.HTTPError as e:
        if not stop.is_set():
            note_error("get:transport", f"{type(e).__name__}: {e}")


async def stream_worker(n: int, http: httpx2.AsyncClient, url: str, deadline: float,
                        life: tuple[float, float]) -> None:
    await asyncio.sleep(random.uniform(0, 5))
    while time.monotonic() < deadline:
        s = Session(http, url)
        if not await s.open("stream"):
            await asyncio.sleep(1)
            continue
        life_end = min(deadline, time.monotonic() + random.uniform(*life))
        resume_at = time.monotonic() + (life_end - time.monotonic()) / 2
        last: list[str | None] = [None]
        stop = asyncio.Event()
        reader = asyncio.create_task(get_stream(s, stop, last))
        next_change = time.monotonic() + 20
        i = 0
        while time.monotonic() < life_end:
            await asyncio.sleep(random.uniform(2, 4))
            i += 1
            if i % 3 == 0:
                await s.call("stream_call", "test_tool_with_progress", {}, progress=True)
            elif i % 3 == 1:
                await s.call("stream_call", "echo", {"message": "x" * random.randint(10, 2000)})
            else:
                await s.call("stream_call", "test_tool_with_logging", {})
            if n == 0 and time.monotonic() >= next_change:
                next_change += 20
                await s.call("stream_call", "test_trigger_tool_change", {})
            if resume_at and time.monotonic() >= resume_at:
                resume_at = 0
                stop.set()
                await reader
                stop = asyncio.Event()
                reader = asyncio.create_task(get_stream(s, stop, last))
        stop.set()
        await reader
        await s.close()


async def churn_cycle(http: httpx2.AsyncClient, url: str) -> None:
    s = Session(http, url)
    if await s.open("churn"):
        await s.call("churn_call", "echo", {"message": "churn"})
        await s.call("churn_call", "test_tool_with_progress", {}, progress=True)
        await s.close()
        stats["churn_cycles"] += 1


async def task_cycle(http: httpx2.AsyncClient, url: str) -> None:
    s = Session(http, url)
    if not await s.open("task"):
        return
    res = await s.rpc("task_create", "tools/call", {
        "name": "slow_compute", "arguments": {"seconds": 0.2, "label": "soak"},
        "task": {"ttl": 30000},
    })
    tid = (res or {}).get("task", {}).get("taskId")
    if tid:
        if await s.rpc("task_result", "tasks/result", {"taskId": tid}) is not None:
            stats["tasks_completed"] += 1
    await s.close()


async def paced(rate: float, deadline: float, make, limit: int) -> None:
    """Start make() `rate` times a second until the deadline, at most
    `limit` at once (a slow server slows the pace instead of piling up)."""
    if rate <= 0:
        return
    gate = asyncio.Semaphore(limit)
    running: set[asyncio.Task] = set()
    period = 1.0 / rate
    nxt = time.monotonic()
    while time.monotonic() < deadline:
        await gate.acquire()

        async def one() -> None:
            try:
                await make()
            finally:
                gate.release()

        t = asyncio.create_task(one())
        running.add(t)
        t.add_done_callback(running.discard)
        nxt += period
        delay = nxt - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            nxt = time.monotonic()
    if running:
        await asyncio.gather(*running, return_exceptions=True)


def write_stats(path: str | None, started: float, final: bool) -> None:
    out = {"elapsed_s": round(time.monotonic() - started, 1), "final": final,
           **dict(stats), "errors_by_kind": dict(errors)}
    if path:
        with open(path + ".tmp", "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)
        import os
        os.replace(path + ".tmp", path)
    print("load: " + json.dumps(out, sort_keys=True), file=sys.stderr, flush=True)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--duration", type=float, required=True, help="seconds")
    ap.add_argument("--streams", type=int, default=24)
    ap.add_argument("--churn", type=float, default=10.0, help="sessions opened and closed a second")
    ap.add_argument("--tasks", type=float, default=0.5, help="task-augmented calls a second")
    ap.add_argument("--session-life", default="60:180",
                    help="MIN:MAX seconds a streaming session lives before a new one")
    ap.add_argument("--stats")
    a = ap.parse_args()
    life = tuple(float(x) for x in a.session_life.split(":"))
    started = time.monotonic()
    deadline = started + a.duration
    limits = httpx2.Limits(max_connections=a.streams * 2 + 64, max_keepalive_connections=64)
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30), limits=limits) as http:
        async def reporter() -> None:
            while True:
                await asyncio.sleep(60)
                write_stats(a.stats, started, False)

        rep = asyncio.create_task(reporter())
        await asyncio.gather(
            *(stream_worker(n, http, a.url, deadline, life) for n in range(a.streams)),
            paced(a.churn, deadline, lambda: churn_cycle(http, a.url), 32),
            paced(a.tasks, deadline, lambda: task_cycle(http, a.url), 8),
        )
        rep.cancel()
    write_stats(a.stats, started, True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
