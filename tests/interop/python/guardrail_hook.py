#!/usr/bin/env python3
"""A guardrail hook endpoint for the tests, written with Flask (served by
Werkzeug on a free loopback port, printed as "port N" on stdout).

    .tools/venv/bin/python tests/interop/python/guardrail_hook.py

POST /check answers by the call it is shown:
- before a call of `echo` whose message contains "deny": deny, with a reason;
- before a call of `echo` whose message contains "rewrite": the arguments
  with the message replaced by "rewritten by the hook";
- after a call of `add`: the result replaced by one text "hooked";
- anything else: allow.
POST /slow sleeps 2 s, then allows (a hook that does not answer in time).
GET /seen lists every request it was shown (headers and body), so a test
can check no credential reached it.
"""

import json
import sys
import threading
import time

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

app = Flask(__name__)
seen = []
lock = threading.Lock()


def remember():
    with lock:
        seen.append({"headers": dict(request.headers), "body": request.get_data(as_text=True)})


@app.post("/check")
def check():
    remember()
    call = request.get_json(force=True)
    tool, stage = call.get("tool"), call.get("stage")
    message = str((call.get("arguments") or {}).get("message", ""))
    if stage == "before" and tool == "echo" and "deny" in message:
        return jsonify(decision="deny", reason="messages with deny words are not sent")
    if stage == "before" and tool == "echo" and "rewrite" in message:
        arguments = dict(call["arguments"], message="rewritten by the hook")
        return jsonify(decision="modify", arguments=arguments)
    if stage == "after" and tool == "add":
        return jsonify(decision="modify", result={"content": [{"type": "text", "text": "hooked"}]})
    return jsonify(decision="allow")


@app.post("/slow")
def slow():
    remember()
    time.sleep(2)
    return jsonify(decision="allow")


@app.get("/seen")
def all_seen():
    with lock:
        return jsonify(seen)


def main():
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"port {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
