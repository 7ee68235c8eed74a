#!/usr/bin/env python3
"""Issue 7, acceptance 4: Redis killed (SIGKILL) and restarted under load.

Starts redis-server (append-only file on) and one release node on it,
opens legacy sessions, and has one thread per session call `echo` in a loop
(closed loop, keep-alive connections); one more thread makes stateless
(2026-07-28) `echo` calls and one polls /readyz. After --before seconds
Redis is killed, after --down seconds more it is started again on the same
port and directory, and the load runs --after seconds more. Then every
session is called once: a 404 is a session lost.

Prints one JSON line: the 503s' latencies while Redis was down (requests
started between the kill and the restart), what the stateless calls and
/readyz saw, how long after Redis answered again the first call and every
session's thread were served, hangs (no answer within --hang seconds) and
sessions lost. Latencies are the client's (this script's, Python: they
include its own overhead), in milliseconds.

With --mode stop, Redis is frozen (SIGSTOP) instead of killed and thawed
(SIGCONT) instead of restarted: connections are accepted but nothing
answers, so every call waits for `redis_timeout_ms` before its 503.

    bench/redis-outage.py --bin target/release/switchboard [--sessions 50]
        [--before 3] [--down 5] [--after 5] [--hang 5] [--mode kill|stop]
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
}
ECHO = {"name": "echo", "arguments": {"message": "hi"}}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(7) == b"+PONG\r\n"
    except OSError:
        return False


def start_redis(port, data_dir):
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes", "--dir", data_dir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        if ping(port):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.0125)
    sys.exit("redis-outage: redis-server did not come up")


def start_node(binary, redis_port, log):
    port = free_port()
    env = dict(os.environ, RUST_LOG="error", SWITCHBOARD_STORE="redis",
               SWITCHBOARD_REDIS_URL=f"redis://127.0.0.1:{redis_port}",
               SWITCHBOARD_REDIS_PREFIX="outage",
               SWITCHBOARD_MAX_SESSIONS_PER_IDENTITY="100000")
    proc = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}"],
                            env=env, stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(400):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.025)
    sys.exit("redis-outage: the node did not come up")


def post(conn, body, headers):
    """One POST: (status, body bytes, response headers)."""
    conn.request("POST", "/mcp", json.dumps(body), {**HEADERS, **headers})
    resp = conn.getresponse()
    return resp.status, resp.read(), resp


def open_session(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    status, _, resp = post(conn, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "outage", "version": "1"}}}, {})
    assert status == 200, status
    sid = resp.getheader("Mcp-Session-Id")
    headers = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-11-25"}
    status, _, _ = post(conn, {"jsonrpc": "2.0", "method": "notifications/initialized"}, headers)
    assert status == 202, status
    conn.close()
    return headers


class Recorder:
    """(start, seconds, status or None for a hang, retry-after present) per request."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rows = []

    def add(self, row):
        with self.lock:
            self.rows.append(row)


def caller(port, headers, body, rec, stop, hang):
    conn = None
    n = 0
    while not stop.is_set():
        n += 1
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=hang)
        t0 = time.monotonic()
        try:
            status, _, resp = post(conn, {**body, "id": n}, headers)
            rec.add((t0, time.monotonic() - t0, status, resp.getheader("Retry-After") is not None))
        except (OSError, http.client.HTTPException):
            rec.add((t0, time.monotonic() - t0, None, False))
            conn.close()
            conn = None


def readiness(port, rec, stop):
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/readyz")
            rec.add((t0, time.monotonic() - t0, c.getresponse().status, False))
            c.close()
        except OSError:
            rec.add((t0, time.monotonic() - t0, None, False))
        time.sleep(0.05)


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000, 2)


def summary(rows):
    lat = [r[1] for r in rows]
    statuses = {}
    for r in rows:
        statuses[str(r[2])] = statuses.get(str(r[2]), 0) + 1
    return {"requests": len(rows), "statuses": statuses, "p50_ms": pct(lat, 50),
            "p99_ms": pct(lat, 99), "max_ms": pct(lat, 100)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--before", type=float, default=3)
    ap.add_argument("--down", type=float, default=5)
    ap.add_argument("--after", type=float, default=5)
    ap.add_argument("--hang", type=float, default=5)
    ap.add_argument("--mode", choices=["kill", "stop"], default="kill")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="sb-outage.")
    rport = free_port()
    redis = start_redis(rport, tmp)
    log = open(os.path.join(tmp, "node.log"), "wb")
    node, port = start_node(a.bin, rport, log)
    try:
        sessions = [open_session(port) for _ in range(a.sessions)]
        stop = threading.Event()
        legacy = [Recorder() for _ in sessions]
        modern, ready = Recorder(), Recorder()
        call = {"jsonrpc": "2.0", "method": "tools/call", "params": ECHO}
        stateless = {"jsonrpc": "2.0", "method": "tools/call", "params": {**ECHO, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}}}
        modern_headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call",
                          "Mcp-Name": "echo"}
        threads = [threading.Thread(target=caller, args=(port, h, call, r, stop, a.hang))
                   for h, r in zip(sessions, legacy)]
        threads.append(threading.Thread(
            target=caller, args=(port, modern_headers, stateless, modern, stop, a.hang)))
        threads.append(threading.Thread(target=readiness, args=(port, ready, stop)))
        load1 = os.getloadavg()[0]
        for t in threads:
            t.start()
        time.sleep(a.before)
        if a.mode == "kill":
            redis.send_signal(signal.SIGKILL)
            redis.wait()
        else:
            redis.send_signal(signal.SIGSTOP)
        t_kill = time.monotonic()
        time.sleep(a.down)
        t_restart = time.monotonic()
        if a.mode == "kill":
            redis = start_redis(rport, tmp)
        else:
            redis.send_signal(signal.SIGCONT)
        t_up = time.monotonic()
        time.sleep(a.after)
        stop.set()
        for t in threads:
            t.join()

        rows = [r for rec in legacy for r in rec.rows]
        down = [r for r in rows if t_kill <= r[0] < t_restart]
        down_503 = [r for r in down if r[2] == 503]
        served_after = [min((r[0] + r[1] for r in rec.rows if r[0] >= t_up and r[2] == 200),
                            default=None) for rec in legacy]
        first_ok = min((t for t in served_after if t is not None), default=None)
        all_ok = None if None in served_after else max(served_after)
        not_ready = [r for r in ready.rows if r[2] != 200 and r[0] >= t_kill]
        ready_again = min((r[0] for r in ready.rows if r[0] >= t_up and r[2] == 200), default=None)

        lost = 0
        for h in sessions:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=a.hang)
            status, _, _ = post(conn, {**call, "id": 1}, h)
            lost += status == 404
            conn.close()

        ms = lambda t: None if t is None else round(t * 1000, 1)
        out = {
            "mode": a.mode, "sessions": a.sessions, "before_s": a.before, "down_s": a.down, "after_s": a.after,
            "load1_before": load1,
            "legacy_before": summary([r for r in rows if r[0] < t_kill]),
            "legacy_down": summary(down),
            "legacy_down_503": {**summary(down_503),
                                "with_retry_after": sum(1 for r in down_503 if r[3])},
            "legacy_after_up": summary([r for r in rows if r[0] >= t_up]),
            "hangs": sum(1 for r in rows + modern.rows if r[2] is None),
            "stateless_down": summary([r for r in modern.rows if t_kill <= r[0] < t_restart]),
            "readyz_first_not_ready_after_kill_ms": ms(min((r[0] for r in not_ready), default=t_kill) - t_kill),
            "readyz_ready_after_redis_up_ms": ms(None if ready_again is None else ready_again - t_up),
            "redis_restart_to_up_ms": ms(t_up - t_restart),
            "first_call_served_after_redis_up_ms": ms(None if first_ok is None else first_ok - t_up),
            "every_session_served_after_redis_up_ms": ms(None if all_ok is None else all_ok - t_up),
            "sessions_lost": lost,
        }
        print(json.dumps(out))
    finally:
        node.terminate()
        node.wait()
        redis.send_signal(signal.SIGCONT)
        redis.kill()
        redis.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
