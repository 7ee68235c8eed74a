#!/usr/bin/env python3
"""A small Streamable HTTP MCP server the chaos run controls: the HTTP
upstream of every node (tools reach clients as py__<name>).

    .tools/venv/bin/python tests/chaos/upstream.py PORT

It speaks just enough MCP (initialize, notifications, ping, tools/list,
tools/call, DELETE) with JSON responses, so it costs little CPU, and it can
be made to misbehave on purpose:

    POST /control {"mode": "ok" | "garbage" | "hang"}

- ok: normal answers;
- garbage: every MCP request is answered 200 with a body that is not JSON-RPC
  (half the time not JSON at all, half the time JSON of the wrong shape);
- hang: every MCP request waits (without answering) until the mode changes,
  then is answered 503 (its caller, the gateway, should have timed out).

Tools: `echo(message)` → "py: <message>", `slow(ms)` sleeps then answers,
`count()` answers how many calls this process has served.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

STATE = {"mode": "ok", "calls": 0, "changed": None}

TOOLS = [
    {
        "name": "echo",
        "description": "Echo the message, prefixed with 'py: '",
        "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
    },
    {
        "name": "slow",
        "description": "Sleep `ms` milliseconds, then answer",
        "inputSchema": {"type": "object", "properties": {"ms": {"type": "integer"}}},
    },
    {
        "name": "count",
        "description": "How many tool calls this process has served",
        "inputSchema": {"type": "object", "properties": {}},
    },
]


def changed() -> asyncio.Event:
    if STATE["changed"] is None:
        STATE["changed"] = asyncio.Event()
    return STATE["changed"]


async def control(request: Request) -> Response:
    if request.method == "GET":
        return JSONResponse({"mode": STATE["mode"], "calls": STATE["calls"]})
    body = await request.json()
    mode = body.get("mode")
    if mode not in ("ok", "garbage", "hang"):
        return JSONResponse({"error": "mode is ok, garbage or hang"}, status_code=400)
    STATE["mode"] = mode
    ev = changed()
    ev.set()
    STATE["changed"] = asyncio.Event()
    return JSONResponse({"mode": mode})


def text(t: str) -> dict:
    return {"content": [{"type": "text", "text": t}]}


async def answer(msg: dict) -> dict | None:
    method = msg.get("method")
    mid = msg.get("id")
    if mid is None:  # a notification
        return None
    params = msg.get("params") or {}
    if method == "initialize":
        result = {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "chaos-upstream", "version": "1"},
        }
    elif method == "ping":
        result = {}
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call":
        name = params.get("name")
        args = params.get("arguments") or {}
        STATE["calls"] += 1
        if name == "echo":
            result = text(f"py: {args.get('message', '')}")
        elif name == "slow":
            await asyncio.sleep(min(int(args.get("ms", 100)), 30000) / 1000)
            result = text("slow: done")
        elif name == "count":
            result = text(str(STATE["calls"]))
        else:
            return {"jsonrpc": "2.0", "id": mid, "error": {"code": -32602, "message": f"unknown tool {name}"}}
    elif method in ("resources/list", "prompts/list", "resources/templates/list"):
        key = {"resources/list": "resources", "prompts/list": "prompts", "resources/templates/list": "resourceTemplates"}[method]
        result = {key: []}
    else:
        return {"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": f"method not found: {method}"}}
    return {"jsonrpc": "2.0", "id": mid, "result": result}


async def mcp(request: Request) -> Response:
    mode = STATE["mode"]
    if mode == "hang":
        ev = changed()
        await ev.wait()
        return PlainTextResponse("was hanging", status_code=503)
    if request.method == "DELETE":
        return Response(status_code=200)
    if request.method == "GET":
        return Response(status_code=405)
    raw = await request.body()
    if mode == "garbage":
        if secrets.randbelow(2):
            return Response(b"\x00garbage{{{not json", status_code=200, media_type="application/json")
        return JSONResponse({"jsonrpc": "2.0", "garbage": [1, 2, 3]}, status_code=200)
    try:
        msg = json.loads(raw)
    except ValueError:
        return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}, status_code=400)
    if isinstance(msg, list):
        out = [a for a in [await answer(m) for m in msg] if a is not None]
        return JSONResponse(out) if out else Response(status_code=202)
    out = await answer(msg)
    if out is None:
        return Response(status_code=202)
    headers = {}
    if msg.get("method") == "initialize":
        headers["Mcp-Session-Id"] = secrets.token_hex(16)
    return JSONResponse(out, headers=headers)


app = Starlette(
    routes=[
        Route("/mcp", mcp, methods=["GET", "POST", "DELETE"]),
        Route("/control", control, methods=["GET", "POST"]),
        Route("/healthz", lambda r: PlainTextResponse("ok")),
    ]
)


def main() -> int:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print(f"usage: {sys.argv[0]} PORT", file=sys.stderr)
        return 2
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
