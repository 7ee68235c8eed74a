// Interop check: the official TypeScript MCP SDK v2 client's OAuth
// (@modelcontextprotocol/client 2.x, an OAuthClientProvider handed to
// StreamableHTTPClientTransport) signs in from nothing against
// Switchboard's own authorization server, uses the token on two nodes,
// refreshes it after it expired, and sees a reused refresh token revoke its
// family. The same checks as tests/interop/python/oauth_sdk_client.py.
//
//   node tests/interop/ts/oauth_client.mjs --node-a URL_A [--node-b URL_B] \
//     --user USER --password PASSWORD [--tls DIR] [--idp IDP_ISSUER] \
//     [--tenant acme] [--subject SUBJECT] [--token-secs 3] [--leeway 5] \
//     [--flows cimd,dcr] [--python PYTHON]
//
// --tls DIR is what `oauth_sdk_client.py make-cert DIR` wrote: the client
// serves its Client ID Metadata Document over HTTPS with DIR/cert.pem (the
// nodes trust DIR/ca.pem). The SDK is loaded from tests/interop/node
// (scripts/tools.sh installs it there). The user's browser is
// tests/interop/python/oauth_browser.py (run with --python, default
// .tools/venv/bin/python): it signs in (at the identity provider when
// Switchboard sends it there) and consents, and lands on this client's
// loopback callback server.
//
// For each flow (cimd, then dcr), a fresh provider:
//   - connect to node A (2025-11-25 session): 401; the SDK discovers, uses
//     the metadata document URL as client_id (cimd) or registers (dcr),
//     calls redirectToAuthorization (ours runs the browser), and throws
//     UnauthorizedError; the callback server has the code: state checked,
//     transport.finishAuth(params) (the SDK checks iss, RFC 9207) redeems it;
//     reconnect: echo and whoami (tenant, subject);
//   - the same token serves the 2026-07-28 era on node A and both eras on
//     node B, with no second sign-in.
// Then, once every first access token expired and Switchboard's leeway
// on `exp` (--leeway, 5 s) has passed — this SDK refreshes only when the
// server answers 401, it keeps no expiry of its own — a call on node A
// (401, refresh, rotated; the retried call succeeds) and one on node B with
// the refreshed token. (Not node B first: its 401 would make the SDK fetch
// node B's protected-resource metadata, whose `resource` is node A's — the
// issuer's — and refuse it, RFC 9728 §3.3, since it reached node B at
// another origin; behind one front URL, as deployed, that cannot happen.) Finally
// the first (rotated-away) refresh token is refused with invalid_grant, and
// then the family's current one too, at node B and node A.
//
// Prints "PASS <check>" / "FAIL <check>: <why>", exits non-zero on any
// failure.
//
// SDK notes (@modelcontextprotocol/client 2.4.0):
// - OAuthClientProvider is an interface the app implements: redirectUrl,
//   clientMetadata, clientMetadataUrl (https with a non-root path, else
//   OAuthError InvalidClientMetadata — no http, even on loopback; used
//   instead of DCR only when the AS metadata says
//   client_id_metadata_document_supported), state(), clientInformation /
//   saveClientInformation, tokens / saveTokens, redirectToAuthorization,
//   saveCodeVerifier / codeVerifier, saveDiscoveryState / discoveryState
//   (needed on the callback leg to check the AS is the same one, SEP-2352),
//   invalidateCredentials.
// - The SDK does not check `state`: the app compares it before finishAuth.
//   finishAuth(URLSearchParams) checks `iss` (RFC 9207) and redeems the
//   code; the connection must then be made again.
// - No expiry tracking: token() returns the stored access token; refresh
//   happens in onUnauthorized (401), then the request is retried once.
// - Token endpoints must be https unless on a loopback host.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const require = createRequire(new URL("../node/package.json", import.meta.url));
const { Client, StreamableHTTPClientTransport, UnauthorizedError } = require("@modelcontextprotocol/client");

const LEGACY = "2025-11-25";
const MODERN = "2026-07-28";
const LIMIT_MS = 60_000;

function parseArgs(argv) {
  const out = { tenant: "acme", tokenSecs: 3, leeway: 5, flows: "cimd,dcr", python: `${ROOT}.tools/venv/bin/python` };
  const names = {
    "--node-a": "nodeA", "--node-b": "nodeB", "--user": "user", "--password": "password", "--tls": "tls",
    "--idp": "idp", "--tenant": "tenant", "--subject": "subject", "--token-secs": "tokenSecs",
    "--leeway": "leeway", "--flows": "flows", "--python": "python",
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || argv[i + 1] === undefined) {
      console.error(`unknown or incomplete argument ${argv[i]}`);
      process.exit(2);
    }
    out[key] = ["tokenSecs", "leeway"].includes(key) ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!out.nodeA || !out.user || !out.password) {
    console.error("usage: oauth_client.mjs --node-a URL [--node-b URL] --user USER --password PASSWORD [...]");
    process.exit(2);
  }
  return out;
}
const args = parseArgs(process.argv.slice(2));

let failed = 0;
function check(name, cond, detail = "") {
  if (cond) console.log(`PASS ${name}${detail ? ` (${detail})` : ""}`);
  else {
    failed++;
    console.log(`FAIL ${name}: ${detail || "check failed"}`);
  }
  return cond;
}
const errText = (e) => `${e?.name ?? "Error"}: ${String(e?.message ?? e).split("\n")[0]}`;
const textOf = (r) => (r?.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const withTimeout = (promise, ms, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms).unref()),
  ]);
const originOf = (u) => new URL(u).origin;
const pathOf = (u) => new URL(u).pathname;

// --- the metadata document, the callback, the browser ----------------------

// A Client ID Metadata Document on HTTPS; its URL is the client id.
async function serveDocument(redirectUri) {
  const doc = { fetches: 0 };
  const server = https.createServer(
    { cert: readFileSync(`${args.tls}/cert.pem`), key: readFileSync(`${args.tls}/key.pem`) },
    (req, res) => {
      if (req.url !== "/clients/ts-sdk-interop.json") {
        res.writeHead(404).end();
        return;
      }
      doc.fetches++;
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(doc.document));
    },
  );
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const port = server.address().port;
  doc.url = `https://127.0.0.1:${port}/clients/ts-sdk-interop.json`;
  doc.document = {
    client_id: doc.url,
    client_name: "TypeScript MCP SDK interop (CIMD)",
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
  };
  doc.close = () => server.close();
  return doc;
}

// The loopback server the browser is sent back to.
async function callbackServer() {
  const cb = { waiting: [], got: [] };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    if (url.pathname !== "/callback") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "text/plain" }).end("Signed in; you may close this window.");
    cb.got.push(url.searchParams);
    cb.waiting.splice(0).forEach((w) => w(url.searchParams));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  cb.url = `http://127.0.0.1:${server.address().port}/callback`;
  cb.next = () => new Promise((r) => cb.waiting.push(r));
  cb.close = () => server.close();
  return cb;
}

// The user's browser: oauth_browser.py signs in, consents, and follows the
// redirect to our callback. Resolves with the URLs it visited.
function browse(url) {
  return new Promise((resolve, reject) => {
    const child = spawn(args.python, [`${ROOT}tests/interop/python/oauth_browser.py`, url, args.user, args.password, "allow"], {
      env: { ...process.env, OAUTH_BROWSER_TRACE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      const visited = [...err.matchAll(/^visited (\S+)$/gm)].map((m) => m[1]);
      if (code === 0) resolve({ back: out.trim(), visited });
      else reject(new Error(`the browser failed (${code}): ${err.split("\n").filter((l) => !l.startsWith("visited ")).slice(-3).join(" ")}`));
    });
  });
}

// --- the provider -----------------------------------------------------------

class Provider {
  constructor(kind, redirectUrl, documentUrl) {
    this.kind = kind;
    this._redirect = redirectUrl;
    if (documentUrl) this.clientMetadataUrl = documentUrl;
    this.history = [];
    this.authorizeUrls = [];
    this.visited = [];
    this.states = [];
  }
  get redirectUrl() {
    return this._redirect;
  }
  get clientMetadata() {
    return {
      client_name: `TypeScript MCP SDK interop (${this.kind})`,
      redirect_uris: [this._redirect],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state() {
    const s = randomUUID();
    this.states.push(s);
    return s;
  }
  clientInformation() {
    return this._client;
  }
  saveClientInformation(info) {
    this._client = info;
  }
  tokens() {
    return this._tokens;
  }
  saveTokens(tokens) {
    this._tokens = tokens;
    this.history.push(tokens);
  }
  async redirectToAuthorization(url) {
    this.authorizeUrls.push(url.href);
    const { visited } = await browse(url.href);
    this.visited.push(visited);
  }
  saveCodeVerifier(v) {
    this._verifier = v;
  }
  codeVerifier() {
    return this._verifier;
  }
  saveDiscoveryState(s) {
    this._discovery = s;
  }
  discoveryState() {
    return this._discovery;
  }
  invalidateCredentials(scope) {
    if (scope === "all" || scope === "tokens") this._tokens = undefined;
    if (scope === "all" || scope === "client") this._client = undefined;
    if (scope === "all" || scope === "verifier") this._verifier = undefined;
    if (scope === "all" || scope === "discovery") this._discovery = undefined;
  }
}

// Every request the transport and the SDK's OAuth made, with its status.
function recorder(wire) {
  return async (input, init) => {
    const url = typeof input === "string" ? input : input.url ?? String(input);
    const method = (init?.method ?? "GET").toUpperCase();
    let form = {};
    if (init?.body instanceof URLSearchParams) form = Object.fromEntries(init.body);
    else if (typeof init?.body === "string" && !init.body.startsWith("{") && !init.body.startsWith("[")) {
      form = Object.fromEntries(new URLSearchParams(init.body));
    }
    const entry = { method, url, form, auth: new Headers(init?.headers).get("authorization") ?? "" };
    wire.push(entry);
    const res = await fetch(input, init);
    entry.status = res.status;
    return res;
  };
}
const toPath = (wire, path, method = "POST") => wire.filter((e) => e.method === method && pathOf(e.url) === path);
const grants = (wire, type) => toPath(wire, "/oauth/token").filter((e) => e.form.grant_type === type);

// One connection: echo and whoami. Signs in first when the server says 401.
async function call(url, provider, cb, wire, era, message) {
  const mode = era === MODERN ? { pin: MODERN } : "legacy";
  const open = () => {
    const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: recorder(wire) });
    const client = new Client({ name: "ts-oauth-interop", version: "1.0.0" }, { versionNegotiation: { mode } });
    return { transport, client };
  };
  let { transport, client } = open();
  try {
    await client.connect(transport);
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
    // The browser has been and gone (redirectToAuthorization awaits it);
    // the code is at the callback.
    const params = cb.got.at(-1);
    if (!params) throw new Error("UnauthorizedError but no callback arrived");
    if (params.get("state") !== provider.states.at(-1)) throw new Error(`state mismatch: ${params.get("state")}`);
    await transport.finishAuth(params);
    await client.close().catch(() => {});
    ({ transport, client } = open());
    await client.connect(transport);
  }
  try {
    const echoed = textOf(await client.callTool({ name: "echo", arguments: { message } }));
    const who = (await client.callTool({ name: "whoami", arguments: {} })).structuredContent ?? {};
    return { echoed, who, version: client.getNegotiatedProtocolVersion?.() };
  } finally {
    await client.close().catch(() => {});
  }
}

async function refreshAt(origin, refreshToken, clientId, resource) {
  const res = await fetch(`${origin}/oauth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId, resource }),
  });
  let body = {};
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  return { status: res.status, body };
}

async function step(name, fn) {
  try {
    return await withTimeout(fn(), LIMIT_MS * 2, name);
  } catch (e) {
    check(name, false, errText(e));
    return undefined;
  }
}

// --- the flows --------------------------------------------------------------

async function signIn(kind, cb) {
  const tag = `[${kind}]`;
  const issuer = originOf(args.nodeA);
  const wire = [];
  const doc = kind === "cimd" ? await serveDocument(cb.url) : undefined;
  const provider = new Provider(kind, cb.url, doc?.url);
  const flow = { kind, tag, wire, doc, provider };
  const name = `${tag} sign-in + echo on node A (${LEGACY})`;
  const got = await step(name, () => call(args.nodeA, provider, cb, wire, LEGACY, `${kind}-a-legacy`));
  if (!got) return flow;
  check(name, got.echoed === `${kind}-a-legacy` && got.version === LEGACY, `echo=${got.echoed} version=${got.version}`);
  check(`${tag} one sign-in through the browser`, provider.authorizeUrls.length === 1, `${provider.authorizeUrls.length} authorization URL(s)`);
  const q = new URL(provider.authorizeUrls[0] ?? "http://x/").searchParams;
  check(
    `${tag} authorization request`,
    (provider.authorizeUrls[0] ?? "").startsWith(`${issuer}/oauth/authorize?`) && q.get("code_challenge_method") === "S256" &&
      q.get("resource") === `${issuer}/mcp` && !!q.get("state"),
    `resource=${q.get("resource")} pkce=${q.get("code_challenge_method")}`,
  );
  const clientId = provider.clientInformation()?.client_id;
  flow.clientId = clientId;
  if (kind === "cimd") {
    check(
      `${tag} client identified by its metadata document URL`,
      q.get("client_id") === doc.url && clientId === doc.url && toPath(wire, "/oauth/register").length === 0,
      `client_id=${q.get("client_id")}`,
    );
    check(`${tag} Switchboard fetched the document over HTTPS`, doc.fetches >= 1, `${doc.fetches} fetch(es)`);
  } else {
    const regs = toPath(wire, "/oauth/register");
    check(
      `${tag} registered dynamically (RFC 7591)`,
      regs.length === 1 && regs[0].status === 201 && q.get("client_id") === clientId,
      `register=${regs.map((r) => r.status)} client_id=${clientId}`,
    );
  }
  const visited = provider.visited[0] ?? [];
  const route = visited.map(pathOf).join(" -> ");
  if (args.idp) {
    check(`${tag} signed in at the identity provider`,
      visited.some((u) => u.startsWith(args.idp)) && visited.some((u) => pathOf(u) === "/oauth/callback"), route);
  } else {
    check(`${tag} signed in on Switchboard's own form`, visited.some((u) => pathOf(u) === "/oauth/login"), route);
  }
  const codes = grants(wire, "authorization_code");
  check(
    `${tag} code redeemed with PKCE and the resource`,
    codes.length === 1 && codes[0].status === 200 && !!codes[0].form.code_verifier && codes[0].form.resource === `${issuer}/mcp`,
    `token requests=${codes.map((c) => c.status)}`,
  );
  const want = { tenant: args.tenant, ...(args.subject ? { subject: args.subject } : {}) };
  check(`${tag} whoami on node A`, Object.entries(want).every(([k, v]) => got.who[k] === v),
    JSON.stringify({ tenant: got.who.tenant, subject: got.who.subject }));
  const first = provider.tokens();
  flow.first = first;
  flow.firstAt = Date.now();
  check(`${tag} tokens: access, refresh, expiry`, !!(first?.access_token && first?.refresh_token && first?.expires_in),
    `expires_in=${first?.expires_in} scope=${JSON.stringify(first?.scope)}`);

  const targets = [["A", args.nodeA, MODERN]];
  if (args.nodeB) targets.push(["B", args.nodeB, LEGACY], ["B", args.nodeB, MODERN]);
  for (const [node, url, era] of targets) {
    const n = `${tag} echo on node ${node} (${era}), no new sign-in`;
    const r = await step(n, () => call(url, provider, cb, wire, era, `${kind}-${node}-${era}`));
    if (r) {
      check(n, r.echoed === `${kind}-${node}-${era}` && r.version === era && provider.authorizeUrls.length === 1 && r.who.tenant === args.tenant,
        `version=${r.version} sign-ins=${provider.authorizeUrls.length} tenant=${r.who.tenant}`);
    }
  }
  return flow;
}

async function afterExpiry(flow, cb) {
  const { tag, kind, wire, provider, first } = flow;
  if (!first) return;
  const issuer = originOf(args.nodeA);
  const mark = wire.length;
  // Node A first: its 401 makes the SDK rediscover, and node B's metadata
  // names node A's resource (the issuer's: in a deployment both nodes are
  // reached at that one URL), which this SDK rightly refuses to use when it
  // reached node B at another origin (RFC 9728 §3.3). Node B then takes the
  // refreshed token.
  for (const [node, url] of [["A", args.nodeA], ["B", args.nodeB]]) {
    if (!url) continue;
    const n = `${tag} echo on node ${node} after expiry (${MODERN})`;
    const r = await step(n, () => call(url, provider, cb, wire, MODERN, `${kind}-${node}-after`));
    if (r) check(n, r.echoed === `${kind}-${node}-after`, `echo=${r.echoed}`);
  }
  const since = wire.slice(mark);
  const refused = since.filter((e) => pathOf(e.url) === "/mcp" && e.status === 401 && e.auth === `Bearer ${first.access_token}`);
  check(`${tag} the expired access token refused (401) once past the leeway`, refused.length >= 1, `${refused.length} refusal(s)`);
  const refreshes = grants(since, "refresh_token");
  const rotated = provider.history.map((t) => t.refresh_token);
  check(
    `${tag} the SDK refreshed on the 401 (no new sign-in), the refresh token rotated`,
    refreshes.length >= 1 && refreshes.every((r) => r.status === 200) && provider.authorizeUrls.length === 1 &&
      new Set(rotated).size === rotated.length && rotated.length >= 2,
    `refreshes=${refreshes.map((r) => r.status)} sign-ins=${provider.authorizeUrls.length} refresh tokens=${new Set(rotated).size}`,
  );
  const current = provider.tokens()?.refresh_token;
  const resource = `${issuer}/mcp`;
  let r = await refreshAt(issuer, first.refresh_token, flow.clientId, resource);
  check(`${tag} rotated-away refresh token refused (node A)`, r.status === 400 && r.body.error === "invalid_grant", `HTTP ${r.status} ${r.body.error}`);
  const nodes = args.nodeB ? [["B", originOf(args.nodeB)]] : [];
  nodes.push(["A", issuer]);
  for (const [node, origin] of nodes) {
    r = await refreshAt(origin, current, flow.clientId, resource);
    check(`${tag} the family's current refresh token refused after the reuse (node ${node})`,
      r.status === 400 && r.body.error === "invalid_grant", `HTTP ${r.status} ${r.body.error}`);
  }
}

async function idpStats() {
  return (await fetch(`${args.idp}/stats`)).json();
}

async function main() {
  const before = args.idp ? await idpStats() : undefined;
  if (before && !args.subject) args.subject = before.subjects?.[args.user];
  const cb = await callbackServer();
  const flows = [];
  try {
    for (const kind of args.flows.split(",")) {
      if (kind === "cimd" && !args.tls) {
        check("[cimd] flow", false, "--tls DIR is needed (the SDK takes only https:// metadata URLs)");
        continue;
      }
      try {
        flows.push(await signIn(kind, cb));
      } catch (e) {
        check(`[${kind}] flow`, false, errText(e));
      }
    }
    // This SDK refreshes on a 401 only: wait until the first tokens are
    // refused (their expiry plus Switchboard's leeway).
    const expiries = flows.filter((f) => f.first).map((f) => f.firstAt + (f.first.expires_in ?? args.tokenSecs) * 1000);
    if (expiries.length) await sleep(Math.max(0, Math.max(...expiries) + (args.leeway + 1.5) * 1000 - Date.now()));
    for (const flow of flows) {
      try {
        await afterExpiry(flow, cb);
      } catch (e) {
        check(`${flow.tag} after expiry`, false, errText(e));
      }
    }
    if (args.idp) {
      const after = await idpStats();
      const logins = after.logins.slice(before.logins.length);
      check("[idp] each sign-in was at the identity provider", logins.length === flows.length && logins.every((l) => l === args.user),
        `logins=${JSON.stringify(logins)}`);
      const tokens = after.token_requests.slice(before.token_requests.length);
      check("[idp] Switchboard redeemed each code with PKCE",
        tokens.length === logins.length && tokens.every((t) => t.grant_type === "authorization_code" && t.code_verifier),
        JSON.stringify(tokens[0] ?? {}));
    }
  } finally {
    cb.close();
    flows.forEach((f) => f.doc?.close());
  }
  console.log(`oauth ts client: ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL oauth ts client: ${errText(e)}`);
  process.exit(1);
});
