"""The fault schedule, drawn from the seed, and the faults themselves.

`schedule(seed, start, end)` gives a list of (at, kind, target, duration):
faults from `start` to `end` (the last minute of the run stays fault-free:
the caller passes end = duration - 60 s), spaced so the system can recover,
every kind once before any repeats (as time allows), and now and then two
at once (a node dies while Redis restarts...). The same seed gives the same
schedule.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time

from cluster import Cluster, vmrss_kb
from history import History

KINDS = (
    "node_kill",       # SIGKILL a node, restart it a few seconds later
    "node_stop",       # SIGSTOP a node, SIGCONT it
    "redis_kill",      # SIGKILL Redis, restart it on its AOF
    "redis_pause",     # SIGSTOP Redis, SIGCONT it
    "stdio_kill",      # SIGKILL a node's stdio upstream process (the node restarts it)
    "stdio_stop",      # SIGSTOP a node's stdio upstream process (wedged), SIGCONT
    "http_garbage",    # the HTTP upstream answers garbage
    "http_hang",       # the HTTP upstream hangs
    "drain",           # SIGTERM a node (drain), restart it when it has exited
)
NODE_FAULTS = {"node_kill", "node_stop", "drain"}
# Two faults at once are of different groups (never two on nodes, on Redis...).
GROUP = {k: k.split("_")[0] for k in KINDS} | {"drain": "node"}


def schedule(seed: int, start: float, end: float) -> list[tuple[float, str, int, float]]:
    rng = random.Random(seed)
    out: list[tuple[float, str, int, float]] = []
    bag: list[str] = []
    t = start
    while True:
        if not bag:
            bag = list(KINDS)
            rng.shuffle(bag)
        kind = bag.pop()
        dur = {"node_kill": rng.uniform(2, 5), "node_stop": rng.uniform(3, 8), "redis_kill": rng.uniform(2, 5),
               "redis_pause": rng.uniform(2, 6), "stdio_kill": 0.0, "stdio_stop": rng.uniform(4, 10),
               "http_garbage": rng.uniform(4, 10), "http_hang": rng.uniform(4, 10), "drain": 0.0}[kind]
        if t + dur + 8 > end:
            break
        out.append((round(t, 2), kind, rng.randint(1, 3), round(dur, 2)))
        # Sometimes a second fault of another kind at the same time, on
        # another node if it is one.
        if rng.random() < 0.3:
            other = rng.choice([k for k in KINDS if GROUP[k] != GROUP[kind]])
            odur = min(dur if dur else 4.0, 6.0) if other not in ("stdio_kill", "drain") else 0.0
            out.append((round(t + rng.uniform(0, 2), 2), other, rng.randint(1, 3), round(odur, 2)))
        t += max(dur, 3.0) + rng.uniform(8, 15)
    return sorted(out)


class Faults:
    def __init__(self, cluster: Cluster, hist: History, t_start: float) -> None:
        self.c = cluster
        self.hist = hist
        self.t_start = t_start
        self.warm_samples: dict[int, int] = {}  # node -> post-restart warm RSS (kB)
        self.tasks: list[asyncio.Task] = []

    async def run(self, plan: list[tuple[float, str, int, float]]) -> None:
        loop = asyncio.get_running_loop()
        for at, kind, target, dur in plan:
            delay = self.t_start + at - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self.tasks.append(loop.create_task(self.apply(at, kind, target, dur)))
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def apply(self, at: float, kind: str, target: int, dur: float) -> None:
        t0 = time.time()
        detail: dict = {"planned_at": at}
        try:
            await getattr(self, kind)(target, dur, detail)
        except Exception as e:  # noqa: BLE001 - a fault that could not be applied is recorded as such
            detail["error"] = f"{type(e).__name__}: {e}"
        self.hist.write("fault", kind=kind, target=target if kind in NODE_FAULTS or kind.startswith("stdio") else None,
                        t0=t0, t1=time.time(), detail=detail)

    # ---- nodes -----------------------------------------------------------
    def node(self, n: int):
        return self.c.nodes[n - 1]

    async def restart(self, n: int, why: str, detail: dict) -> None:
        node = self.node(n)
        for attempt in range(30):  # a node does not start while Redis is down: try again
            try:
                await asyncio.to_thread(self.c.start_node, node)
                break
            except RuntimeError as e:
                detail.setdefault("start_failures", []).append(str(e)[:120])
                await asyncio.sleep(2)
        detail["new_pid"] = node.pid
        self.hist.write("node_start", node=n, pid=node.pid, why=why)
        asyncio.get_running_loop().create_task(self.warm_sample(n, node.pid))

    async def warm_sample(self, n: int, pid: int | None) -> None:
        """A restarted node's own post-warm-up RSS: 20 s after its start, under load."""
        await asyncio.sleep(20)
        node = self.node(n)
        if pid is None or node.pid != pid:
            return
        kb = vmrss_kb(pid)
        if kb:
            self.hist.write("rss", node=n, pid=pid, kb=kb, phase="warm")

    async def node_kill(self, n: int, dur: float, detail: dict) -> None:
        node = self.node(n)
        if node.pid is None:
            detail["skipped"] = "node not running"
            return
        detail["pid"] = node.pid
        os.kill(node.pid, signal.SIGKILL)
        await asyncio.to_thread(node.proc.wait)
        await asyncio.sleep(dur)
        await self.restart(n, "after SIGKILL", detail)

    async def node_stop(self, n: int, dur: float, detail: dict) -> None:
        node = self.node(n)
        if node.pid is None:
            detail["skipped"] = "node not running"
            return
        detail["pid"] = node.pid
        os.kill(node.pid, signal.SIGSTOP)
        node.stopped = True
        await asyncio.sleep(dur)
        os.kill(node.pid, signal.SIGCONT)
        node.stopped = False

    async def drain(self, n: int, dur: float, detail: dict) -> None:
        node = self.node(n)
        if node.pid is None:
            detail["skipped"] = "node not running"
            return
        detail["pid"] = node.pid
        os.kill(node.pid, signal.SIGTERM)
        t = time.time()
        code = await asyncio.to_thread(node.proc.wait)
        detail["exit"] = code
        detail["drain_secs"] = round(time.time() - t, 2)
        await self.restart(n, "after drain", detail)

    # ---- Redis -----------------------------------------------------------
    async def redis_kill(self, _n: int, dur: float, detail: dict) -> None:
        r = self.c.redis
        detail["pid"] = r.pid
        os.kill(r.pid, signal.SIGKILL)
        await asyncio.to_thread(r.wait)
        await asyncio.sleep(dur)
        await asyncio.to_thread(self.c.start_redis)
        detail["new_pid"] = self.c.redis.pid

    async def redis_pause(self, _n: int, dur: float, detail: dict) -> None:
        r = self.c.redis
        detail["pid"] = r.pid
        os.kill(r.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(dur)
        finally:
            os.kill(r.pid, signal.SIGCONT)

    # ---- upstreams -------------------------------------------------------
    def stdio_child(self, n: int) -> int | None:
        node = self.node(n)
        if node.pid is None:
            return None
        for p in self.c.stdio_children():
            if p["ppid"] == node.pid:
                return p["pid"]
        return None

    async def stdio_kill(self, n: int, _dur: float, detail: dict) -> None:
        pid = self.stdio_child(n)
        if pid is None:
            detail["skipped"] = "no stdio child on that node"
            return
        detail["pid"] = pid
        os.kill(pid, signal.SIGKILL)

    async def stdio_stop(self, n: int, dur: float, detail: dict) -> None:
        pid = self.stdio_child(n)
        if pid is None:
            detail["skipped"] = "no stdio child on that node"
            return
        detail["pid"] = pid
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(dur)
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                detail["gone"] = True

    async def http_garbage(self, _n: int, dur: float, detail: dict) -> None:
        await asyncio.to_thread(self.c.upstream_mode, "garbage")
        try:
            await asyncio.sleep(dur)
        finally:
            await asyncio.to_thread(self.c.upstream_mode, "ok")

    async def http_hang(self, _n: int, dur: float, detail: dict) -> None:
        await asyncio.to_thread(self.c.upstream_mode, "hang")
        try:
            await asyncio.sleep(dur)
        finally:
            await asyncio.to_thread(self.c.upstream_mode, "ok")
