#!/usr/bin/env python3
"""The soak's plots, figures and bounds (scripts/soak.sh).

    report.py --out REPORT.md PHASE_DIR...

Each PHASE_DIR holds samples.csv (tests/soak/sample.py), meta.json,
load.json (tests/soak/load.py), bench-*.jsonl and reloads.txt. Draws the
PNGs into the phase directory, writes REPORT.md, exits 1 if a bound fails.

Windows: *warm-up* is the first `warmup_secs` of load; the samples after it
until the load ends are the *measured* ones. The warm-up level is the mean
of the first few measured samples (a quarter, at most 3), the end level the
mean of the last few; Q1 and Q4 are the means of the first and last
quarter of the measured samples. *Baseline* is the idle node before any
load, *after* the sample taken `cooldown_secs` after the load stopped.

Bounds (issue 18/23):
- RSS: end level within +10 % of the warm-up level, and Q4 within +10 % of Q1;
- no growth trend: Q4 within +10 % of Q1 for threads, and for open fds
  (or +16 descriptors: they follow the connections open at the instant);
- event-log sizes bounded: Q4 within +25 % of Q1 (or +256 KiB), and the
  measured series not rising monotonically (90 % of steps up, > 10 %
  overall); the same for Redis's event-log streams and memory, and the
  task records kept (+50 % or +10);
- after the load: sessions and streams back to their baseline; open fds
  other than connections back to baseline (+4); the event log (memory
  store) back to its baseline; in Redis no live session, no event-log
  stream and no task record left beyond the baseline;
- every node alive at every sample; every reload applied on every node;
  client errors at most 1 % of requests.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NUMERIC = [
    "t", "alive", "rss_kib", "fds", "threads", "sessions_open", "open_streams",
    "event_log_bytes", "connections_main", "in_flight", "redis_used_kib", "redis_keys",
    "ev_streams", "ev_entries", "ev_bytes", "task_keys", "store_sessions",
]


def load_samples(path: str) -> list[dict]:
    rows = []
    with open(path) as f:
        for r in csv.DictReader(f):
            for k in NUMERIC:
                v = r.get(k)
                r[k] = float(v) if v not in (None, "") else None
            rows.append(r)
    return rows


def mean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def pct(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    if a == 0:
        return 0.0 if b == 0 else float("inf")
    return (b - a) / a * 100


def fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "–"
    if v == float("inf"):
        return "∞"
    if abs(v) >= 100 or v == int(v):
        return f"{v:,.0f}{unit}"
    return f"{v:,.1f}{unit}"


class Phase:
    def __init__(self, d: str):
        self.dir = d
        self.meta = json.load(open(os.path.join(d, "meta.json")))
        self.rows = load_samples(os.path.join(d, "samples.csv"))
        self.name = self.meta["phase"]
        self.series = sorted({r["node"] for r in self.rows})
        self.warm_end = self.meta["load_start"] + self.meta["warmup_secs"]
        self.reloads = []
        try:
            for line in open(os.path.join(d, "reloads.txt")):
                self.reloads.append(float(line.split()[0]) - self.meta["t0"])
        except OSError:
            pass
        self.results: list[tuple] = []  # (node, check, detail, ok)
        self.figures: list[tuple] = []  # (node, metric, warm, end, growth, q1, q4, trend)

    def of(self, node: str, stage: str | None = None) -> list[dict]:
        return [r for r in self.rows if r["node"] == node and (stage is None or r["stage"] == stage)]

    def measured(self, node: str) -> list[dict]:
        return [r for r in self.of(node, "load")
                if self.warm_end <= r["t"] <= self.meta["load_end"] + 1]

    def check(self, node: str, name: str, detail: str, ok: bool) -> None:
        self.results.append((node, name, detail, ok))


def growth_checks(ph: Phase) -> None:
    for node in ph.series:
        m = ph.measured(node)
        if len(m) < 4:
            ph.check(node, "enough samples", f"{len(m)} measured samples (need 4)", False)
            continue
        k = max(1, min(3, len(m) // 4))
        q = max(1, len(m) // 4)
        specs = ([("rss_kib", "RSS (KiB)", 10, 0, True), ("fds", "open fds", 10, 16, False),
                  ("threads", "threads", 10, 2, False),
                  ("event_log_bytes", "event-log bytes", 25, 256 * 1024, False)]
                 if node != "redis" else
                 [("redis_used_kib", "Redis used memory (KiB)", 25, 1024, False),
                  ("ev_streams", "event-log streams", 25, 16, False),
                  ("ev_bytes", "event-log bytes", 25, 256 * 1024, False),
                  ("task_keys", "task records", 50, 10, False)])
        for col, label, bound, slack, end_bound in specs:
            xs = [r[col] for r in m if r[col] is not None]
            if len(xs) < 4 or not any(xs):
                continue  # not sampled, or 0 throughout (event_log_bytes on Redis)
            warm, end = mean(xs[:k]), mean(xs[-k:])
            q1, q4 = mean(xs[:q]), mean(xs[-q:])
            growth, trend = pct(warm, end), pct(q1, q4)
            ph.figures.append((node, label, warm, end, growth, q1, q4, trend))
            if end_bound:
                ph.check(node, f"{label}: end within +{bound} % of warm-up",
                         f"{fmt(warm)} → {fmt(end)} ({fmt(growth, ' %')})", growth <= bound)
            ok = trend <= bound or (q4 - q1) <= slack
            ph.check(node, f"{label}: no growth trend (Q4 vs Q1 ≤ +{bound} %"
                           + (f" or +{fmt(slack)})" if slack else ")"),
                     f"{fmt(q1)} → {fmt(q4)} ({fmt(trend, ' %')})", ok)
            if col in ("event_log_bytes", "ev_bytes", "ev_streams", "task_keys") and len(xs) >= 5:
                ups = sum(1 for a, b in zip(xs, xs[1:]) if b >= a)
                mono = ups >= 0.9 * (len(xs) - 1) and xs[-1] > xs[0] * 1.1 + slack
                ph.check(node, f"{label}: not rising monotonically",
                         f"{ups}/{len(xs) - 1} steps not down, {fmt(xs[0])} → {fmt(xs[-1])}", not mono)


def after_checks(ph: Phase) -> None:
    for node in ph.series:
        base, after = ph.of(node, "baseline"), ph.of(node, "after")
        if not base or not after:
            ph.check(node, "baseline and after samples", "missing", False)
            continue
        b, a = base[-1], after[-1]
        if node == "redis":
            for col, label in (("store_sessions", "live sessions in Redis"),
                               ("ev_streams", "event-log streams in Redis"),
                               ("task_keys", "task records in Redis")):
                if a[col] is None:
                    ph.check(node, f"{label} back to baseline", "not sampled", False)
                    continue
                ph.check(node, f"{label} back to baseline",
                         f"baseline {fmt(b[col])}, after {fmt(a[col])}", a[col] <= (b[col] or 0))
            continue
        for col, label in (("sessions_open", "sessions"), ("open_streams", "open streams"),
                           ("event_log_bytes", "event-log bytes")):
            if a[col] is None:
                continue
            ph.check(node, f"{label} back to baseline",
                     f"baseline {fmt(b[col])}, after {fmt(a[col])}", a[col] <= b[col])
        if None not in (a["fds"], b["fds"]):
            bo = b["fds"] - (b["connections_main"] or 0)
            ao = a["fds"] - (a["connections_main"] or 0)
            ph.check(node, "open fds (less open connections) back to baseline (+4)",
                     f"baseline {fmt(b['fds'])} ({fmt(b['connections_main'])} conns), "
                     f"after {fmt(a['fds'])} ({fmt(a['connections_main'])} conns)", ao <= bo + 4)
        m = ph.measured(node)
        ph.figures.append((node, "RSS after load (KiB)", b["rss_kib"],
                           a["rss_kib"], pct(b["rss_kib"], a["rss_kib"]),
                           mean([r["rss_kib"] for r in m[-3:]]) if m else None, None, None))


def other_checks(ph: Phase) -> list[str]:
    notes = []
    for node in ph.series:
        if node == "redis":
            continue
        dead = [r["t"] for r in ph.of(node) if not r["alive"]]
        ph.check(node, "alive at every sample", f"dead at t={dead[0]:.0f}s" if dead else
                 f"{len(ph.of(node))} samples", not dead)
    nodes = ph.meta["nodes"]
    ph.check("all", "every reload applied on every node",
             f"{ph.meta['reloads_sent']} sent × {nodes} nodes, {ph.meta['reloads_applied']} applied",
             ph.meta["reloads_applied"] >= ph.meta["reloads_sent"] * nodes and ph.meta["reloads_sent"] > 0)
    ok = errs = 0
    try:
        ls = json.load(open(os.path.join(ph.dir, "load.json")))
        lok = sum(v for k, v in ls.items() if k.endswith("_ok") and isinstance(v, int))
        ok += lok
        errs += ls.get("errors", 0)
        notes.append(
            f"load.py: {lok:,} requests answered, {ls.get('errors', 0)} errors "
            f"{ls.get('errors_by_kind') or ''}; {ls.get('sessions_opened', 0):,} sessions opened, "
            f"{ls.get('sessions_deleted', 0):,} deleted; {ls.get('churn_cycles', 0):,} churn cycles; "
            f"{ls.get('get_streams_opened', 0):,} GET streams ({ls.get('get_resumes', 0):,} resumed with "
            f"Last-Event-ID), {ls.get('get_events', 0):,} events on them; "
            f"{ls.get('tasks_completed', 0):,} tasks completed")
    except (OSError, ValueError):
        notes.append("load.py: no counters (load.json missing)")
        errs += 1
    for f in sorted(glob.glob(os.path.join(ph.dir, "bench-*.jsonl"))):
        era = os.path.basename(f)[6:-6]
        bok = brej = berr = 0
        secs = 0.0
        for line in open(f):
            try:
                j = json.loads(line)
            except ValueError:
                continue
            bok += j.get("ok", 0)
            brej += j.get("rejections", 0)
            berr += j.get("errors", 0)
            secs += j.get("elapsed_s", 0)
        ok += bok
        errs += brej + berr
        notes.append(f"bench calls ({era}): {bok:,} calls ok ({bok / secs if secs else 0:,.0f}/s), "
                     f"{brej} rejected, {berr} errors")
    rate = errs / (ok + errs) * 100 if ok + errs else 100.0
    ph.check("all", "client errors ≤ 1 % of requests", f"{errs} of {ok + errs:,} ({rate:.3f} %)",
             rate <= 1.0 and ok > 0)
    if not ph.meta.get("load_generators_ok", True):
        ph.check("all", "load generators exited cleanly", "one exited non-zero", False)
    return notes


PLOTS = [
    ("rss", "RSS (MiB)", lambda r: r["rss_kib"] / 1024 if r["rss_kib"] is not None else None, False),
    ("fds", "open file descriptors", lambda r: r["fds"], False),
    ("threads", "threads", lambda r: r["threads"], False),
    ("sessions", "sessions held (switchboard_sessions_open)", lambda r: r["sessions_open"], False),
    ("streams", "open SSE streams", lambda r: r["open_streams"], False),
    ("event_log", "event-log KiB (switchboard_event_log_bytes)",
     lambda r: r["event_log_bytes"] / 1024 if r["event_log_bytes"] is not None else None, False),
    ("redis_event_log", "Redis event-log streams: KiB (MEMORY USAGE)",
     lambda r: r["ev_bytes"] / 1024 if r["ev_bytes"] is not None else None, True),
    ("redis_tasks", "Redis task records kept", lambda r: r["task_keys"], True),
    ("redis_memory", "Redis used memory (MiB)",
     lambda r: r["redis_used_kib"] / 1024 if r["redis_used_kib"] is not None else None, True),
    ("redis_sessions", "live sessions in Redis", lambda r: r["store_sessions"], True),
]


def draw(ph: Phase, ax, label: str, get, redis: bool) -> bool:
    drew = False
    for node in ph.series:
        if (node == "redis") != redis:
            continue
        pts = [(r["t"] / 60, get(r)) for r in ph.of(node) if get(r) is not None]
        if not pts or (label.startswith("event-log") and all(v == 0 for _, v in pts)):
            continue
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=node)
        drew = True
    if not drew:
        return False
    ls, le = ph.meta["load_start"] / 60, ph.meta["load_end"] / 60
    ax.axvspan(ls, ph.warm_end / 60, color="orange", alpha=0.12, label="warm-up")
    ax.axvline(le, color="red", linestyle="--", linewidth=1, label="load stops")
    for i, t in enumerate(ph.reloads):
        ax.axvline(t / 60, color="grey", linestyle=":", linewidth=0.8, label="reload" if i == 0 else None)
    ax.set_title(label, fontsize=9)
    ax.set_xlabel("minutes", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="lower right")
    return True


def plots(ph: Phase) -> list[str]:
    out = []
    title = f"soak, {ph.name}: {ph.meta['nodes']} node(s), {ph.meta['store']} store, {ph.meta['build']} build"
    for key, label, get, redis in PLOTS:
        fig, ax = plt.subplots(figsize=(7, 3.2))
        if draw(ph, ax, label, get, redis):
            fig.suptitle(title, fontsize=9)
            fig.tight_layout()
            path = os.path.join(ph.dir, f"{key}.png")
            fig.savefig(path, dpi=110)
            out.append(path)
        plt.close(fig)
    avail = [p for p in PLOTS if os.path.join(ph.dir, f"{p[0]}.png") in out]
    cols = 2
    rows = (len(avail) + 1) // 2
    fig, axes = plt.subplots(rows, cols, figsize=(12, 3 * rows), squeeze=False)
    for ax, (key, label, get, redis) in zip(axes.flat, avail):
        draw(ph, ax, label, get, redis)
    for ax in list(axes.flat)[len(avail):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path = os.path.join(ph.dir, "overview.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path] + out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("phases", nargs="+")
    a = ap.parse_args()
    base = os.path.dirname(os.path.abspath(a.out))
    lines = ["# Soak report", ""]
    failed = 0
    for d in a.phases:
        ph = Phase(d)
        growth_checks(ph)
        after_checks(ph)
        notes = other_checks(ph)
        pngs = plots(ph)
        m = ph.meta
        lines += [
            f"## {ph.name}: {m['nodes']} node(s), store {m['store']}",
            "",
            f"- binary `{m.get('binary_source', m['binary'])}` ({m['build']} build, built "
            f"{m.get('binary_mtime', '?')}; run from a copy); {m['minutes']} min of load, "
            f"warm-up {m['warmup_secs']} s, a sample every {m['interval_secs']} s, "
            f"cool-down {m['cooldown_secs']} s; a reload every {m['reload_secs']} s "
            f"({m['reloads_sent']} sent, {m['reloads_applied']} applied across nodes)"
            + ("; run concurrently with the other phase" if m.get("concurrent") else ""),
            *[f"- {n}" for n in notes],
            "- tokio tasks: not exposed by Switchboard (no metric); threads are sampled instead, "
            "and MCP task records in Redis (three-node phase)",
            "",
            "| node | metric | warm-up level | end level | growth | Q1 mean | Q4 mean | trend |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for node, label, warm, end, growth, q1, q4, trend in ph.figures:
            if label.startswith("RSS after"):
                lines.append(f"| {node} | RSS: baseline → after load (last load level in Q1 column) "
                             f"| {fmt(warm)} | {fmt(end)} | {fmt(growth, ' %')} | {fmt(q1)} | | |")
            else:
                lines.append(f"| {node} | {label} | {fmt(warm)} | {fmt(end)} | {fmt(growth, ' %')} "
                             f"| {fmt(q1)} | {fmt(q4)} | {fmt(trend, ' %')} |")
        lines += ["", "| node | bound | figures | result |", "|---|---|---|---|"]
        for node, name, detail, ok in ph.results:
            lines.append(f"| {node} | {name} | {detail} | {'pass' if ok else '**FAIL**'} |")
            failed += not ok
        lines += ["", *[f"![{os.path.basename(p)}]({os.path.relpath(p, base)})" for p in pngs[:1]],
                  "", "Plots: " + ", ".join(f"`{os.path.relpath(p, base)}`" for p in pngs), ""]
        print(f"soak {ph.name}: {sum(1 for r in ph.results if r[3])}/{len(ph.results)} bounds pass")
        for node, name, detail, ok in ph.results:
            if not ok:
                print(f"  FAIL {node}: {name}: {detail}")
    lines.insert(2, f"**{'PASS' if not failed else f'FAIL ({failed} bounds)'}**")
    lines.insert(3, "")
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
