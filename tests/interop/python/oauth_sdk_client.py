#!/usr/bin/env python3
"""Interop check: the official Python MCP SDK's OAuth client
(`mcp.client.auth.OAuthClientProvider`, mcp 2.3.0) signs in from nothing
against Switchboard's own authorization server (`[oauth]`), then uses its
token on two nodes, refreshes it after it expired, and sees a reused
refresh token revoke its family.

    .tools/venv/bin/python tests/interop/python/oauth_sdk_client.py make-cert DIR
    .tools/venv/bin/python tests/interop/python/oauth_sdk_client.py run \\
        --node-a URL_A [--node-b URL_B] --user USER --password PASSWORD \\
        [--tls DIR] [--idp IDP_ISSUER] [--tenant acme] [--subject SUBJECT] \\
        [--token-secs 3] [--flows cimd,dcr]

`make-cert DIR` writes a test CA (DIR/ca.pem) and a certificate for
127.0.0.1 it signed (DIR/cert.pem, DIR/key.pem): the client serves its
Client ID Metadata Document over HTTPS with them, and Switchboard trusts
the CA through SSL_CERT_FILE (its HTTP client reads the system roots from
there). URL_A and URL_B are the /mcp endpoints of two nodes sharing one
store (Redis) and one issuer (node A's origin).

For each flow (`cimd`: the client is identified by the URL of its metadata
document, served from a local HTTPS server; `dcr`: it registers at the
registration endpoint, RFC 7591), with a fresh SDK provider and storage:
  - the first call on node A (session era, 2025-11-25) is answered 401;
    the SDK discovers the protected resource and authorization server
    metadata, identifies itself (CIMD or DCR), and hands the authorization
    URL to our redirect handler, which signs in with oauth_browser.py (at
    the identity provider when Switchboard sends the browser there, else
    Switchboard's local user list) and consents; our callback handler
    returns the code, state and iss; the SDK redeems the code (PKCE) and
    retries: `echo` answers, `whoami` names the tenant (and subject);
  - the same token serves the stateless era (2026-07-28) on node A, and
    both eras on node B — no second sign-in;
  - once the access token expired (`--token-secs`, Switchboard's
    access_token_secs) the SDK refreshes it (a rotated refresh token)
    before its next call, which succeeds on node B and node A; at the end,
    once Switchboard's leeway on `exp` (`--leeway`, 5 s) has passed too,
    the first access token is refused (401) on both nodes;
  - the first refresh token (rotated away) presented to the token endpoint
    is refused with invalid_grant, and so is then the family's current
    one, at node A and at node B (reuse revokes the family).
With --idp, the identity provider's own record (its /stats) must show the
browser signed in there and Switchboard redeemed the code with PKCE.

Prints "PASS <check>" / "FAIL <check>: <why>" lines, exits non-zero if any
check failed.

SDK notes (mcp 2.3.0, mcp/client/auth/oauth2.py):
- OAuthClientProvider(server_url, client_metadata, storage,
  redirect_handler, callback_handler, client_metadata_url=None) is an
  httpx2.Auth: handed to the httpx2.AsyncClient the transport uses, it
  runs the whole flow on a 401 (PRM discovery from WWW-Authenticate, AS
  metadata, CIMD or DCR, authorize, token) and retries the request.
- CIMD: `client_metadata_url` must be https with a non-root path
  (is_valid_client_metadata_url raises ValueError otherwise; no option for
  http even on loopback); it is used instead of DCR only when the AS
  metadata says client_id_metadata_document_supported = true. The client
  record is then {client_id: URL, token_endpoint_auth_method: "none"}.
- No callback server is needed: redirect_handler(url) gets the authorize
  URL, callback_handler() returns AuthorizationCodeResult(code, state,
  iss); the SDK checks state and, RFC 9207, iss against the AS metadata.
- Scope: the WWW-Authenticate `scope`, else PRM scopes_supported, else AS
  scopes_supported; an empty list means no scope parameter.
- Refresh: the expiry is computed from expires_in when the token arrives;
  a request after it first refreshes (grant_type=refresh_token with
  client_id and resource), and on a failed refresh falls back to a full
  sign-in on the next 401.
- TokenStorage is a protocol (get/set tokens and client info); ours keeps
  every token set, so the test has the first refresh token.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import http.server
import ipaddress
import json
import ssl
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import anyio
import httpx2

from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

import oauth_browser
from checks import Checks, text_of

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
LIMIT = 60
# (flow, when its first access token expired, the token): checked at the
# end, once Switchboard's leeway on `exp` has passed too.
EXPIRED: list[tuple[str, float, str]] = []


def describe(e: BaseException) -> str:
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    first = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {first}"


# --- the test CA and the HTTPS server of the metadata document ------------


def make_cert(directory: str) -> None:
    """A CA and a server certificate for 127.0.0.1 it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Switchboard interop test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (out / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (out / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (out / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                    serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))


class MetadataDocument:
    """A Client ID Metadata Document served over HTTPS on 127.0.0.1: its
    URL is the client id. Counts the fetches."""

    PATH = "/clients/python-sdk-interop.json"

    def __init__(self, tls_dir: str, redirect_uri: str):
        self.fetches = 0
        doc = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                if self.path != MetadataDocument.PATH:
                    self.send_error(404)
                    return
                doc.fetches += 1
                body = json.dumps(doc.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(f"{tls_dir}/cert.pem", f"{tls_dir}/key.pem")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_port}{self.PATH}"
        self.document = {
            "client_id": self.url,
            "client_name": "Python MCP SDK interop (CIMD)",
            "client_uri": f"https://127.0.0.1:{self.httpd.server_port}/",
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


# --- what the SDK is handed ----------------------------------------------


class Storage:
    """In-memory TokenStorage that remembers every token set."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None
        self.history: list[OAuthToken] = []

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        self.history.append(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class User:
    """The person at the browser: the redirect handler signs in with
    oauth_browser.py, the callback handler hands back what the browser
    was sent back with."""

    def __init__(self, name: str, password: str):
        self.name, self.password = name, password
        self.authorize_urls: list[str] = []
        self.visited: list[list[str]] = []
        self.result: AuthorizationCodeResult | None = None
        self.outcome: str | None = None  # where the last sign-in ended, or why it broke off

    async def redirect_handler(self, url: str) -> None:
        self.authorize_urls.append(url)
        try:
            back, visited = await anyio.to_thread.run_sync(
                oauth_browser.sign_in_trace, url, self.name, self.password)
        except oauth_browser.PageError as e:
            self.outcome = f"page {e.status}: {e.text()}"
            raise
        except Exception as e:
            self.outcome = f"broke off: {e}"
            raise
        self.outcome = back
        self.visited.append(visited)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))
        if "code" not in q:
            raise RuntimeError(f"the sign-in ended without a code: {back}")
        self.result = AuthorizationCodeResult(code=q["code"], state=q.get("state"), iss=q.get("iss"))

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.result is not None
        result, self.result = self.result, None
        return result


class Wire:
    """Every request the SDK made, with its response status."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def on_request(self, request: httpx2.Request) -> None:
        form: dict[str, str] = {}
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = dict(urllib.parse.parse_qsl(request.content.decode()))
        request.extensions["wire"] = entry = {"method": request.method, "url": str(request.url), "form": form}
        self.seen.append(entry)

    async def on_response(self, response: httpx2.Response) -> None:
        entry = response.request.extensions.get("wire")
        if entry is not None:
            entry["status"] = response.status_code

    def to(self, path: str, method: str = "POST") -> list[dict[str, Any]]:
        return [e for e in self.seen if e["method"] == method and urllib.parse.urlsplit(e["url"]).path == path]

    def grants(self, grant_type: str) -> list[dict[str, Any]]:
        return [e for e in self.to("/oauth/token") if e["form"].get("grant_type") == grant_type]


async def call(url: str, provider: OAuthClientProvider, wire: Wire, mode: str, message: str) -> tuple[str, dict, str]:
    """echo(message) and whoami in one connection: (echo's text, whoami, negotiated version)."""
    hooks = {"request": [wire.on_request], "response": [wire.on_response]}
    async with httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(30, read=LIMIT), event_hooks=hooks) as http:
        transport = streamable_http_client(url, http_client=http, terminate_on_close=True)
        async with Client(transport, mode=mode, read_timeout_seconds=LIMIT, cache=None) as client:
            echoed = text_of(await client.call_tool("echo", {"message": message}))
            who = (await client.call_tool("whoami", {})).structured_content or {}
            return echoed, who, client.protocol_version


async def raw_call(url: str, token: str) -> int:
    """A stateless tools/call with `token`, no SDK: the HTTP status."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": "raw"},
                       "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                                 "io.modelcontextprotocol/clientCapabilities": {}}}}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "echo"}
    async with httpx2.AsyncClient(timeout=30) as http:
        return (await http.post(url, json=body, headers=headers)).status_code


async def refresh_at(origin: str, refresh_token: str, client_id: str, resource: str) -> tuple[int, dict]:
    """A refresh_token grant at `origin`'s token endpoint, as a public client."""
    async with httpx2.AsyncClient(timeout=30) as http:
        r = await http.post(f"{origin}/oauth/token", data={
            "grant_type": "refresh_token", "refresh_token": refresh_token,
            "client_id": client_id, "resource": resource})
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, {"body": r.text[:200]}


def origin_of(url: str) -> str:
    p = urllib.parse.urlsplit(url)
    return f"{p.scheme}://{p.netloc}"


# --- one flow ---------------------------------------------------------------


async def flow(kind: str, args: argparse.Namespace, checks: Checks, idp_before: dict | None) -> None:
    tag = f"[{kind}]"
    user = User(args.user, args.password)
    storage = Storage()
    wire = Wire()
    redirect_uri = "http://127.0.0.1:9/callback"  # the browser stops there: no server needed
    doc = None
    if kind == "cimd":
        doc = MetadataDocument(args.tls, redirect_uri)
    try:
        provider = OAuthClientProvider(
            server_url=args.node_a,
            client_metadata=OAuthClientMetadata(
                client_name=f"Python MCP SDK interop ({kind})",
                redirect_uris=[redirect_uri],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",
            ),
            storage=storage,
            redirect_handler=user.redirect_handler,
            callback_handler=user.callback_handler,
            client_metadata_url=doc.url if doc else None,
        )
        await run_flow(tag, kind, args, checks, provider, storage, user, wire, doc, idp_before)
    finally:
        if doc:
            doc.close()


async def step(checks: Checks, name: str, coro) -> Any:
    try:
        with anyio.fail_after(LIMIT * 2):
            return await coro
    except Exception as e:  # noqa: BLE001 - an SDK or transport failure is a failed check
        checks.ok(name, False, describe(e))
        return None


async def run_flow(tag, kind, args, checks, provider, storage, user, wire, doc, idp_before) -> None:
    issuer = origin_of(args.node_a)
    # 1. Sign in from nothing, session era, node A.
    got = await step(checks, f"{tag} sign-in + echo on node A ({LEGACY})",
                     call(args.node_a, provider, wire, "legacy", f"{kind}-a-legacy"))
    if got is None:
        return
    echoed, who, version = got
    checks.ok(f"{tag} sign-in + echo on node A ({LEGACY})",
              echoed == f"{kind}-a-legacy" and version == LEGACY, f"echo={echoed!r} version={version}")
    checks.ok(f"{tag} one sign-in through the browser", len(user.authorize_urls) == 1,
              f"{len(user.authorize_urls)} authorization URL(s)")
    auth_url = user.authorize_urls[0] if user.authorize_urls else ""
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(auth_url).query))
    checks.ok(f"{tag} authorization request", auth_url.startswith(f"{issuer}/oauth/authorize?")
              and q.get("code_challenge_method") == "S256" and q.get("resource") == f"{issuer}/mcp"
              and bool(q.get("state")), f"resource={q.get('resource')} pkce={q.get('code_challenge_method')}")
    client_id = storage.client_info.client_id if storage.client_info else None
    if kind == "cimd":
        checks.ok(f"{tag} client identified by its metadata document URL",
                  q.get("client_id") == doc.url and client_id == doc.url and not wire.to("/oauth/register"),
                  f"client_id={q.get('client_id')} registrations={len(wire.to('/oauth/register'))}")
        checks.ok(f"{tag} Switchboard fetched the document over HTTPS", doc.fetches >= 1,
                  f"{doc.fetches} fetch(es)")
    else:
        regs = wire.to("/oauth/register")
        checks.ok(f"{tag} registered dynamically (RFC 7591)",
                  len(regs) == 1 and regs[0].get("status") == 201 and q.get("client_id") == client_id,
                  f"register={[r.get('status') for r in regs]} client_id={client_id}")
    visited = user.visited[0] if user.visited else []
    at_idp = [u for u in visited if args.idp and u.startswith(args.idp)]
    if args.idp:
        checks.ok(f"{tag} signed in at the identity provider", bool(at_idp)
                  and any(urllib.parse.urlsplit(u).path == "/oauth/callback" for u in visited),
                  " -> ".join(urllib.parse.urlsplit(u).path for u in visited))
    else:
        checks.ok(f"{tag} signed in on Switchboard's own form",
                  any(urllib.parse.urlsplit(u).path == "/oauth/login" for u in visited),
                  " -> ".join(urllib.parse.urlsplit(u).path for u in visited))
    codes = wire.grants("authorization_code")
    checks.ok(f"{tag} code redeemed with PKCE and the resource",
              len(codes) == 1 and codes[0].get("status") == 200 and bool(codes[0]["form"].get("code_verifier"))
              and codes[0]["form"].get("resource") == f"{issuer}/mcp",
              f"token requests={[c.get('status') for c in codes]}")
    want = {"tenant": args.tenant} | ({"subject": args.subject} if args.subject else {})
    checks.ok(f"{tag} whoami on node A", all(who.get(k) == v for k, v in want.items()),
              json.dumps({k: who.get(k) for k in ("tenant", "subject")}))
    first = storage.tokens
    first_at = time.time()
    checks.ok(f"{tag} tokens: access, refresh, expiry", bool(first and first.access_token and first.refresh_token
                                                         and first.expires_in),
              f"expires_in={first.expires_in if first else None} scope={first.scope if first else None!r}")

    # 2. The same token: stateless era on node A, both eras on node B.
    targets = [("A", args.node_a, "2026-07-28")]
    if args.node_b:
        targets += [("B", args.node_b, "legacy"), ("B", args.node_b, "2026-07-28")]
    for node, url, mode in targets:
        want_version = MODERN if mode != "legacy" else LEGACY
        name = f"{tag} echo on node {node} ({want_version}), no new sign-in"
        got = await step(checks, name, call(url, provider, wire, mode, f"{kind}-{node}-{mode}"))
        if got is not None:
            echoed, who, version = got
            checks.ok(name, echoed == f"{kind}-{node}-{mode}" and version == want_version
                      and len(user.authorize_urls) == 1 and who.get("tenant") == args.tenant,
                      f"version={version} sign-ins={len(user.authorize_urls)} tenant={who.get('tenant')}")

    # 3. Expiry: the SDK refreshes; calls succeed. (The old token's refusal
    # is checked at the end, past the leeway.)
    await anyio.sleep((first.expires_in or args.token_secs) + 1.5)
    EXPIRED.append((tag, first_at + (first.expires_in or args.token_secs), first.access_token))
    refreshes_before = len(wire.grants("refresh_token"))
    for node, url in [("B", args.node_b), ("A", args.node_a)]:
        if not url:
            continue
        name = f"{tag} echo on node {node} after expiry ({MODERN})"
        got = await step(checks, name, call(url, provider, wire, "2026-07-28", f"{kind}-{node}-after"))
        if got is not None:
            checks.ok(name, got[0] == f"{kind}-{node}-after", f"echo={got[0]!r}")
    refreshes = wire.grants("refresh_token")[refreshes_before:]
    rotated = [t.refresh_token for t in storage.history]
    checks.ok(f"{tag} the SDK refreshed (no new sign-in), the refresh token rotated",
              len(refreshes) >= 1 and all(r.get("status") == 200 for r in refreshes)
              and len(user.authorize_urls) == 1 and len(set(rotated)) == len(rotated) >= 2,
              f"refreshes={[r.get('status') for r in refreshes]} sign-ins={len(user.authorize_urls)} "
              f"refresh tokens={len(set(rotated))}")

    # 4. Reuse of the first refresh token revokes the family.
    current = storage.tokens.refresh_token if storage.tokens else None
    resource = f"{issuer}/mcp"
    status, body = await refresh_at(issuer, first.refresh_token, client_id, resource)
    checks.ok(f"{tag} rotated-away refresh token refused (node A)",
              status == 400 and body.get("error") == "invalid_grant", f"HTTP {status} {body.get('error')}")
    nodes = [("B", origin_of(args.node_b))] if args.node_b else []
    nodes.append(("A", issuer))
    for node, origin in nodes:
        status, body = await refresh_at(origin, current, client_id, resource)
        checks.ok(f"{tag} the family's current refresh token refused after the reuse (node {node})",
                  status == 400 and body.get("error") == "invalid_grant", f"HTTP {status} {body.get('error')}")


async def refused_user(args: argparse.Namespace, checks: Checks) -> None:
    """A user whom no rule admits signs in at the provider: no code, no call."""
    name, _, password = args.refused_user.partition(":")
    user = User(name, password)
    provider = OAuthClientProvider(
        server_url=args.node_a,
        client_metadata=OAuthClientMetadata(client_name="Python MCP SDK interop (refused)",
                                            redirect_uris=["http://127.0.0.1:9/callback"],
                                            token_endpoint_auth_method="none"),
        storage=Storage(), redirect_handler=user.redirect_handler, callback_handler=user.callback_handler)
    try:
        with anyio.fail_after(LIMIT):
            await call(args.node_a, provider, Wire(), "legacy", "refused")
        checks.ok(f"[refused] {name} (no rule admits) cannot sign in", False, "the call succeeded")
    except Exception as e:  # noqa: BLE001
        # Refused either on a page of Switchboard's (the browser stops
        # there) or back at the client with an error (RFC 6749 §4.1.2.1).
        outcome = user.outcome or describe(e)
        if outcome.startswith("page 4"):
            ok, detail = True, f"Switchboard's {outcome}"
        elif not outcome.startswith("http"):
            ok, detail = False, outcome[:300]
        else:
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(outcome).query))
            ok = "code" not in q and q.get("error") == "access_denied"
            detail = f"back at the client: {outcome[:200]}"
        checks.ok(f"[refused] {name} (no rule admits) cannot sign in", bool(user.authorize_urls) and ok, detail)


async def idp_stats(idp: str) -> dict:
    async with httpx2.AsyncClient(timeout=10) as http:
        return (await http.get(f"{idp}/stats")).json()


async def main_run(args: argparse.Namespace) -> int:
    checks = Checks()
    before = await idp_stats(args.idp) if args.idp else None
    if before and not args.subject:
        args.subject = before["subjects"].get(args.user)  # the `sub` the provider gives the user
    for kind in args.flows.split(","):
        if kind == "cimd" and not args.tls:
            checks.ok("[cimd] flow", False, "--tls DIR is needed (the SDK takes only https:// metadata URLs)")
            continue
        try:
            await flow(kind, args, checks, before)
        except Exception as e:  # noqa: BLE001
            checks.ok(f"[{kind}] flow", False, describe(e))
    if args.refused_user:
        await refused_user(args, checks)
    if EXPIRED:
        await anyio.sleep(max(0.0, max(t for _, t, _ in EXPIRED) + args.leeway + 1 - time.time()))
        for tag, _, token in EXPIRED:
            for node, url in [("A", args.node_a), ("B", args.node_b)]:
                if url:
                    status = await raw_call(url, token)
                    checks.ok(f"{tag} the first access token refused once expired (+{args.leeway:g} s leeway)"
                              f" (node {node})", status == 401, f"HTTP {status}")
    if args.idp:
        after = await idp_stats(args.idp)
        logins = after["logins"][len(before["logins"]):]
        auths = after["authorize"][len(before["authorize"]):]
        tokens = after["token_requests"][len(before["token_requests"]):]
        want = [args.user] * len(args.flows.split(",")) + ([args.refused_user.partition(":")[0]]
                                                           if args.refused_user else [])
        checks.ok("[idp] each sign-in was at the identity provider", logins == want, f"logins={logins}")
        checks.ok("[idp] Switchboard's authorization requests: code, S256, nonce, state, its callback",
                  bool(auths) and all(a["response_type"] == "code" and a["code_challenge_method"] == "S256"
                                      and a["nonce"] and a["state"]
                                      and (a["redirect_uri"] or "").endswith("/oauth/callback")
                                      and "openid" in (a["scope"] or "").split() for a in auths),
                  json.dumps(auths[:1]))
        checks.ok("[idp] Switchboard redeemed each code with PKCE",
                  len(tokens) == len(logins) and all(t["grant_type"] == "authorization_code"
                                                     and t["code_verifier"] for t in tokens),
                  json.dumps(tokens[:1]))
        checks.ok("[idp] an id token for each sign-in", after["id_tokens"] - before["id_tokens"] == len(logins),
                  f"{after['id_tokens'] - before['id_tokens']}")
    print(f"oauth sdk client: {checks.failed} failed", flush=True)
    return 1 if checks.failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    mc = sub.add_parser("make-cert")
    mc.add_argument("dir")
    run = sub.add_parser("run")
    run.add_argument("--node-a", required=True)
    run.add_argument("--node-b")
    run.add_argument("--user", required=True)
    run.add_argument("--password", required=True)
    run.add_argument("--tls", help="directory of make-cert (for the CIMD flow)")
    run.add_argument("--idp", help="the identity provider's issuer (its /stats is checked)")
    run.add_argument("--tenant", default="acme")
    run.add_argument("--subject")
    run.add_argument("--token-secs", type=float, default=3)
    run.add_argument("--flows", default="cimd,dcr")
    run.add_argument("--refused-user", help="USER:PASSWORD of someone who must not get in")
    run.add_argument("--leeway", type=float, default=5,
                     help="seconds past exp Switchboard still accepts its tokens (clock skew)")
    args = parser.parse_args()
    if args.command == "make-cert":
        make_cert(args.dir)
        return 0
    return asyncio.run(main_run(args))


if __name__ == "__main__":
    sys.exit(main())
