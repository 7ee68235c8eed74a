// A small MCP load for the dashboard test: session-era (2025-11-25) clients
// over real HTTP, each initializing a session with its tenant's API key and
// then calling tools in a loop until stopped or until its session is ended
// under it (404), which it records. A call in flight when its session is
// ended is answered -32800 "request cancelled"; that is recorded apart
// (`cancelled`), so the test can check it happened only to the ended one.
const VERSION = "2025-11-25";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Client {
  constructor(url, tenant, key, tools) {
    Object.assign(this, { url, tenant, key, tools });
    this.session = null;
    this.calls = 0;
    this.errors = [];
    this.cancelled = [];  // calls answered -32800 (their session ended under them)
    this.ended = false;   // the server said 404: our session is gone
    this.nextId = 1;
  }

  async post(message) {
    const headers = {
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      Authorization: `Bearer ${this.key}`,
    };
    if (this.session) {
      headers["Mcp-Session-Id"] = this.session;
      headers["MCP-Protocol-Version"] = VERSION;
    }
    const res = await fetch(this.url, { method: "POST", headers, body: JSON.stringify(message),
                                        signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    return { res, text };
  }

  async open() {
    const { res, text } = await this.post({ jsonrpc: "2.0", id: this.nextId++, method: "initialize",
      params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: `dashboard-e2e-${this.tenant}`, version: "1" } } });
    this.session = res.headers.get("mcp-session-id");
    if (res.status !== 200 || !this.session) throw new Error(`initialize: HTTP ${res.status} ${text.slice(0, 200)}`);
    const ack = await this.post({ jsonrpc: "2.0", method: "notifications/initialized" });
    if (ack.res.status !== 202) throw new Error(`notifications/initialized: HTTP ${ack.res.status}`);
  }

  async run(stopped, pauseMs) {
    while (!stopped()) {
      const name = this.tools[this.calls % this.tools.length];
      let reply;
      try {
        reply = await this.post({ jsonrpc: "2.0", id: this.nextId++, method: "tools/call",
                                  params: { name, arguments: { message: "dashboard" } } });
      } catch (e) {
        this.errors.push(`${name}: ${e.message}`);
        await sleep(100);
        continue;
      }
      if (reply.res.status === 404) { this.ended = true; return; }
      if (reply.res.status === 200 && /"error":\{"code":-32800\b/.test(reply.text)) {
        this.cancelled.push(name);
        continue;
      }
      if (reply.res.status !== 200 || !reply.text.includes('"result"') || !reply.text.includes("dashboard")) {
        this.errors.push(`${name}: HTTP ${reply.res.status} ${reply.text.slice(0, 200)}`);
      }
      this.calls++;
      await sleep(pauseMs);
    }
  }
}

/**
 * Opens `perTenant` sessions for each {tenant: key} and keeps them calling
 * `tools` in turn, `pauseMs` apart, until `stop()`.
 */
export async function startLoad({ url, keys, perTenant = 3, tools = ["echo"], pauseMs = 10 }) {
  const clients = [];
  for (const [tenant, key] of Object.entries(keys)) {
    for (let i = 0; i < perTenant; i++) clients.push(new Client(url, tenant, key, tools));
  }
  await Promise.all(clients.map((c) => c.open()));
  let stopped = false;
  const done = Promise.all(clients.map((c) => c.run(() => stopped, pauseMs)));
  return {
    clients,
    calls: () => clients.reduce((n, c) => n + c.calls, 0),
    async stop() { stopped = true; await done; },
  };
}
