"""The load: a few hundred asyncio clients of every era, each recording every
request it makes (and every event id it is sent) in the history.

Personas (tests/chaos/run.py decides how many of each):

- `stateless`: 2026-07-28 requests (no session) through the front: echo,
  add, the stdio and HTTP upstreams' echo, `sleep` with progress (an SSE
  response), `confirm_delete` answered through `input_required` (the
  elicitation of the stateless era: the call is sent again with
  `inputResponses` and the sealed `requestState`);
- `task`: 2026-07-28 with the tasks extension: `slow_compute` becomes a task,
  polled with `tasks/get` until it is terminal;
- `session`: 2025-11-25, 2025-06-18 and 2025-03-26 sessions through the
  front: calls with progress, elicitation answered on the request's stream,
  `test_reconnection` (the server closes the request stream mid-call, the
  client resumes it with `Last-Event-ID`), upstream calls; request streams
  broken by a fault are resumed with `Last-Event-ID`; sessions churn
  (DELETE, initialize again);
- `watcher`: a 2025-11-25 session subscribed to test://watched-resource,
  holding its standalone GET stream, breaking it on purpose now and then and
  resuming it with `Last-Event-ID`, while it changes the resource itself
  (so every watcher hears everyone's updates);
- `legacy_sse`: the 2024-11-05 HTTP+SSE transport (`/sse` + `/messages`),
  straight to one node (that transport needs stickiness, docs/deployment.md);
- `sdk`: the official MCP Python SDK's `Client` (mode "legacy" and
  "2026-07-28"): echo, a progress tool with a progress callback, elicitation
  through the SDK's callback (a session request, or input_required);
- `quota` and `quota_session`: the `quota` tenant's API key, asking faster
  than its rate and for more sessions than its `max_sessions`.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2

from history import History

MODERN = "2026-07-28"
SESSION_ERAS = ("2025-11-25", "2025-06-18", "2025-03-26")
TASKS_EXT = "io.modelcontextprotocol/tasks"
WATCHED = "test://watched-resource"
LIMIT = 60.0  # a client's own timeout for one request (the server's is 20 s)


@dataclass
class Ctx:
    hist: History
    http: httpx2.AsyncClient
    front: str  # http://127.0.0.1:PORT
    nodes: list[str]  # each node's base URL (HTTP+SSE clients go straight to one)
    stop_at: float
    quota_key: str
    no_resume: bool = False  # the "can fail" experiment: resume GET streams without Last-Event-ID
    tails: dict[str, int] = field(default_factory=dict)  # session -> last seq in its GET log
    tails_ready: asyncio.Event = field(default_factory=asyncio.Event)
    watcher_sessions: list[str] = field(default_factory=list)
    ended_sessions: list[dict] = field(default_factory=list)

    def running(self) -> bool:
        return time.time() < self.stop_at


def short(e: BaseException) -> str:
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    s = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {s}"[:200]


async def sse_events(resp: httpx2.Response):
    """Yield the SSE events of a response: {"id", "event", "data"}."""
    ev: dict[str, str] = {}
    data: list[str] = []
    async for line in resp.aiter_lines():
        if line == "":
            if ev or data:
                yield {"id": ev.get("id"), "event": ev.get("event"), "data": "\n".join(data)}
            ev, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name in ("id", "event", "retry"):
            ev[name] = value
    if ev or data:
        yield {"id": ev.get("id"), "event": ev.get("event"), "data": "\n".join(data)}


def error_of(raw: bytes) -> tuple[Any, Any]:
    try:
        v = json.loads(raw)
        return v.get("error", {}).get("code"), v.get("error", {}).get("message")
    except Exception:  # noqa: BLE001 - not JSON
        return None, raw[:120].decode(errors="replace")


ELICIT_ANSWERS = {
    "username": {"username": "chaos", "email": "chaos@example.org"},
    "name": {"name": "Chaos"},
    "confirm": {"confirm": True},
}


def elicit_answer(params: dict) -> dict:
    props = ((params or {}).get("requestedSchema") or {}).get("properties") or {}
    content: dict[str, Any] = {}
    for key, value in ELICIT_ANSWERS.items():
        if key in props:
            content.update(value)
    for key, spec in props.items():
        if key not in content:
            content[key] = {"boolean": True, "integer": 1, "number": 1.0}.get(spec.get("type"), "x")
    return {"action": "accept", "content": content}


class Raw:
    """A hand-written client of one era, recording everything."""

    def __init__(self, ctx: Ctx, cid: str, era: str, base: str | None = None, tenant: str | None = None):
        self.ctx = ctx
        self.cid = cid
        self.era = era
        self.base = base or ctx.front
        self.url = self.base + "/mcp"
        self.tenant = tenant
        self.sid: str | None = None
        self.next_id = 1
        self.caps: dict[str, Any] = {"elicitation": {}}
        self.rng = random.Random(cid)

    def headers(self, method: str | None, params: dict | None) -> dict[str, str]:
        h = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        if self.tenant == "quota":
            h["authorization"] = f"Bearer {self.ctx.quota_key}"
        if self.era == MODERN:
            h["mcp-protocol-version"] = MODERN
            if method:
                h["mcp-method"] = method
                p = params or {}
                name = {"tools/call": p.get("name"), "resources/read": p.get("uri"), "tasks/get": p.get("taskId")}.get(method)
                if name:
                    h["mcp-name"] = name
        else:
            if self.era != "2025-03-26" or self.sid:
                h["mcp-protocol-version"] = self.era
            if self.sid:
                h["mcp-session-id"] = self.sid
        return h

    def meta(self, params: dict) -> dict:
        if self.era != MODERN:
            return params
        params = dict(params)
        m = dict(params.get("_meta") or {})
        m["io.modelcontextprotocol/protocolVersion"] = MODERN
        m["io.modelcontextprotocol/clientCapabilities"] = self.caps
        params["_meta"] = m
        return params

    async def request(self, method: str, params: dict | None = None, limit: float = LIMIT) -> dict:
        rid = self.next_id
        self.next_id += 1
        params = self.meta(params or {})
        rec: dict[str, Any] = {
            "client": self.cid, "era": self.era, "method": method, "name": (params or {}).get("name"),
            "rid": rid, "session": self.sid, "t0": time.time(), "limit": limit, "answers": 0,
            "ids": [], "resumes": 0, "tenant": self.tenant or "anonymous", "progress": 0,
        }
        try:
            with anyio.fail_after(limit):
                await self._exchange(rec, rid, method, params)
        except TimeoutError:
            if rec.get("outcome") is None:
                rec["outcome"] = "timeout"
            else:
                rec["late_close"] = True  # answered, but the stream stayed open
        except Exception as e:  # noqa: BLE001 - recorded as what the client saw
            if rec.get("outcome") is None:
                rec["outcome"] = "transport"
                rec["msg"] = short(e)
        if rec.get("outcome") is None:
            rec["outcome"] = "transport"
            rec["msg"] = rec.get("break") or "stream ended without a response"
        rec["t1"] = time.time()
        self.ctx.hist.write("req", **rec)
        return rec

    def _take(self, rec: dict, msg: dict) -> None:
        rec["answers"] += 1
        if rec["answers"] > 1:
            return
        if "result" in msg:
            rec["outcome"] = "result"
            rec["result"] = msg["result"]
        else:
            rec["outcome"] = "error"
            rec["code"] = (msg.get("error") or {}).get("code")
            rec["msg"] = str((msg.get("error") or {}).get("message"))[:200]

    async def _exchange(self, rec: dict, rid: int, method: str, params: dict) -> None:
        body = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
        try:
            async with self.ctx.http.stream("POST", self.url, json=body, headers=self.headers(method, params)) as r:
                if method == "initialize":
                    rec["new_session"] = r.headers.get("mcp-session-id")
                if r.status_code != 200:
                    raw = await r.aread()
                    rec["outcome"] = "http"
                    rec["status"] = r.status_code
                    rec["code"], rec["msg"] = error_of(raw)
                    return
                ctype = r.headers.get("content-type", "")
                if "text/event-stream" not in ctype:
                    self._take(rec, json.loads(await r.aread()))
                    return
                await self._read(r, rec, rid)
        except (httpx2.TransportError, httpx2.StreamError) as e:
            rec["break"] = short(e)
        if rec["answers"] == 0 and self.era != MODERN and rec.get("last_id") and not self.ctx.no_resume:
            await self._resume(rec, rid)

    async def _read(self, r: httpx2.Response, rec: dict, rid: int) -> None:
        async for ev in sse_events(r):
            if ev["id"] is not None:
                rec["last_id"] = ev["id"]
                if ev["data"]:
                    rec["ids"].append(ev["id"])
                else:
                    # No event: a priming event (2025-11-25), or a drained
                    # node's last word, naming the id to resume from. Kept
                    # with the count of events before it, for the check.
                    rec.setdefault("hints", []).append([len(rec["ids"]), ev["id"]])
            if not ev["data"]:
                continue
            try:
                msg = json.loads(ev["data"])
            except ValueError:
                rec.setdefault("bad_events", 0)
                rec["bad_events"] += 1
                continue
            if "method" in msg and "id" in msg:
                asyncio.get_running_loop().create_task(self._answer_server(msg))
            elif "method" in msg:
                if msg["method"] == "notifications/progress":
                    rec["progress"] += 1
            elif msg.get("id") == rid:
                self._take(rec, msg)

    async def _resume(self, rec: dict, rid: int) -> None:
        """GET the request's stream again from the last event id, until its response."""
        for attempt in range(8):
            await asyncio.sleep(min(0.3 * (attempt + 1), 2.0))
            rec["resumes"] += 1
            h = self.headers(None, None)
            h["accept"] = "text/event-stream"
            h["last-event-id"] = rec["last_id"]
            try:
                async with self.ctx.http.stream("GET", self.url, headers=h) as r:
                    if r.status_code != 200:
                        raw = await r.aread()
                        rec["outcome"] = "http"
                        rec["status"] = r.status_code
                        rec["code"], rec["msg"] = error_of(raw)
                        rec["msg"] = f"on resumption: {rec['msg']}"
                        return
                    await self._read(r, rec, rid)
            except (httpx2.TransportError, httpx2.StreamError) as e:
                rec["break"] = short(e)
            if rec["answers"]:
                return

    async def _answer_server(self, msg: dict) -> None:
        """Answer a server-to-client request (elicitation, sampling, roots) by POST."""
        method = msg.get("method")
        if method == "elicitation/create":
            result: dict = elicit_answer(msg.get("params") or {})
        elif method == "roots/list":
            result = {"roots": []}
        elif method == "sampling/createMessage":
            result = {"role": "assistant", "content": {"type": "text", "text": "ok"}, "model": "chaos"}
        elif method == "ping":
            result = {}
        else:
            return
        body = {"jsonrpc": "2.0", "id": msg["id"], "result": result}
        rec = {"client": self.cid, "era": self.era, "method": f"answer:{method}", "rid": msg["id"],
               "session": self.sid, "t0": time.time(), "limit": 30, "answers": 0, "tenant": self.tenant or "anonymous"}
        try:
            r = await self.ctx.http.post(self.url, json=body, headers=self.headers(None, None), timeout=30)
            rec["outcome"] = "http"
            rec["status"] = r.status_code
            rec["answers"] = 1
        except Exception as e:  # noqa: BLE001
            rec["outcome"] = "transport"
            rec["msg"] = short(e)
        rec["t1"] = time.time()
        self.ctx.hist.write("req", **rec)

    async def notify(self, method: str) -> None:
        body = {"jsonrpc": "2.0", "method": method}
        rec = {"client": self.cid, "era": self.era, "method": method, "session": self.sid, "t0": time.time(),
               "limit": 30, "answers": 0, "tenant": self.tenant or "anonymous"}
        try:
            r = await self.ctx.http.post(self.url, json=body, headers=self.headers(None, None), timeout=30)
            rec["outcome"], rec["status"], rec["answers"] = "http", r.status_code, 1
        except Exception as e:  # noqa: BLE001
            rec["outcome"], rec["msg"] = "transport", short(e)
        rec["t1"] = time.time()
        self.ctx.hist.write("req", **rec)

    # ---- sessions ------------------------------------------------------
    async def open(self) -> bool:
        self.sid = None
        rec = await self.request("initialize", {
            "protocolVersion": self.era, "capabilities": {"elicitation": {}},
            "clientInfo": {"name": f"chaos-{self.cid}", "version": "1"}})
        if rec["outcome"] != "result" or not rec.get("new_session"):
            return False
        self.sid = rec["new_session"]
        self.opened = time.time()
        await self.notify("notifications/initialized")
        return True

    async def close(self) -> None:
        """DELETE the session (retried while the answer says nothing)."""
        if not self.sid:
            return
        sid, outcome = self.sid, None
        for attempt in range(6):
            rec = {"client": self.cid, "era": self.era, "method": "DELETE", "session": sid, "t0": time.time(),
                   "limit": 30, "answers": 0, "tenant": self.tenant or "anonymous"}
            try:
                r = await self.ctx.http.delete(self.url, headers=self.headers(None, None), timeout=30)
                rec["outcome"], rec["status"], rec["answers"] = "http", r.status_code, 1
            except Exception as e:  # noqa: BLE001
                rec["outcome"], rec["msg"] = "transport", short(e)
            rec["t1"] = time.time()
            self.ctx.hist.write("req", **rec)
            if rec["outcome"] == "http" and rec["status"] in (200, 202, 204, 404):
                outcome = rec["status"]
                break
            await asyncio.sleep(1 + attempt)
        self.ctx.hist.write("session", client=self.cid, era=self.era, session=sid, tenant=self.tenant or "anonymous",
                            opened=getattr(self, "opened", None), closed=time.time(), close=outcome)
        if outcome in (200, 202, 204, 404):
            self.ctx.ended_sessions.append({"session": sid, "client": self.cid})
        self.sid = None

    def lost(self, rec: dict) -> bool:
        """The session is gone (404): the client must initialize again."""
        return rec.get("outcome") == "http" and rec.get("status") == 404 and self.era != MODERN


async def pause(rng: random.Random, lo: float, hi: float) -> None:
    await asyncio.sleep(rng.uniform(lo, hi))


# ---- personas --------------------------------------------------------------

async def stateless(ctx: Ctx, cid: str) -> None:
    c = Raw(ctx, cid, MODERN)
    rng = c.rng
    await pause(rng, 0, 3)
    while ctx.running():
        op = rng.choice(["echo", "echo", "add", "sb", "py", "sleep", "confirm", "whoami"])
        if op == "echo":
            await c.request("tools/call", {"name": "echo", "arguments": {"message": cid}})
        elif op == "add":
            await c.request("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})
        elif op == "sb":
            await c.request("tools/call", {"name": "sb__echo", "arguments": {"message": cid}})
        elif op == "py":
            await c.request("tools/call", {"name": "py__echo", "arguments": {"message": cid}})
        elif op == "whoami":
            await c.request("tools/call", {"name": "whoami", "arguments": {"nonce": cid, "steps": 3, "delay_ms": 100},
                                           "_meta": {"progressToken": cid}})
        elif op == "sleep":
            await c.request("tools/call", {"name": "sleep", "arguments": {"ms": rng.randint(200, 2000)},
                                           "_meta": {"progressToken": f"{cid}-p"}})
        else:
            rec = await c.request("tools/call", {"name": "confirm_delete", "arguments": {"filename": cid}})
            res = rec.get("result") or {}
            if rec["outcome"] == "result" and res.get("resultType") == "input_required":
                answers = {k: elicit_answer(v.get("params") or {}) for k, v in (res.get("inputRequests") or {}).items()}
                await c.request("tools/call", {"name": "confirm_delete", "arguments": {"filename": cid},
                                               "inputResponses": answers, "requestState": res.get("requestState")})
        await pause(rng, 1.0, 4.0)


async def task_client(ctx: Ctx, cid: str) -> None:
    c = Raw(ctx, cid, MODERN)
    c.caps = {"elicitation": {}, "extensions": {TASKS_EXT: {}}}
    rng = c.rng
    await pause(rng, 0, 5)
    n = 0
    while ctx.running():
        n += 1
        label = f"{cid}-{n}"
        rec = await c.request("tools/call", {"name": "slow_compute", "arguments": {"seconds": rng.uniform(1, 4), "label": label}})
        res = rec.get("result") or {}
        if rec["outcome"] == "result" and res.get("resultType") == "task":
            tid = res["taskId"]
            created = time.time()
            status, polls, text, deadline = res.get("status"), 0, None, time.time() + 120
            while status not in ("completed", "failed", "cancelled") and time.time() < deadline:
                await asyncio.sleep(max(0.5, (res.get("pollIntervalMs") or 500) / 1000))
                polls += 1
                g = await c.request("tasks/get", {"taskId": tid})
                if g["outcome"] == "result":
                    status = g["result"].get("status")
                    if status == "completed":
                        content = ((g["result"].get("result") or {}).get("content") or [{}])
                        text = content[0].get("text")
                elif g["outcome"] == "error" and g.get("code") == -32602:
                    status = "unknown"  # the server no longer knows the task
                    break
            ctx.hist.write("task", client=cid, task_id=tid, label=label, created=created, terminal=time.time(),
                           status=status, polls=polls, text=text)
        await pause(rng, 2.0, 6.0)


async def session_client(ctx: Ctx, cid: str, era: str) -> None:
    c = Raw(ctx, cid, era)
    rng = c.rng
    await pause(rng, 0, 4)
    while ctx.running():
        if not await c.open():
            await pause(rng, 1, 3)
            continue
        for _ in range(rng.randint(5, 25)):
            if not ctx.running():
                break
            op = rng.choice(["echo", "echo", "sb", "py", "sleep", "progress", "elicit", "reconnect", "list", "ping"])
            if op == "echo":
                rec = await c.request("tools/call", {"name": "echo", "arguments": {"message": cid}})
            elif op == "sb":
                rec = await c.request("tools/call", {"name": "sb__echo", "arguments": {"message": cid}})
            elif op == "py":
                rec = await c.request("tools/call", {"name": "py__echo", "arguments": {"message": cid}})
            elif op == "sleep":
                rec = await c.request("tools/call", {"name": "sleep", "arguments": {"ms": rng.randint(500, 3000)},
                                                     "_meta": {"progressToken": f"{cid}-s"}})
            elif op == "progress":
                rec = await c.request("tools/call", {"name": "test_tool_with_progress", "arguments": {},
                                                     "_meta": {"progressToken": f"{cid}-p"}})
            elif op == "elicit":
                rec = await c.request("tools/call", {"name": "test_elicitation", "arguments": {"message": "who?"}})
            elif op == "reconnect":
                rec = await c.request("tools/call", {"name": "test_reconnection", "arguments": {}})
            elif op == "list":
                rec = await c.request("tools/list", {})
            else:
                rec = await c.request("ping", {})
            if c.lost(rec):
                c.sid = None
                break
            await pause(rng, 1.0, 4.0)
        await c.close()
        await pause(rng, 0.5, 2)


async def watcher(ctx: Ctx, cid: str) -> None:
    c = Raw(ctx, cid, "2025-11-25")
    rng = c.rng
    await pause(rng, 0, 3)
    while ctx.running():
        if await c.open():
            rec = await c.request("resources/subscribe", {"uri": WATCHED})
            if rec["outcome"] == "result":
                break
            await c.close()
        await pause(rng, 1, 3)
    if not c.sid:
        return
    sid = c.sid
    ctx.watcher_sessions.append(sid)
    state = {"last": None, "conn": 0}

    async def hold(until_seq: int | None = None, hold_for: float = 30.0) -> str:
        """One connection of the GET stream; returns why it ended."""
        state["conn"] += 1
        h = c.headers(None, None)
        h["accept"] = "text/event-stream"
        sent = state["last"] if not ctx.no_resume else None
        if sent:
            h["last-event-id"] = sent
        rec = {"client": cid, "session": sid, "conn": state["conn"], "t0": time.time(), "sent_last_event_id": sent,
               "priming": None, "ids": [], "end": None}
        try:
            with anyio.move_on_after(hold_for):
                async with ctx.http.stream("GET", c.url, headers=h, timeout=httpx2.Timeout(10, read=20)) as r:
                    rec["status"] = r.status_code
                    if r.status_code != 200:
                        await r.aread()
                        rec["end"] = f"http {r.status_code}"
                        return rec["end"]
                    async for ev in sse_events(r):
                        if ev["id"] is None:
                            continue
                        if not ev["data"]:
                            # The priming event of a fresh stream comes first;
                            # an empty event later (a drained node's last one)
                            # names the id to resume from.
                            if not rec["ids"] and not sent and rec["priming"] is None:
                                rec["priming"] = ev["id"]
                            else:
                                rec.setdefault("hints", []).append(ev["id"])
                        else:
                            rec["ids"].append(ev["id"])
                        state["last"] = ev["id"]
                        if until_seq is not None and int(ev["id"].split("-")[1]) >= until_seq:
                            rec["end"] = "caught up"
                            return rec["end"]
                    rec["end"] = "server ended the stream"
                    return rec["end"]
            rec["end"] = rec["end"] or "client closed (on purpose)"
            return rec["end"]
        except Exception as e:  # noqa: BLE001
            rec["end"] = short(e)
            return rec["end"]
        finally:
            rec["t1"] = time.time()
            ctx.hist.write("stream", **rec)

    async def updates() -> None:
        while ctx.running():
            await pause(rng, 2.0, 6.0)
            rec = await c.request("tools/call", {"name": "update_watched_resource", "arguments": {}})
            if c.lost(rec):
                return

    up = asyncio.get_running_loop().create_task(updates())
    gone = False
    while ctx.running():
        end = await hold(hold_for=rng.uniform(8, 30))
        if end.startswith("http 404"):
            gone = True
            break
        await pause(rng, 0.2, 2.0)
    await up
    # Load has stopped: wait for the orchestrator to read the log's tail,
    # then read up to it (resuming as often as needed).
    await ctx.tails_ready.wait()
    tail = ctx.tails.get(sid)
    deadline = time.time() + 20
    while not gone and tail is not None and time.time() < deadline:
        last = int(state["last"].split("-")[1]) if state["last"] else -1
        if last >= tail:
            break
        end = await hold(until_seq=tail, hold_for=max(1.0, deadline - time.time()))
        if end.startswith("http"):
            break
    await c.close()


async def legacy_sse(ctx: Ctx, cid: str, node_index: int) -> None:
    """The 2024-11-05 HTTP+SSE transport, straight to one node."""
    rng = random.Random(cid)
    await pause(rng, 0, 4)
    era = "2024-11-05"
    while ctx.running():
        base = ctx.nodes[node_index % len(ctx.nodes)]
        pending: dict[int, asyncio.Future] = {}
        endpoint: asyncio.Future = asyncio.get_running_loop().create_future()
        endpoint.add_done_callback(lambda f: f.cancelled() or f.exception())
        opened = time.time()
        sid = None

        async def reader() -> None:
            try:
                async with ctx.http.stream("GET", base + "/sse", headers={"accept": "text/event-stream"},
                                           timeout=httpx2.Timeout(10, read=30)) as r:
                    if r.status_code != 200:
                        await r.aread()
                        raise RuntimeError(f"GET /sse: HTTP {r.status_code}")
                    async for ev in sse_events(r):
                        if ev["event"] == "endpoint" and not endpoint.done():
                            endpoint.set_result(ev["data"])
                        elif ev["data"]:
                            try:
                                msg = json.loads(ev["data"])
                            except ValueError:
                                continue
                            f = pending.get(msg.get("id")) if "method" not in msg else None
                            if f is not None:
                                if f.done():
                                    f.duplicate = True  # type: ignore[attr-defined]
                                else:
                                    f.set_result(msg)
                    raise RuntimeError("the SSE stream ended")
            except Exception as e:  # noqa: BLE001
                err = short(e)
                if not endpoint.done():
                    endpoint.set_exception(RuntimeError(err))
                for f in pending.values():
                    if not f.done():
                        f.set_exception(RuntimeError(err))

        rtask = asyncio.get_running_loop().create_task(reader())
        try:
            post_path = await asyncio.wait_for(endpoint, 30)
        except Exception as e:  # noqa: BLE001
            ctx.hist.write("req", client=cid, era=era, method="GET /sse", t0=opened, t1=time.time(), limit=30,
                           outcome="transport", msg=short(e), answers=0, node=base)
            rtask.cancel()
            node_index += 1
            await pause(rng, 1, 3)
            continue
        post_url = base + post_path if post_path.startswith("/") else post_path
        sid = post_url.split("sessionId=")[-1]
        nid = 1

        async def call(method: str, params: dict, limit: float = LIMIT) -> dict:
            nonlocal nid
            rid = nid
            nid += 1
            f = asyncio.get_running_loop().create_future()
            f.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved, whoever waits
            pending[rid] = f
            rec = {"client": cid, "era": era, "method": method, "name": params.get("name"), "rid": rid, "session": sid,
                   "t0": time.time(), "limit": limit, "answers": 0, "node": base, "tenant": "anonymous"}
            try:
                r = await ctx.http.post(post_url, json={"jsonrpc": "2.0", "id": rid, "method": method, "params": params}, timeout=30)
                if r.status_code not in (200, 202):
                    rec["outcome"], rec["status"] = "http", r.status_code
                    rec["code"], rec["msg"] = error_of(r.content)
                else:
                    msg = await asyncio.wait_for(asyncio.shield(f), limit)
                    rec["answers"] = 1
                    if "result" in msg:
                        rec["outcome"] = "result"
                    else:
                        rec["outcome"], rec["code"] = "error", (msg.get("error") or {}).get("code")
                        rec["msg"] = str((msg.get("error") or {}).get("message"))[:200]
            except asyncio.TimeoutError:
                rec["outcome"] = "timeout"
            except Exception as e:  # noqa: BLE001
                rec["outcome"], rec["msg"] = "transport", short(e)
            rec["t1"] = time.time()
            if getattr(f, "duplicate", False):
                rec["answers"] = 2
            ctx.hist.write("req", **rec)
            return rec

        rec = await call("initialize", {"protocolVersion": "2024-11-05", "capabilities": {},
                                        "clientInfo": {"name": cid, "version": "1"}})
        if rec["outcome"] == "result":
            await ctx.http.post(post_url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, timeout=30)
            for _ in range(rng.randint(5, 20)):
                if not ctx.running() or rtask.done():
                    break
                name = rng.choice(["echo", "echo", "sb__echo", "py__echo", "add"])
                args = {"a": 1, "b": 2} if name == "add" else {"message": cid}
                rec = await call("tools/call", {"name": name, "arguments": args})
                if rec["outcome"] in ("transport", "timeout"):
                    break
                await pause(rng, 1.0, 4.0)
        rtask.cancel()
        try:
            await rtask
        except BaseException:  # noqa: BLE001
            pass
        ctx.hist.write("session", client=cid, era=era, session=sid, opened=opened, closed=time.time(),
                       close="stream_closed", tenant="anonymous")
        await pause(rng, 0.5, 2)


async def sdk_client(ctx: Ctx, cid: str, mode: str) -> None:
    """The official SDK's Client: a real client implementation in the crowd."""
    from mcp import types  # the SDK, imported here: only these clients need it

    rng = random.Random(cid)
    era = f"sdk-{mode}"

    async def on_elicit(_ctx, params):
        props = (getattr(params, "requested_schema", None) or {}).get("properties", {})
        return types.ElicitResult(action="accept", content=elicit_answer({"requestedSchema": {"properties": props}})["content"])

    def record(method: str, name: str | None, t0: float, outcome: str, **extra) -> None:
        ctx.hist.write("req", client=cid, era=era, method=method, name=name, t0=t0, t1=time.time(), limit=LIMIT,
                       outcome=outcome, answers=1 if outcome in ("result", "error") else 0, tenant="anonymous", **extra)

    await pause(rng, 0, 5)
    while ctx.running():
        t0 = time.time()
        # The SDK's session (its id, from the server's answers) and its
        # DELETE at close, whose answer the SDK does not act on: seen here.
        sdk_session: dict = {}

        async def watch(response) -> None:
            sid = response.headers.get("mcp-session-id") or response.request.headers.get("mcp-session-id")
            if sid:
                sdk_session.setdefault("sid", sid)
            if response.request.method == "DELETE":
                sdk_session["deleted"] = response.status_code
                record("DELETE", None, sdk_session.get("t_close", time.time()), "http", status=response.status_code,
                       session=sid)

        try:
            async with httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=LIMIT),
                                          event_hooks={"response": [watch]}) as http:
                try:
                    await sdk_session_run(ctx, cid, mode, rng, http, sdk_session, record, on_elicit)
                finally:
                    await sdk_session_end(ctx, cid, era, http, sdk_session, record)
        except Exception as e:  # noqa: BLE001 - a failed connect or a transport failure
            record("connect", None, t0, "transport", msg=short(e))
        await pause(rng, 1, 3)


async def sdk_session_end(ctx: Ctx, cid: str, era: str, http, sdk_session: dict, record) -> None:
    """The end of an SDK client's session: the SDK's own DELETE, or, when
    that was refused (a store outage answers 503) or never sent, the
    application's, retried as the raw clients retry theirs; recorded."""
    sid = sdk_session.get("sid")
    if not sid:
        return
    status = sdk_session.get("deleted")
    for attempt in range(6):
        if status in (200, 202, 204, 404):
            break
        await asyncio.sleep(1 + attempt)
        t0 = time.time()
        try:
            r = await http.delete(ctx.front + "/mcp", headers={"mcp-session-id": sid,
                                                               "mcp-protocol-version": "2025-11-25"}, timeout=30)
            status = r.status_code  # recorded by the response hook
        except Exception as e:  # noqa: BLE001
            record("DELETE", None, t0, "transport", session=sid, msg=short(e))
    ctx.hist.write("session", client=cid, era=era, session=sid, tenant="anonymous", closed=time.time(), close=status)
    if status in (200, 202, 204, 404):
        ctx.ended_sessions.append({"session": sid, "client": cid})


async def sdk_session_run(ctx: Ctx, cid: str, mode: str, rng, http, sdk_session: dict, record, on_elicit) -> None:
    """One SDK client session: connect, a few calls, close."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    t0 = time.time()
    transport = streamable_http_client(ctx.front + "/mcp", http_client=http, terminate_on_close=True)
    async with Client(transport, mode=mode, elicitation_callback=on_elicit, read_timeout_seconds=LIMIT,
                      cache=None) as client:
        record("connect", None, t0, "result")
        for _ in range(rng.randint(5, 15)):
            if not ctx.running():
                break
            op = rng.choice(["echo", "progress", "elicit", "list"])
            t0 = time.time()
            progress = []
            try:
                with anyio.fail_after(LIMIT):
                    if op == "echo":
                        r = await client.call_tool("echo", {"message": cid})
                        ok = not r.is_error
                    elif op == "progress":
                        async def on_progress(p, total, message):
                            progress.append(p)
                        r = await client.call_tool("sleep", {"ms": 600}, progress_callback=on_progress)
                        ok = not r.is_error
                    elif op == "elicit":
                        r = await client.call_tool("confirm_delete", {"filename": cid})
                        ok = not r.is_error
                    else:
                        await client.list_tools()
                        ok = True
                record("tools/call" if op != "list" else "tools/list", op, t0,
                       "result" if ok else "error", progress=len(progress))
            except TimeoutError:
                record("tools/call", op, t0, "timeout")
            except Exception as e:  # noqa: BLE001
                code = getattr(getattr(e, "error", None), "code", None)
                record("tools/call", op, t0, "error" if code is not None else "transport", code=code, msg=short(e))
                if code is None:
                    break
            await pause(rng, 1.0, 4.0)
        sdk_session["t_close"] = time.time()


async def quota_client(ctx: Ctx, cid: str) -> None:
    """Calls of the quota tenant, faster than its rate."""
    c = Raw(ctx, cid, MODERN, tenant="quota")
    rng = c.rng
    while ctx.running():
        await c.request("tools/call", {"name": "echo", "arguments": {"message": cid}}, limit=30)
        await pause(rng, 0.1, 0.4)


async def quota_session_client(ctx: Ctx, cid: str) -> None:
    """Sessions of the quota tenant: more than its max_sessions, held a while."""
    rng = random.Random(cid)
    while ctx.running():
        held = []
        for i in range(2):
            c = Raw(ctx, f"{cid}.{i}.{int(time.time() * 1000) % 100000}", "2025-11-25", tenant="quota")
            if await c.open():
                held.append(c)
        await pause(rng, 2, 6)
        for c in held:
            await c.close()
        await pause(rng, 0.5, 2)
