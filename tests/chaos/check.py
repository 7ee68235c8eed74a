#!/usr/bin/env python3
"""The invariants of a chaos run, checked from its recorded history (not from
logs), and the report.

    .tools/venv/bin/python tests/chaos/check.py target/chaos/<seed>/history.jsonl

prints the report and exits non-zero if an invariant failed. run.py calls
`check()` itself and writes report.md beside the history.
"""

from __future__ import annotations

import bisect
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from history import load  # noqa: E402

BOUND = 10.0  # seconds past a request's timeout that still count as "answered in time"
NODE_FAULTS = ("node_kill", "node_stop", "drain")
# What docs/deployment.md names as running a task again: its node died,
# drained or stopped, or Redis went away under its lease.
AT_LEAST_ONCE_FAULTS = NODE_FAULTS + ("redis_kill", "redis_pause")


def seq_of(event_id: str) -> tuple[str, int]:
    stream, _, seq = event_id.rpartition("-")
    return stream, int(seq)


class Inv:
    def __init__(self, name: str, what: str) -> None:
        self.name, self.what = name, what
        self.checked = 0
        self.violations: list[str] = []
        self.notes: list[str] = []
        self.counts: Counter = Counter()

    def bad(self, msg: str) -> None:
        self.violations.append(msg)

    @property
    def ok(self) -> bool:
        return not self.violations and self.checked > 0


def check(path: Path) -> tuple[bool, str]:
    h = load(path)
    by = defaultdict(list)
    for r in h:
        by[r["k"]].append(r)
    meta = by["meta"][0]
    t_start = by["plan"][0]["t_start"] if by["plan"] else (h[0].get("t") or 0)
    rel = lambda t: t - t_start  # noqa: E731
    faults = sorted(by["fault"], key=lambda f: f["t0"])
    reqs = by["req"]
    invs: list[Inv] = []

    def faults_during(t0: float, t1: float, kinds=None) -> list[dict]:
        return [f for f in faults if f["t0"] <= t1 + 1 and f["t1"] >= t0 - 1 and (kinds is None or f["kind"] in kinds)]

    # 1. Every request got exactly one answer, in time.
    inv = Inv("answers", "every request got exactly one answer (result, JSON-RPC error, HTTP status or a broken "
              "connection) within its timeout + %g s; no hang, no duplicate answer" % BOUND)
    for r in reqs:
        inv.checked += 1
        inv.counts[r["outcome"]] += 1
        took = r["t1"] - r["t0"]
        if r["outcome"] == "timeout" or took > r.get("limit", 60) + BOUND:
            around = ", ".join(f"{f['kind']}@{rel(f['t0']):.0f}s" for f in faults_during(r["t0"], r["t1"])) or "no fault"
            inv.bad(f"{r['client']} {r['era']} {r['method']} {r.get('name') or ''} rid={r.get('rid')} "
                    f"session={r.get('session')} at {rel(r['t0']):.1f}s: no answer in {took:.1f}s "
                    f"(resumes={r.get('resumes', 0)}, ids={len(r.get('ids') or [])}, last={((r.get('ids') or [None])[-1])}, "
                    f"break={r.get('break')}; during: {around})")
        if r["outcome"] in ("result", "error") and r.get("answers", 1) != 1:
            inv.bad(f"{r['client']} {r['method']} rid={r.get('rid')}: {r.get('answers')} answers")
        if r.get("late_close"):
            inv.notes.append(f"{r['client']} {r['method']} rid={r.get('rid')}: answered, but the stream was not closed")
    invs.append(inv)

    # 2. Events: delivered once and in order, across resumptions.
    inv = Inv("events", "every event a client was sent came once and in order (ids checked): GET streams across "
              "resumptions up to the log's tail, request streams across resumptions")
    streams = defaultdict(list)
    for s in by["stream"]:
        streams[s["session"]].append(s)
    tails = {t["session"]: t["seq"] for t in by["log_tail"]}
    for sid, conns in streams.items():
        conns.sort(key=lambda s: s["conn"])
        inv.checked += 1
        prev = None
        delivered = 0
        for s in conns:
            if s.get("priming") is not None:
                _, p = seq_of(s["priming"])
                if prev is None:
                    prev = p
                elif p != prev:
                    inv.bad(f"GET stream of {s['client']} ({sid[:8]}): reconnection {s['conn']} "
                            f"(Last-Event-ID {s.get('sent_last_event_id')}) primed at {p} after event {prev}: "
                            f"{'events ' + str(prev + 1) + '..' + str(p) + ' never delivered' if p > prev else 'ids went back'}")
                    prev = p
            for eid in s["ids"]:
                stream, n = seq_of(eid)
                delivered += 1
                if stream != "0":
                    inv.bad(f"GET stream of {s['client']}: event {eid} is not of stream 0")
                elif prev is not None and n <= prev:
                    inv.bad(f"GET stream of {s['client']} ({sid[:8]}): event {eid} again (duplicate) after {prev}, "
                            f"connection {s['conn']}")
                elif prev is not None and n != prev + 1:
                    inv.bad(f"GET stream of {s['client']} ({sid[:8]}): gap {prev} -> {n} on connection {s['conn']} "
                            f"(Last-Event-ID sent: {s.get('sent_last_event_id')})")
                prev = n if prev is None or n > prev else prev
            for hint in s.get("hints") or []:  # a drained node's last event: where to resume from
                _, n = seq_of(hint)
                inv.counts["resume hints"] += 1
                if prev is not None and n > prev:
                    inv.bad(f"GET stream of {s['client']} ({sid[:8]}): the server said to resume from {hint} "
                            f"after sending only up to {prev}")
        inv.counts["get_streams"] += 1
        inv.counts["get_connections"] += len(conns)
        inv.counts["get_resumptions"] += sum(1 for s in conns if s.get("sent_last_event_id"))
        inv.counts["get_events"] += delivered
        tail = tails.get(sid)
        if tail is not None and (prev is None or prev < tail):
            inv.bad(f"GET stream of {conns[0]['client']} ({sid[:8]}): the log holds up to {tail}, the client got up to {prev}")
    for r in reqs:
        ids = r.get("ids") or []
        for pos, hint in r.get("hints") or []:
            # An event without data (priming, or a drained node's last one)
            # names where to resume: the last event sent before it, or the
            # stream's start.
            inv.counts["request_stream_hints"] += 1
            want = seq_of(ids[pos - 1]) if pos else (seq_of(ids[0])[0] if ids else seq_of(hint)[0], 0)
            if seq_of(hint) != want:
                inv.bad(f"request stream of {r['client']} {r.get('name')} rid={r.get('rid')}: an event without data "
                        f"names {hint} after {ids[pos - 1] if pos else 'no event'} (resumes={r.get('resumes')})")
        if not ids:
            continue
        inv.checked += 1
        inv.counts["request_streams"] += 1
        inv.counts["request_stream_resumptions"] += r.get("resumes", 0)
        inv.counts["request_stream_events"] += len(ids)
        stream0, prev = seq_of(ids[0])
        for eid in ids[1:]:
            stream, n = seq_of(eid)
            if stream != stream0 or n != prev + 1:
                inv.bad(f"request stream of {r['client']} {r.get('name')} rid={r.get('rid')}: {stream0}-{prev} then {eid} "
                        f"({'duplicate' if stream == stream0 and n <= prev else 'gap'}; resumes={r.get('resumes')})")
            prev = max(prev, n) if stream == stream0 else prev
    invs.append(inv)

    # 3. Tasks: none lost, none run twice beyond the documented at-least-once case.
    inv = Inv("tasks", "no task lost or run twice, except at least once when its node died, drained or stopped "
              "or Redis went away while it ran (docs/deployment.md), listed as such")
    records = {t["task_id"]: t for t in by["task_record"]}
    for t in by["task"]:
        inv.checked += 1
        rec = records.get(t["task_id"], {})
        runs = rec.get("runs")
        inv.counts[f"status {t['status']}"] += 1
        if t["status"] != "completed":
            inv.bad(f"task {t['task_id']} of {t['client']} ({t['label']}): status {t['status']} after {t['polls']} polls "
                    f"(store: {rec.get('status')}, runs {runs})")
        elif not (t.get("text") or "").startswith(t["label"] + ":"):
            inv.bad(f"task {t['task_id']}: result {t.get('text')!r} is not {t['label']}'s")
        if runs is not None and runs > 1:
            near = faults_during(t["created"], t["terminal"], AT_LEAST_ONCE_FAULTS)
            if near:
                inv.counts["at-least-once (ran again after a node or Redis fault)"] += 1
                inv.notes.append(f"task {t['task_id']} ({t['label']}) ran {runs} times: at least once, "
                                 f"after {', '.join(f['kind'] + '@' + str(f.get('target', 'redis')) + ' ' + format(rel(f['t0']), '.0f') + 's' for f in near)}")
            else:
                other = ", ".join(f"{f['kind']}@{rel(f['t0']):.0f}s" for f in faults_during(t["created"] - 10, t["terminal"])) or "none"
                inv.bad(f"task {t['task_id']} ({t['label']}, {rel(t['created']):.1f}s-{rel(t['terminal']):.1f}s) ran {runs} "
                        f"times with no node fault during it (other faults from 10 s before: {other})")
        elif runs == 1:
            inv.counts["ran once"] += 1
    invs.append(inv)

    # 4. No orphaned child process.
    inv = Inv("processes", "no stdio upstream process without its node (sampled every 2 s), nothing of the run left "
              "after the shutdown")
    suspect: dict[int, float] = {}
    for p in by["procs"]:
        inv.checked += 1
        live = set(p["nodes"].values())
        now_suspect = set()
        for pid, ppid, _state in p["stdio"]:
            inv.counts["stdio samples"] += 1
            if ppid not in live:
                now_suspect.add(pid)
                if pid in suspect and p["t"] - suspect[pid] >= 2:
                    inv.bad(f"stdio upstream {pid} (parent {ppid}) has no live node at {rel(p['t']):.0f}s "
                            f"(since {rel(suspect[pid]):.0f}s)")
                suspect.setdefault(pid, p["t"])
        suspect = {k: v for k, v in suspect.items() if k in now_suspect}
    for f in by["final_procs"]:
        inv.checked += 1
        for p in f["left"]:
            inv.bad(f"left after the shutdown: pid {p['pid']} (parent {p['ppid']}): {p['cmd'][:120]}")
        inv.notes.append(f"exit codes at the shutdown: {f['exit_codes']}")
    invs.append(inv)

    # 5. No session left open after its client ended it.
    inv = Inv("sessions", "every session a client ended is gone from the store, and the session counts (the store's "
              "and each node's, admin API) are back to their baseline after the clients ended")
    counts = {c["phase"]: c for c in by["sessions_count"]}
    base, post = counts.get("baseline"), counts.get("post")
    if base and post:
        inv.checked += 1
        inv.notes.append(f"baseline {base['cluster']} in the store, {base['nodes']} per node; after: {post['cluster']}, "
                         f"{post['nodes']} ({post.get('waited')} s after the clients ended)")
        if post["cluster"] != base["cluster"]:
            inv.bad(f"the store holds {post['cluster']} sessions after the run (baseline {base['cluster']})")
        for n, v in post["nodes"].items():
            if v != base["nodes"].get(n, 0):
                inv.bad(f"node {n} holds {v} live sessions after the run (baseline {base['nodes'].get(n, 0)})")
        if len(post["nodes"]) < 3:
            inv.bad(f"only {len(post['nodes'])} nodes answered the admin API after the run")
    owners = {r.get("new_session"): r for r in reqs if r["method"] == "initialize" and r.get("new_session")}
    closes = {s["session"]: s for s in by["session"]}
    for s in by["session"]:
        owners.setdefault(s["session"], s)

    def whose(sid: str) -> str:
        o, c = owners.get(sid), closes.get(sid)
        who = f"{o['client']} ({o['era']})" if o else "a client that never got its id"
        end = "none recorded"
        if c:
            end = f"{c['close']} at {rel(c['closed']):.1f}s" if c.get("closed") else str(c["close"])
        return f"{sid[:8]} of {who}; its client's end: {end}"

    for st in by["store_sessions"]:
        for sid in st["ids"]:
            inv.notes.append(f"left in the store: {whose(sid)}")
    for st in by["node_sessions"]:
        for row in st["sessions"]:
            inv.notes.append(f"live on node {st['node']}: {whose(row['id'])} (era {row.get('era')}, idle {row.get('idle_secs')} s, "
                             f"open streams {row.get('open_streams')}, created {rel(row.get('created_ms', 0) / 1000):.1f}s)")
    for s in by["store_check"]:
        inv.checked += 1
        inv.counts["ended by their client"] += 1
        if s["exists"]:
            inv.bad(f"session {s['session'][:8]} of {s['client']} was ended (DELETE answered) but its record is in the store")
    for s in by["session"]:
        inv.counts[f"close {s['close']}"] += 1
    invs.append(inv)

    # 6. Quotas never exceeded cluster-wide.
    rate, burst, max_sess = meta["quota_rate"], meta["quota_burst"], meta["quota_sessions"]
    inv = Inv("quotas", f"the quota tenant (rate {rate}/s, burst {burst}, max_sessions {max_sess}, every node) was never "
              "admitted more: in any interval [a, b], calls surely admitted in it (sent at or after a, answered by b) "
              "<= burst + rate x (b - a) + 1; sessions surely open at once <= max_sessions")
    calls = sorted((r for r in reqs if r.get("tenant") == "quota" and r["method"] == "tools/call"), key=lambda r: r["t0"])
    admitted = [r for r in calls if r["outcome"] == "result"]
    inv.counts["calls"] = len(calls)
    inv.counts["admitted"] = len(admitted)
    inv.counts["refused 429"] = sum(1 for r in calls if r.get("status") == 429)
    worst = (0.0, None)
    ends = sorted(r["t1"] for r in admitted)
    starts = [r["t0"] for r in admitted]
    for i, a in enumerate(starts):
        # calls sent at or after a: admitted[i:], answered by b: count those with t1 <= b.
        later = sorted(r["t1"] for r in admitted[i:])
        for j, b in enumerate(later):
            n = j + 1
            allowed = burst + rate * (b - a) + 1
            if n - allowed > worst[0] or worst[1] is None:
                worst = (n - allowed, (a, b, n, allowed))
            if n > allowed:
                inv.bad(f"{n} calls admitted within [{rel(a):.2f}s, {rel(b):.2f}s], at most {allowed:.1f} allowed")
                break
        inv.checked += 1
        if len(inv.violations) > 20:
            break
    del ends
    if worst[1]:
        a, b, n, allowed = worst[1]
        inv.notes.append(f"tightest interval: {n} admitted in {b - a:.1f} s where {allowed:.1f} were allowed")
    opened = [(r["t1"], r["session"] or r.get("new_session")) for r in reqs
              if r.get("tenant") == "quota" and r["method"] == "initialize" and r["outcome"] == "result"]
    sess_new = {r["client"]: r.get("new_session") for r in reqs if r.get("tenant") == "quota" and r["method"] == "initialize"}
    ivals = []
    for r in reqs:
        if r.get("tenant") == "quota" and r["method"] == "initialize" and r["outcome"] == "result" and r.get("new_session"):
            sid = r["new_session"]
            dels = [d["t0"] for d in reqs if d["method"] == "DELETE" and d.get("session") == sid]
            ivals.append((r["t1"], min(dels) if dels else float("inf")))
    del opened, sess_new
    events = sorted([(a, 1) for a, b in ivals] + [(b, -1) for a, b in ivals if b > a], key=lambda e: (e[0], e[1]))
    cur = peak = 0
    for _, d in events:
        cur += d
        peak = max(peak, cur)
    inv.checked += 1
    inv.counts["sessions opened"] = len(ivals)
    inv.counts["peak sessions surely open"] = peak
    inv.counts["initialize refused 429"] = sum(1 for r in reqs if r.get("tenant") == "quota" and r["method"] == "initialize"
                                               and r.get("status") == 429)
    if peak > max_sess:
        inv.bad(f"{peak} sessions of the quota tenant open at once, max_sessions is {max_sess}")
    if not admitted:
        inv.bad("no call of the quota tenant was admitted: the quota was not exercised")
    invs.append(inv)

    # 7. RSS back within 10 % of its pre-fault level.
    inv = Inv("rss", "each node's RSS after load stopped is within 10 % of its pre-fault level (a restarted node: of "
              "its own level 20 s after its last start, under load)")
    pre = {r["node"]: r for r in by["rss"] if r["phase"] == "prefault"}
    warm = {}
    for r in by["rss"]:
        if r["phase"] == "warm":
            warm[(r["node"], r["pid"])] = r
    for r in by["rss"]:
        if r["phase"] != "post":
            continue
        inv.checked += 1
        n = r["node"]
        ref = pre.get(n) if pre.get(n) and pre[n]["pid"] == r["pid"] else warm.get((n, r["pid"]))
        if ref is None:
            inv.bad(f"node {n} (pid {r['pid']}): no reference level (restarted too late for a warm-up sample)")
            continue
        kind = "pre-fault" if ref["phase"] == "prefault" else "own post-restart warm-up"
        ratio = r["kb"] / ref["kb"]
        inv.notes.append(f"node {n}: {ref['kb'] / 1024:.1f} MiB ({kind}) -> {r['kb'] / 1024:.1f} MiB after load ({(ratio - 1) * 100:+.1f} %)")
        if ratio > 1.10:
            inv.bad(f"node {n}: RSS {r['kb']} kB after load, {ratio:.2f} x its {kind} level {ref['kb']} kB")
    invs.append(inv)

    ok = all(i.ok for i in invs)
    return ok, report(meta, by, invs, faults, rel, ok)


def report(meta, by, invs, faults, rel, ok) -> str:
    reqs = by["req"]
    end = by["end"][0] if by["end"] else {}
    lines = [f"# Chaos run, seed {meta['seed']}: {'PASS' if ok else 'FAIL'}", ""]
    lines.append(f"{meta['clients']} clients for {meta['minutes']:g} min against three nodes on one Redis behind nginx "
                 f"(binary {meta['binary']}); wall time {end.get('wall_secs')} s."
                 + (" **Experiment: GET streams reconnect without Last-Event-ID (`--no-resume`).**" if meta.get("no_resume") else ""))
    lines.append(f"Replay: `scripts/chaos.sh {meta['binary']} --seed {meta['seed']} --minutes {meta['minutes']:g}`"
                 + (" with `--no-resume`" if meta.get("no_resume") else "") + ".")
    lines += ["", "## Invariants", "", "| invariant | verdict | checked | violations | counts |", "|---|---|---|---|---|"]
    for i in invs:
        counts = ", ".join(f"{k}: {v}" for k, v in i.counts.items())
        lines.append(f"| {i.name} | {'PASS' if i.ok else 'FAIL'} | {i.checked} | {len(i.violations)} | {counts} |")
    for i in invs:
        lines += ["", f"### {i.name}: {'PASS' if i.ok else 'FAIL'}", "", i.what + "."]
        for v in i.violations[:25]:
            lines.append(f"- VIOLATION: {v}")
        if len(i.violations) > 25:
            lines.append(f"- … and {len(i.violations) - 25} more")
        for n in i.notes[:25]:
            lines.append(f"- {n}")
        if len(i.notes) > 25:
            lines.append(f"- … and {len(i.notes) - 25} more notes")
    lines += ["", "## History", ""]
    roster = by["roster"][0]["personas"] if by["roster"] else {}
    lines.append("Clients: " + ", ".join(f"{k} {v}" for k, v in roster.items()) + ".")
    lines.append(f"Requests: {len(reqs)}; GET stream connections: {len(by['stream'])}; sessions closed: {len(by['session'])}; "
                 f"tasks: {len(by['task'])}.")
    lines += ["", "| era | requests | result | error | http | transport | timeout |", "|---|---|---|---|---|---|---|"]
    per = defaultdict(Counter)
    for r in reqs:
        per[r["era"]][r["outcome"]] += 1
    for era in sorted(per):
        c = per[era]
        lines.append(f"| {era} | {sum(c.values())} | {c['result']} | {c['error']} | {c['http']} | {c['transport']} | {c['timeout']} |")
    codes = Counter()
    for r in reqs:
        if r["outcome"] == "error":
            codes[f"JSON-RPC {r.get('code')}"] += 1
        elif r["outcome"] == "http" and r.get("status") not in (200, 202):
            codes[f"HTTP {r.get('status')}"] += 1
        elif r["outcome"] == "transport":
            codes["transport: " + (r.get("msg") or "")[:60]] += 1
    lines += ["", "Answers other than a result, by kind (top 15):", ""]
    for k, v in codes.most_common(15):
        lines.append(f"- {k}: {v}")
    lines += ["", "## Faults applied", "", "| at (s) | until (s) | fault | target | detail |", "|---|---|---|---|---|"]
    for f in faults:
        lines.append(f"| {rel(f['t0']):.1f} | {rel(f['t1']):.1f} | {f['kind']} | {f.get('target') or ''} | {f['detail']} |")
    restarts = [s for s in by["node_start"] if s.get("why") != "start"]
    lines += ["", "Node restarts: " + (", ".join(f"node {s['node']} at {rel(s['t']):.1f}s ({s['why']}, pid {s['pid']})" for s in restarts) or "none") + "."]
    done = by["clients_done"][0] if by["clients_done"] else {}
    if done:
        lines.append(f"Clients at the end: {done.get('finished')} finished, {done.get('cancelled')} cancelled"
                     + (f", errors: {done.get('errors')}" if done.get("errors") else "") + ".")
    return "\n".join(lines) + "\n"


def main() -> int:
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} HISTORY.jsonl", file=sys.stderr)
        return 2
    ok, text = check(Path(sys.argv[1]))
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
