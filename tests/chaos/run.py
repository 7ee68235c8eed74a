#!/usr/bin/env python3
"""The chaos run (scripts/chaos.sh is its entry point; docs in
tests/chaos/README.md).

    .tools/venv/bin/python tests/chaos/run.py --binary BIN --seed N --minutes M [--clients C] [--no-resume]

Timeline of a run of M minutes: the cluster starts; the clients start; 30 s
of warm-up (each node's RSS sampled: its pre-fault level); faults from the
seed's schedule until one minute before the end; the last minute fault-free;
then the clients stop (each ends its sessions), the event logs' tails are
read, the session counts are watched back to their baseline, RSS sampled
again, the nodes drained, and the process table checked. Everything goes to
target/chaos/<seed>/history.jsonl; tests/chaos/check.py then checks the
invariants from that history and writes report.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx2  # noqa: E402

import check  # noqa: E402
import clients  # noqa: E402
from cluster import ROOT, Cluster, proc_table, vmrss_kb  # noqa: E402
from faults import Faults, schedule  # noqa: E402
from history import History  # noqa: E402

WARMUP = 30.0
QUIET_END = 60.0


def mix(n: int) -> list[tuple[str, tuple]]:
    """The personas of n clients (at least one of each)."""
    sdk = max(2, min(6, n // 30))
    quota, quota_sess = 2, 2
    rest = max(0, n - sdk - quota - quota_sess)
    shares = {"session": 0.40, "stateless": 0.30, "watcher": 0.10, "task": 0.08, "legacy_sse": 0.05}
    counts = {k: max(1, int(rest * v)) for k, v in shares.items()}
    counts["session"] += max(0, rest - sum(counts.values()))
    out: list[tuple[str, tuple]] = []
    for i in range(counts["session"]):
        out.append(("session", (f"sess{i}", clients.SESSION_ERAS[i % 3])))
    for i in range(counts["stateless"]):
        out.append(("stateless", (f"sl{i}",)))
    for i in range(counts["watcher"]):
        out.append(("watcher", (f"w{i}",)))
    for i in range(counts["task"]):
        out.append(("task", (f"task{i}",)))
    for i in range(counts["legacy_sse"]):
        out.append(("legacy_sse", (f"sse{i}", i)))
    for i in range(sdk):
        out.append(("sdk", (f"sdk{i}", "legacy" if i % 2 == 0 else clients.MODERN)))
    for i in range(quota):
        out.append(("quota", (f"q{i}",)))
    for i in range(quota_sess):
        out.append(("quota_session", (f"qs{i}",)))
    return out


PERSONAS = {
    "session": clients.session_client, "stateless": clients.stateless, "watcher": clients.watcher,
    "task": clients.task_client, "legacy_sse": clients.legacy_sse, "sdk": clients.sdk_client,
    "quota": clients.quota_client, "quota_session": clients.quota_session_client,
}


async def sample_procs(c: Cluster, hist: History, stop: asyncio.Event) -> None:
    while not stop.is_set():
        table = await asyncio.to_thread(proc_table)
        nodes = {n.n: n.pid for n in c.nodes if n.pid}
        stdio = [[p["pid"], p["ppid"], p["state"]] for p in c.stdio_children(table)]
        hist.write("procs", nodes=nodes, stdio=stdio)
        try:
            await asyncio.wait_for(stop.wait(), 2.0)
        except asyncio.TimeoutError:
            pass


async def session_counts(c: Cluster, phase: str) -> dict:
    nodes = {}
    cluster_count = None
    for n in c.nodes:
        s = await asyncio.to_thread(c.admin, n, "/stats")
        if s:
            nodes[n.n] = (s.get("sessions") or {}).get("total")
            cluster_count = (s.get("cluster") or {}).get("sessions", cluster_count)
    return {"phase": phase, "cluster": cluster_count, "nodes": nodes}


async def drive(args, c: Cluster, hist: History) -> None:
    duration = args.minutes * 60.0
    http = httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=clients.LIMIT),
                              limits=httpx2.Limits(max_connections=2000, max_keepalive_connections=300))
    t_start = time.time()
    ctx = clients.Ctx(hist=hist, http=http, front=c.front, nodes=[n.url for n in c.nodes],
                      stop_at=t_start + duration, quota_key=c.quota_key, no_resume=args.no_resume)
    base = await session_counts(c, "baseline")
    hist.write("sessions_count", **base)
    plan = schedule(args.seed, WARMUP + 5, duration - QUIET_END)
    hist.write("plan", t_start=t_start, faults=[{"at": a, "kind": k, "target": n, "dur": d} for a, k, n, d in plan])
    print(f"chaos: {len(plan)} faults planned: " + ", ".join(f"{a:.0f}s {k}" + (f"@{n}" if k.startswith(("node", "drain", "stdio")) else "") for a, k, n, d in plan), flush=True)

    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(sample_procs(c, hist, stop_sampling))
    roster = mix(args.clients)
    hist.write("roster", personas={k: sum(1 for p, _ in roster if p == k) for k in PERSONAS})
    tasks = [asyncio.create_task(PERSONAS[p](ctx, *a)) for p, a in roster]

    # Warm-up: each node's pre-fault RSS (median of samples over its last 10 s).
    await asyncio.sleep(WARMUP - 10)
    samples: dict[int, list[int]] = {n.n: [] for n in c.nodes}
    for _ in range(5):
        for n in c.nodes:
            if n.pid and (kb := vmrss_kb(n.pid)):
                samples[n.n].append(kb)
        await asyncio.sleep(2)
    for n in c.nodes:
        if samples[n.n]:
            hist.write("rss", node=n.n, pid=n.pid, kb=int(statistics.median(samples[n.n])), phase="prefault",
                       samples=samples[n.n])

    faults = Faults(c, hist, t_start)
    fault_task = asyncio.create_task(faults.run(plan))
    # Progress lines while it runs.
    while time.time() < ctx.stop_at:
        await asyncio.sleep(min(30, max(0.1, ctx.stop_at - time.time())))
        print(f"chaos: t={time.time() - t_start:.0f}s", flush=True)
    await fault_task
    hist.write("load_stopped")

    # Load has stopped: let the last calls end, then read each watcher's
    # GET log tail (Redis is the log) for the delivery check.
    await asyncio.sleep(5)
    for sid in ctx.watcher_sessions:
        out = await asyncio.to_thread(c.redis_cli, "XREVRANGE", f"{c.prefix}:ev:{{{sid}}}:0", "+", "-", "COUNT", "1")
        first = out.split("\n", 1)[0].strip()
        if first:
            seq = int(first.split("-")[1])
            ctx.tails[sid] = seq
            hist.write("log_tail", session=sid, seq=seq)
        else:
            hist.write("log_tail", session=sid, seq=None)
    ctx.tails_ready.set()
    done, pending = await asyncio.wait(tasks, timeout=120)
    for t in pending:
        t.cancel()
    hist.write("clients_done", finished=len(done), cancelled=len(pending),
               errors=[repr(t.exception())[:300] for t in done if not t.cancelled() and t.exception()])
    t_done = time.time()

    # Sessions back to the baseline (uninitialized ones end after
    # session_init_timeout_secs = 10 s).
    last = None
    for _ in range(40):
        last = await session_counts(c, "post")
        if last["cluster"] == base["cluster"] and all(v == base["nodes"].get(k, 0) for k, v in last["nodes"].items()):
            break
        await asyncio.sleep(1)
    last["waited"] = round(time.time() - t_done, 1)
    hist.write("sessions_count", **last)
    for n in c.nodes:
        rows = await asyncio.to_thread(c.admin, n, "/sessions?limit=1000")
        hist.write("node_sessions", node=n.n, sessions=(rows or {}).get("sessions", []))
    keys = await asyncio.to_thread(c.redis_cli, "--scan", "--pattern", f"{c.prefix}:s:*")
    hist.write("store_sessions", ids=[k.split("{", 1)[1].rstrip("}") for k in keys.split() if "{" in k])
    # Each session a client ended: its record must be gone from the store.
    for e in ctx.ended_sessions:
        n = (await asyncio.to_thread(c.redis_cli, "EXISTS", f"{c.prefix}:s:{{{e['session']}}}")).strip()
        hist.write("store_check", session=e["session"], client=e["client"], exists=n == "1")
    # Tasks: their records (with `runs`) from Redis.
    for line in open(hist.path):
        if '"k":"task"' in line:
            import json
            tid = json.loads(line)["task_id"]
            raw = (await asyncio.to_thread(c.redis_cli, "HGET", f"{c.prefix}:task:{{{tid}}}", "r")).strip()
            try:
                rec = json.loads(raw)
                hist.write("task_record", task_id=tid, runs=rec.get("runs"), status=rec.get("status"))
            except ValueError:
                hist.write("task_record", task_id=tid, runs=None, status=None, raw=raw[:100])
    # RSS after load stopped (a few seconds to settle).
    await asyncio.sleep(5)
    for n in c.nodes:
        if n.pid and (kb := vmrss_kb(n.pid)):
            hist.write("rss", node=n.n, pid=n.pid, kb=kb, phase="post")
    stop_sampling.set()
    await sampler
    await http.aclose()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "target/debug/switchboard"))
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=int(os.environ.get("CHAOS_CLIENTS", "200")))
    ap.add_argument("--no-resume", action="store_true",
                    help="the 'can fail' experiment: GET streams reconnect without Last-Event-ID")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out = Path(args.out) if args.out else ROOT / "target/chaos" / (str(args.seed) + ("-no-resume" if args.no_resume else ""))
    if out.exists():
        import shutil
        shutil.rmtree(out)
    out.mkdir(parents=True)
    hist = History(out / "history.jsonl")
    binary = Path(args.binary).resolve()
    for _ in range(60):  # the binary may be briefly missing while it is rebuilt
        if binary.exists():
            break
        time.sleep(5)
    c = Cluster(binary=binary, out=out)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    hist.write("meta", seed=args.seed, minutes=args.minutes, clients=args.clients, no_resume=args.no_resume,
               binary=str(binary), quota_rate=c.QUOTA_RATE, quota_burst=c.QUOTA_BURST,
               quota_sessions=c.QUOTA_SESSIONS, warmup=WARMUP, quiet_end=QUIET_END, limit=clients.LIMIT)
    t0 = time.time()
    interrupted = False
    try:
        c.start()
        for n in c.nodes:
            hist.write("node_start", node=n.n, pid=n.pid, why="start")
        print(f"chaos: 3 nodes on Redis :{c.redis_port} behind {c.front}, HTTP upstream :{c.upstream_port}; "
              f"{args.clients} clients for {args.minutes:g} min; logs in {c.run_dir}", flush=True)
        asyncio.run(drive(args, c, hist))
    except KeyboardInterrupt:
        interrupted = True
        print("chaos: interrupted", flush=True)
    finally:
        codes = c.stop_all()
        time.sleep(2)
        left = c.ours()
        hist.write("final_procs", exit_codes=codes, left=left)
        for p in left:  # leave nothing behind, whatever the verdict
            try:
                os.kill(p["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
        hist.write("end", wall_secs=round(time.time() - t0, 1))
        hist.close()
    if interrupted:
        return 130
    ok, report = check.check(out / "history.jsonl")
    (out / "report.md").write_text(report)
    print(report.split("\n## Faults")[0], flush=True)
    print(f"chaos: report {out / 'report.md'}, history {out / 'history.jsonl'}", flush=True)
    print(f"chaos: seed {args.seed}: {'PASS' if ok else 'FAIL'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
