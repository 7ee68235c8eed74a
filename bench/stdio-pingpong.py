#!/usr/bin/env python3
"""bench/stdio-pingpong.py — the CPU one `switchboard stdio` process spends
per `tools/call echo`, with nothing else running beside it.

    bench/stdio-pingpong.py BINARY [CALLS] [pingpong|batch]

pingpong (default): one call at a time, each answered before the next is
sent (every call wakes the process). batch: all calls written at once by
one thread while another reads the answers. Prints the child's CPU (user +
system, from /proc) and the wall time per call. Compare two builds by
running it for each, back to back, more than once.
"""
import json
import os
import subprocess
import sys
import threading
import time


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    mode = sys.argv[3] if len(sys.argv) > 3 else "pingpong"
    if mode not in ("pingpong", "batch"):
        sys.exit(__doc__)
    env = {**os.environ, "RUST_LOG": "warn"}
    child = subprocess.Popen([binary, "stdio"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)

    def send(message):
        child.stdin.write((json.dumps(message) + "\n").encode())
        child.stdin.flush()

    send({"jsonrpc": "2.0", "id": 0, "method": "initialize",
          "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                     "clientInfo": {"name": "pingpong", "version": "1"}}})
    child.stdout.readline()
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def ticks():
        with open(f"/proc/{child.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def line(i):
        return (json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                            "params": {"name": "echo", "arguments": {"message": "hi"}}})
                + "\n").encode()

    t0, w0 = ticks(), time.time()
    if mode == "pingpong":
        for i in range(calls):
            child.stdin.write(line(i))
            child.stdin.flush()
            if not child.stdout.readline():
                sys.exit("the process closed its stdout")
    else:
        def write_all():
            for i in range(calls):
                child.stdin.write(line(i))
            child.stdin.flush()
        writer = threading.Thread(target=write_all)
        writer.start()
        for _ in range(calls):
            if not child.stdout.readline():
                sys.exit("the process closed its stdout")
        writer.join()
    cpu_us = (ticks() - t0) * 1e6 / os.sysconf("SC_CLK_TCK") / calls
    wall_us = (time.time() - w0) * 1e6 / calls
    print(f"{mode}: {calls} calls, child CPU per call {cpu_us:.1f} us, wall per call {wall_us:.1f} us")
    child.kill()
    child.wait()


if __name__ == "__main__":
    main()
