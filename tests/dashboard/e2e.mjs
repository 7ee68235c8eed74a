// End-to-end test of the live dashboard (scripts/dashboard-e2e.sh starts the
// server and runs this with Node 22):
//   1. a load of session-era clients of two tenants runs against /mcp;
//   2. headless chromium opens the dashboard with the admin token in the
//      fragment; the token must leave the address bar and the page go live;
//   3. the page's numbers must move: requests since start grow, the request
//      rate and every tenant's sessions show up, the upstream is listed;
//   4. a session is terminated from the page (its button, the confirm
//      dialog accepted); the admin API must then say 404 for it, its client
//      must get 404, and its row must leave the page;
//   5. with --pinned UPSTREAM/TOOL (a tool whose definition changed
//      upstream and is held back), the page shows its diff; its approve
//      button approves it (the admin API then says approved);
//   6. a screenshot is saved and checked to be a non-empty PNG;
//   7. with a wrong token the page shows its error banner.
// Every wait is bounded; the first failure ends the run with status 1.
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { Browser, until } from "./cdp.mjs";
import { startLoad } from "./load.mjs";

const { values: opt } = parseArgs({ options: {
  chromium: { type: "string", default: "chromium" },
  admin: { type: "string" },        // http://127.0.0.1:PORT (the admin listener)
  mcp: { type: "string" },          // http://127.0.0.1:PORT/mcp
  "other-mcp": { type: "string" },  // a second node on the same Redis store, if any
  tenant: { type: "string", multiple: true },  // tenants of the load; key in DASHBOARD_KEY_<TENANT>
  tool: { type: "string", multiple: true },  // tools the load calls in turn
  pinned: { type: "string" },       // UPSTREAM/TOOL awaiting approval (pinning), if any
  screenshot: { type: "string" },
  settle: { type: "string", default: "2" },  // seconds of load shown before the screenshot
} });
// Secrets come in the environment, not on a command line anyone can read.
opt.token = process.env.DASHBOARD_ADMIN_TOKEN;
const keys = Object.fromEntries((opt.tenant || []).map((t) => [t, process.env[`DASHBOARD_KEY_${t.toUpperCase()}`]]));
for (const k of ["admin", "token", "mcp", "tenant", "screenshot"]) {
  if (!opt[k] || Object.values(keys).some((v) => !v)) {
    console.error("usage: DASHBOARD_ADMIN_TOKEN=... DASHBOARD_KEY_<TENANT>=... e2e.mjs --admin URL --mcp URL --tenant T... --screenshot FILE");
    process.exit(2);
  }
}
const log = (...a) => console.log("[dashboard-e2e]", ...a);
const num = (text) => (text == null || text === "—") ? NaN : Number(text.replace(/,/g, ""));
const check = (ok, what) => { if (!ok) throw new Error(`check failed: ${what}`); log(`ok: ${what}`); };

async function adminGet(path) {
  const res = await fetch(`${opt.admin}${path}`, { headers: { Authorization: `Bearer ${opt.token}` } });
  return { status: res.status, body: await res.json().catch(() => null) };
}

for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(1));   // runs the browser's exit hook

const load = await startLoad({ url: opt.mcp, keys, perTenant: 3, tools: opt.tool?.length ? opt.tool : ["echo"] });
log(`load running: ${load.clients.length} sessions of ${Object.keys(keys).join(", ")}`);
// On a second node: sessions the dashboard's node does not hold but the cluster does.
const otherLoad = opt["other-mcp"] ? await startLoad({ url: opt["other-mcp"], keys, perTenant: 1, pauseMs: 200 }) : null;
if (otherLoad) log(`and ${otherLoad.clients.length} sessions on the second node`);
let browser;
try {
  browser = await Browser.launch({ executable: opt.chromium, width: 1280, height: 1000 });
  browser.answerDialogs(true);
  const pageErrors = [];
  browser.page.on("Runtime.exceptionThrown", (p) => pageErrors.push(p.exceptionDetails.exception?.description || p.exceptionDetails.text));
  browser.page.on("Log.entryAdded", (p) => { if (p.entry.level === "error") pageErrors.push(`${p.entry.source}: ${p.entry.text}`); });
  await browser.page.send("Log.enable");

  await browser.goto(`${opt.admin}/#token=${encodeURIComponent(opt.token)}`);
  await until("the page to go live", async () => (await browser.text("status")) === "live", 30_000);
  check(!(await browser.eval("location.href")).includes(opt.token), "the token left the address bar");

  // The numbers move.
  const first = num(await browser.text("requests-total"));
  check(first > 0, `requests since start shown (${first})`);
  const later = await until("requests since start to grow", async () => {
    const n = num(await browser.text("requests-total"));
    return n > first ? n : null;
  }, 30_000);
  check(later > first, `requests since start moved ${first} -> ${later}`);
  const rate = await until("a request rate", async () => {
    const r = num(await browser.text("request-rate"));
    return r > 0 ? r : null;
  }, 30_000);
  check(rate > 0, `request rate ${rate}/s`);
  const sessions = await until(`${load.clients.length} sessions on the page`, async () => {
    const n = num(await browser.text("sessions-total"));
    return n >= load.clients.length ? n : null;
  }, 30_000);
  check(sessions >= load.clients.length, `sessions ${sessions}`);
  const legend = await browser.eval(`document.getElementById("sessions-legend").textContent`);
  for (const tenant of Object.keys(keys)) check(legend.includes(tenant), `tenant ${tenant} in the sessions chart`);
  if (otherLoad) {
    const [node, cluster] = await until("the cluster's sessions beside the node's", async () => {
      const shown = !(await browser.eval(`document.querySelector('[data-testid="cluster-sessions-line"]').hidden`));
      const v = [num(await browser.text("sessions-total")), num(await browser.text("cluster-sessions"))];
      return shown && v[1] >= v[0] + otherLoad.clients.length ? v : null;
    }, 30_000);
    check(true, `cluster sessions ${cluster} beside the node's ${node}`);
  }
  // Percentiles worked out of the histogram differences: numbers, in order.
  const [p50, p95, p99] = await until("tools/call latency percentiles", async () => {
    const ps = await browser.eval(`["p50", "p95", "p99"].map((p) =>
      document.querySelector('tr[data-method="tools/call"] [data-testid="method-' + p + '"]')?.textContent)`);
    const v = ps.map(num);
    return v.every((x) => x > 0) ? v : null;
  }, 30_000);
  check(p50 <= p95 && p95 <= p99, `tools/call p50 ${p50} <= p95 ${p95} <= p99 ${p99} ms`);
  // Every tenant's session cap has its bar; the upstream is listed.
  for (const tenant of Object.keys(keys)) {
    const bar = await browser.eval(`(() => { const b = document.querySelector('[data-testid="capacity-tenant-${tenant}-sessions"]');
      return b && [Number(b.dataset.used), Number(b.dataset.limit)]; })()`);
    check(bar && bar[1] === 8 && bar[0] >= 1, `capacity bar of tenant ${tenant}'s sessions (${bar})`);
  }
  check(await browser.eval(`!!document.querySelector('tr[data-upstream="everything"]')`), "the stdio upstream is listed");

  // Terminate one of the load's sessions from the page.
  const ours = new Set(load.clients.map((c) => c.session));
  const victim = await until("a terminate button for one of the load's sessions", async () => {
    const ids = await browser.eval(`[...document.querySelectorAll('[data-testid="terminate"]')].map((b) => b.dataset.sessionId)`);
    return ids.find((id) => ours.has(id));
  }, 30_000);
  check((await adminGet(`/admin/v1/sessions/${encodeURIComponent(victim)}`)).status === 200, "the victim exists before");
  await browser.click(`[data-testid="terminate"][data-session-id="${victim}"]`);
  await until("the confirm dialog", async () => browser.dialogs.length > 0, 10_000);
  check(browser.dialogs[0].type === "confirm" && browser.dialogs[0].message.includes(victim), "a confirm naming the session");
  await until("the admin API to forget the session", async () =>
    (await adminGet(`/admin/v1/sessions/${encodeURIComponent(victim)}`)).status === 404, 15_000);
  check(true, "GET /admin/v1/sessions/{id} is 404 after terminate");
  const client = load.clients.find((c) => c.session === victim);
  await until("its client to be told 404", async () => client.ended, 15_000);
  check(client.ended, "the terminated session's client got 404");
  await until("the row to leave the page", async () =>
    !(await browser.eval(`!!document.querySelector('tr[data-session-id="${victim}"]')`)), 15_000);
  check(true, "the terminated session left the top sessions");
  const others = load.clients.filter((c) => c !== client);
  check(others.every((c) => !c.ended), "the other sessions live on");
  // Ending a session cancels the call it had in flight (-32800), if any;
  // no other session's call is cancelled.
  const cancelledElsewhere = load.clients.concat(otherLoad ? otherLoad.clients : [])
    .filter((c) => c !== client && c.cancelled.length);
  check(cancelledElsewhere.length === 0 && client.cancelled.length <= 1,
    `only the terminated session's call in flight was cancelled (${client.cancelled.length} of it, ${cancelledElsewhere.length} elsewhere)`);

  // A changed tool definition: its diff on the page, approved from it.
  if (opt.pinned) {
    const [upstream, tool] = opt.pinned.split("/");
    const row = `#pins tr[data-tool="${tool}"]`;
    const diff = await until(`the diff of ${opt.pinned}`, async () =>
      browser.eval(`document.querySelector('${row} [data-testid="diff"]')?.textContent`), 30_000);
    check(diff.includes('-  "description": "fixture tool echo"') && diff.includes('+  "description": ') &&
          diff.includes(".aws/credentials"), `the page shows the diff of ${opt.pinned}`);
    await browser.click(`${row} [data-testid="approve"]`);
    await until(`${opt.pinned} to be approved`, async () => {
      const { body } = await adminGet(`/admin/v1/upstreams/${upstream}/pins`);
      return body?.pins?.find((p) => p.tool === tool)?.state === "approved";
    }, 15_000);
    check(true, `${opt.pinned} approved from the page`);
  }

  // The screenshot.
  // Let the toast and a few more polls show (longer for a picture for the docs).
  await new Promise((r) => setTimeout(r, 1000 * Number(opt.settle)));
  const png = await browser.screenshot();
  await writeFile(opt.screenshot, png);
  const signature = png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const width = png.readUInt32BE(16), height = png.readUInt32BE(20);
  check(signature && png.length > 20_000 && width >= 1000 && height >= 800,
    `screenshot ${opt.screenshot}: PNG ${width}x${height}, ${png.length} bytes`);

  check(pageErrors.length === 0, `no errors in the page${pageErrors.length ? `: ${pageErrors.join("; ")}` : ""}`);

  // A wrong token: the page says so instead of showing stale numbers.
  await browser.goto(`${opt.admin}/dashboard#token=not-the-token`);
  await until("the error banner", async () => (await browser.text("error-banner"))?.includes("401"), 15_000);
  check(true, "a wrong token shows the error banner (401)");

  const errors = load.clients.concat(otherLoad ? otherLoad.clients : []).flatMap((c) => c.errors);
  check(errors.length === 0, `the load saw no errors${errors.length ? `: ${errors.slice(0, 3).join("; ")}` : ""}`);
  log(`PASS (${load.calls()} calls)`);
} catch (e) {
  console.error(`[dashboard-e2e] FAIL ${e.message}`);
  process.exitCode = 1;
} finally {
  await load.stop().catch(() => {});
  await otherLoad?.stop().catch(() => {});
  await browser?.close();
}
