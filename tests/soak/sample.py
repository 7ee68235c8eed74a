#!/usr/bin/env python3
"""The soak's sampler (scripts/soak.sh): one CSV row per node (and one for
Redis, if given) every `--interval` seconds, until `--stop-file` exists;
with `--once`, one round and exit.

Per node, from /proc/<pid>: RSS (VmRSS, KiB), open file descriptors,
threads; from its /metrics: switchboard_sessions_open,
switchboard_open_streams, switchboard_event_log_bytes,
switchboard_connections_open{pool="main"}, switchboard_in_flight. Tokio's
task count is not exposed by Switchboard (no metric); the MCP tasks kept
are counted in Redis (`<prefix>:task:*` keys) where there is one.

Per Redis (`--redis PORT:PREFIX`): used_memory (KiB), keys, the event-log
streams (`<prefix>:ev:*`: how many, their entries, their bytes by MEMORY
USAGE), the task records, and the live sessions (`<prefix>:{idx}:seen`).

Each row carries the stage soak.sh last wrote to `--stage-file`
(baseline, load, cooldown, after) and seconds since `--t0` (unix time).

    sample.py --out samples.csv --t0 T --stage-file F --interval 60 \
        --node node1:PID:http://127.0.0.1:PORT/metrics [--node …] \
        [--redis PORT:PREFIX] [--stop-file F | --once]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import time
import urllib.request

COLUMNS = [
    "t", "stage", "node", "alive", "rss_kib", "fds", "threads",
    "sessions_open", "open_streams", "event_log_bytes", "connections_main", "in_flight",
    "redis_used_kib", "redis_keys", "ev_streams", "ev_entries", "ev_bytes", "task_keys",
    "store_sessions",
]

METRICS = {
    "sessions_open": re.compile(r"^switchboard_sessions_open(?:\{\})? (\S+)$", re.M),
    "open_streams": re.compile(r"^switchboard_open_streams(?:\{\})? (\S+)$", re.M),
    "event_log_bytes": re.compile(r"^switchboard_event_log_bytes(?:\{\})? (\S+)$", re.M),
    "connections_main": re.compile(r'^switchboard_connections_open\{pool="main"\} (\S+)$', re.M),
    "in_flight": re.compile(r"^switchboard_in_flight(?:\{\})? (\S+)$", re.M),
}

# One round trip: event-log streams (count, entries, bytes), task records,
# live sessions. KEYS is fine on the soak's own Redis.
REDIS_LUA = """
local ev, entries, bytes = 0, 0, 0
for _, k in ipairs(redis.call('KEYS', ARGV[1] .. ':ev:*')) do
  ev = ev + 1
  entries = entries + redis.call('XLEN', k)
  bytes = bytes + (redis.call('MEMORY', 'USAGE', k) or 0)
end
local tasks = #redis.call('KEYS', ARGV[1] .. ':task:*')
local seen = redis.call('ZCARD', ARGV[1] .. ':{idx}:seen')
return {ev, entries, bytes, tasks, seen}
"""


def proc(pid: int) -> dict:
    out = {"alive": 0}
    try:
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        out["rss_kib"] = int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1))
        out["threads"] = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
        out["alive"] = 1
    except (OSError, AttributeError):
        pass
    return out


def metrics(url: str) -> dict:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for name, rx in METRICS.items():
        m = rx.search(text)
        if m:
            out[name] = int(float(m.group(1)))
    return out


def redis(port: str, prefix: str) -> dict:
    def cli(*args: str) -> str:
        return subprocess.run(["redis-cli", "-p", port, *args], capture_output=True,
                              text=True, timeout=20).stdout
    out = {}
    try:
        info = cli("info", "memory")
        m = re.search(r"^used_memory:(\d+)", info, re.M)
        if m:
            out["redis_used_kib"] = int(m.group(1)) // 1024
        keys = cli("dbsize").strip()
        if keys.isdigit():
            out["redis_keys"] = int(keys)
        vals = cli("eval", REDIS_LUA, "0", prefix).split()
        if len(vals) == 5 and all(v.lstrip("-").isdigit() for v in vals):
            (out["ev_streams"], out["ev_entries"], out["ev_bytes"], out["task_keys"],
             out["store_sessions"]) = map(int, vals)
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def one_round(a: argparse.Namespace, writer: csv.DictWriter) -> None:
    t = round(time.time() - a.t0, 1)
    stage = a.stage
    if a.stage_file:
        try:
            with open(a.stage_file) as f:
                stage = f.read().strip() or stage
        except OSError:
            pass
    for spec in a.node:
        name, pid, url = spec.split(":", 2)
        row = {"t": t, "stage": stage, "node": name, **proc(int(pid)), **metrics(url)}
        writer.writerow(row)
    for spec in a.redis or []:
        port, prefix = spec.split(":", 1)
        writer.writerow({"t": t, "stage": stage, "node": "redis", "alive": 1, **redis(port, prefix)})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--t0", type=float, required=True)
    ap.add_argument("--node", action="append", required=True, help="NAME:PID:METRICS_URL")
    ap.add_argument("--redis", action="append", help="PORT:PREFIX")
    ap.add_argument("--interval", type=float, default=60)
    ap.add_argument("--stage", default="load")
    ap.add_argument("--stage-file")
    ap.add_argument("--stop-file")
    ap.add_argument("--once", action="store_true")
    a = ap.parse_args()
    new = not os.path.exists(a.out) or os.path.getsize(a.out) == 0
    with open(a.out, "a", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        if new:
            writer.writeheader()
        while True:
            started = time.monotonic()
            one_round(a, writer)
            f.flush()
            if a.once or (a.stop_file and os.path.exists(a.stop_file)):
                return
            # Sleep to the next tick, waking early for the stop file.
            while time.monotonic() - started < a.interval:
                if a.stop_file and os.path.exists(a.stop_file):
                    return
                time.sleep(min(1.0, a.interval))


if __name__ == "__main__":
    main()
