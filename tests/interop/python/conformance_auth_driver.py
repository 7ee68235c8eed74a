#!/usr/bin/env python3
"""The client under test of the conformance suite's `auth/*` client
scenarios: Switchboard's upstream OAuth client (`[upstreams.auth] grant =
"authorization_code"`), driven as its users would drive it.

    conformance client --scenario auth/… --spec-version REV \\
        --command ".tools/venv/bin/python tests/interop/python/conformance_auth_driver.py"

The suite appends its MCP server's URL to the command and names the
scenario in MCP_CONFORMANCE_SCENARIO, the revision in
MCP_CONFORMANCE_PROTOCOL_VERSION and, for pre-registration, the client's
credentials in MCP_CONFORMANCE_CONTEXT. This script:

  1. starts a Switchboard node (SB_CONFORMANCE_BIN, default
     target/debug/switchboard) on a free loopback port with a generated
     configuration: one tenant whose user signs in with an API key, a token
     vault, and one HTTP upstream — the suite's server — with
     `[upstreams.auth]` naming neither an authorization server nor its
     endpoints, so Switchboard finds everything itself (the 401's
     WWW-Authenticate, protected-resource metadata, authorization-server
     metadata, registration, scopes);
  2. connects to that node with the official Python SDK, in the scenario's
     era (a session for 2025-11-25, stateless for 2026-07-28), calls the
     suite's `test-tool` (as `suite__test-tool`: the upstream's lists are
     left out until its user has signed in), lists the tools (now with
     it, unless listing failed upstream) and calls it again;
  3. acts as the user's browser for each URL elicitation Switchboard
     sends: follows the connect page's URL, through the suite's
     authorization server (which redirects straight back with a code), to
     Switchboard's callback, and accepts if the page says "Connected",
     declines otherwise.

Exit status 0 when the calls succeeded, or, in the scenarios where the
client must refuse (a mismatched resource or issuer), when they failed
without Switchboard having used the poisoned metadata; 1 otherwise. What
happened goes to stderr, and Switchboard's log is copied there at the end.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2

from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parents[3]
BIN = os.environ.get("SB_CONFORMANCE_BIN", str(ROOT / "target/debug/switchboard"))
# The Client ID Metadata Document URL the suite's auth/basic-cimd scenario
# expects a client to present (its authorization server never fetches it).
CIMD_URL = "https://conformance-test.local/client-metadata.json"
# Scenarios where the right outcome is a refused sign-in: the calls fail.
REFUSING = {
    "auth/resource-mismatch",
    "auth/iss-supported-missing",
    "auth/iss-wrong-issuer",
    "auth/iss-unexpected",
    "auth/iss-normalized",
    "auth/metadata-issuer-mismatch",
    "auth/scope-retry-limit",
}
LIMIT = 20
# The suite's tool, behind the upstream's prefix.
TOOL = "suite__test-tool"


def log(*parts: Any) -> None:
    print("driver:", *parts, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml_string(text: str) -> str:
    return json.dumps(text)


def config(server_url: str, port: int, key_sha256: str, revision: str,
           context: dict[str, Any]) -> str:
    """The node's configuration: the suite's server as an upstream whose
    tokens each user gets by signing in — or, where the scenario is about
    a service identity (auth/client-credentials-basic), one token for the
    tenant by client credentials (RFC 6749 §4.4)."""
    protocol = "session" if revision <= "2025-11-25" else "stateless"
    service = context.get("name") == "auth/client-credentials-basic"
    auth = [f'grant = "{"client_credentials" if service else "authorization_code"}"']
    if not service:
        auth.append(
            f"redirect_uri = {toml_string(f'http://127.0.0.1:{port}/connect/callback')}")
    if context.get("client_id"):
        # Pre-registered: the credentials the suite's server knows.
        auth.append(f"client_id = {toml_string(context['client_id'])}")
        if context.get("client_secret"):
            auth.append(f"client_secret = {toml_string(context['client_secret'])}")
    else:
        # No client of its own: Switchboard presents its Client ID Metadata
        # Document's URL where the server takes one — the suite's — else
        # registers itself.
        auth.append(f"client_metadata_url = {toml_string(CIMD_URL)}")
    if context.get("client_secret"):
        # The suite does not say which server the credentials are for: the
        # one the upstream names is trusted with the secret.
        auth.append("trust_upstream_issuer = true")
    vault_key = secrets.token_hex(32)
    return "\n".join([
        "[auth]",
        'anonymous = "off"',
        "",
        "[[tenants]]",
        'id = "acme"',
        f'api_keys = [{{ id = "alice", sha256 = "{key_sha256}" }}]',
        "",
        "[vault]",
        f'keys = [{{ id = "k1", key = "{vault_key}" }}]',
        "",
        "[[upstreams]]",
        'name = "suite"',
        'kind = "http"',
        f"url = {toml_string(server_url)}",
        'prefix = "suite__"',
        f'protocol = "{protocol}"',
        "call_timeout_secs = 15",
        "",
        "[upstreams.auth]",
        *auth,
        "",
    ])


def die_with_parent() -> None:
    """In the child: killed when the driver dies (the suite kills the
    driver's shell on a timeout)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Node:
    def __init__(self, server_url: str, revision: str, context: dict[str, Any]) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="sb-conformance-auth-")
        self.port = free_port()
        self.key = "sb_" + secrets.token_urlsafe(32)
        sha = hashlib.sha256(self.key.encode()).hexdigest()
        self.config = Path(self.dir.name) / "switchboard.toml"
        self.config.write_text(config(server_url, self.port, sha, revision, context))
        self.log = Path(self.dir.name) / "switchboard.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> None:
        # SWITCHBOARD_* variables would override the configuration.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env["RUST_LOG"] = os.environ.get("RUST_LOG", "info")
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--log-format", "text",
                 "--config", str(self.config)],
                stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent)
        # Generous: a requirement set starts a node per scenario at once.
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"switchboard exited with {self.proc.returncode}")
            try:
                if httpx2.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("switchboard did not become healthy")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        print("---- switchboard log ----", file=sys.stderr)
        print(text[-20000:], file=sys.stderr)
        print("---- switchboard config ----", file=sys.stderr)
        print(self.config.read_text().replace(self.key, "<key>"), file=sys.stderr, flush=True)
        self.dir.cleanup()


async def browse(url: str) -> tuple[int, str]:
    """What the user's browser does with a URL elicitation: follow it to
    the authorization server and back to Switchboard's callback."""
    async with httpx2.AsyncClient(follow_redirects=True, timeout=LIMIT) as browser:
        page = await browser.get(url)
        hops = " -> ".join(str(r.url).split("?")[0] for r in [*page.history, page])
        log(f"browser: {hops}: HTTP {page.status_code}")
        return page.status_code, page.text


def page_text(html: str) -> str:
    start, end = html.find("<p>"), html.find("</p>")
    return html[start + 3:end] if 0 <= start < end else html[:200]


async def drive(node: Node, revision: str) -> tuple[bool, str]:
    """Call test-tool, list the tools and call it again through the node;
    whether all succeeded, and what happened."""
    mode = "legacy" if revision <= "2025-11-25" else "2026-07-28"
    sign_ins: list[str] = []

    async def on_elicit(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        if getattr(params, "mode", None) != "url":
            return types.ElicitResult(action="decline")
        log(f"URL elicitation: {params.message}")
        status, html = await browse(params.url)
        sign_ins.append(page_text(html))
        log(f"the page says: {page_text(html)}")
        ok = status == 200 and "Connected" in html
        return types.ElicitResult(action="accept" if ok else "decline")

    headers = {"Authorization": f"Bearer {node.key}"}
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(LIMIT * 2, read=LIMIT * 2),
                                  headers=headers) as http:
        transport = streamable_http_client(node.url, http_client=http, terminate_on_close=True)
        async with Client(transport, mode=mode, read_timeout_seconds=LIMIT * 2, cache=None,
                          elicitation_callback=on_elicit) as client:
            # Before the user signed in, the upstream's lists are left out
            # (nobody's token to list it with); a call names the tool by
            # the upstream's prefix and asks the user to sign in.
            result = await client.call_tool(TOOL, {})
            text = "".join(c.text for c in result.content if isinstance(c, types.TextContent))
            log(f"tools/call {TOOL}: isError={result.is_error} {text!r}")
            tools = await client.list_tools()
            names = [t.name for t in tools.tools]
            log(f"tools/list: {names}")
            result2 = await client.call_tool(TOOL, {})
            text2 = "".join(c.text for c in result2.content if isinstance(c, types.TextContent))
            log(f"tools/call {TOOL} again: isError={result2.is_error} {text2!r}")
            # The list is only looked at: a listing that fails upstream
            # leaves the upstream out (as after auth/authorization-server-
            # migration's switch, which refuses the token then in use).
            ok = not result.is_error and text == "test" and not result2.is_error and text2 == "test"
            return ok, f"{len(sign_ins)} sign-in(s); tools {names}; results {text!r}, {text2!r}"


def leaf(e: BaseException) -> BaseException:
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return e


async def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    server_url = sys.argv[-1]
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    revision = os.environ.get("MCP_CONFORMANCE_PROTOCOL_VERSION", "2025-11-25")
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    log(f"scenario {scenario} at {revision}, server {server_url}")
    node = Node(server_url, revision, context)
    try:
        node.start()
        try:
            with anyio.fail_after(LIMIT * 3):
                ok, what = await drive(node, revision)
        except BaseException as e:  # noqa: BLE001 - the SDK wraps errors in task groups
            e = leaf(e)
            ok, what = False, f"{type(e).__name__}: {e}"
        log(f"outcome: {'succeeded' if ok else 'failed'}: {what}")
        if scenario in REFUSING:
            # The right outcome is a refusal.
            return 1 if ok else 0
        return 0 if ok else 1
    finally:
        node.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
