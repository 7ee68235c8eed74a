// Interop check: the official TypeScript MCP SDK v2 client
// (@modelcontextprotocol/client 2.x) against a dual-era server.
//
//   node tests/interop/node/modern_client.mjs URL MODE      MODE: legacy | auto
//
// legacy: the 2025 initialize handshake, session-based Streamable HTTP.
// auto:   `server/discover` probe; against a dual-era server it must settle on
//         the modern era (2026-07-28, stateless, per-request `_meta`).
//
// Prints one line per check, "PASS <check> ..." or "FAIL <check>: <why>", and
// exits non-zero if any check failed. The SDK's engines field says Node >= 20.
//
// SDK notes (2.4.0):
// - era selection: `new Client(info, {versionNegotiation: {mode}})`, mode
//   'legacy' (the default!) | 'auto' | {pin: '2026-07-28'};
//   `client.getProtocolEra()` is 'legacy' | 'modern',
//   `client.getNegotiatedProtocolVersion()` the version.
// - handlers take method strings: setRequestHandler('elicitation/create', fn),
//   setNotificationHandler('notifications/tools/list_changed', fn).
// - input_required: with the default `inputRequired: {autoFulfill: true}`,
//   callTool() fulfils each `inputRequests` entry through the SAME handler
//   registered for 'elicitation/create' (sampling, roots likewise), then
//   retries with a fresh id, `inputResponses` and the echoed `requestState`,
//   up to `maxRounds` (10); callTool() just returns the final result.
//   `autoFulfill: false` + `{allowInputRequired: true}` is the manual path.
// - subscriptions/listen: `await client.listen({toolsListChanged: true})`
//   resolves on `notifications/subscriptions/acknowledged` with an
//   McpSubscription {honoredFilter, close(), closed}; notifications on the
//   stream go to the ordinary setNotificationHandler handlers. The listen id
//   is a string ('listen:N'). Modern era only.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const LEGACY_VERSION = "2025-11-25";
const MODERN_VERSION = "2026-07-28";
const PV_KEY = "io.modelcontextprotocol/protocolVersion";
const CAPS_KEY = "io.modelcontextprotocol/clientCapabilities";
const SUB_KEY = "io.modelcontextprotocol/subscriptionId";
const ELICIT_ANSWER = { username: "u", email: "e@x.org" };
const NAME_ANSWER = "Interop";
const MODES = ["legacy", "auto"];

const [url, mode] = process.argv.slice(2);
if (!url || !MODES.includes(mode)) {
  console.error(`usage: node modern_client.mjs URL {${MODES.join("|")}}`);
  process.exit(2);
}
const modern = mode !== "legacy";

let failed = 0;
function check(name, cond, detail = "") {
  if (cond) console.log(`PASS ${name}${detail ? ` (${detail})` : ""}`);
  else {
    failed++;
    console.log(`FAIL ${name}: ${detail || "check failed"}`);
  }
  return cond;
}
const errText = (e) => `${e?.name ?? "Error"}: ${e?.message ?? e}`;
const textOf = (result) =>
  (result?.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("");
// step NAME FN: run one group of checks; an exception fails it without
// stopping the others.
async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, errText(e));
  }
}
const withTimeout = (promise, ms, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms).unref()),
  ]);

// Record every JSON-RPC message POSTed, with the headers that tell the era.
const posted = [];
const recordingFetch = async (input, init) => {
  if ((init?.method ?? "GET").toUpperCase() === "POST" && typeof init?.body === "string") {
    const headers = new Headers(init.headers);
    try {
      posted.push({
        body: JSON.parse(init.body),
        session: headers.get("mcp-session-id"),
        version: headers.get("mcp-protocol-version"),
      });
    } catch {
      // not JSON: ignore
    }
  }
  return fetch(input, init);
};
const toolCalls = (name) =>
  posted.filter((p) => p.body.method === "tools/call" && p.body.params?.name === name).map((p) => p.body.params);

const client = new Client(
  { name: "switchboard-interop-node-v2", version: "0.0.0" },
  { capabilities: { elicitation: {} }, versionNegotiation: { mode } },
);

const elicitations = [];
client.setRequestHandler("elicitation/create", async (request) => {
  elicitations.push(request.params);
  const props = request.params?.requestedSchema?.properties ?? {};
  if ("name" in props) return { action: "accept", content: { name: NAME_ANSWER } };
  return { action: "accept", content: { ...ELICIT_ANSWER } };
});

const toolsChanged = [];
let onToolsChanged;
client.setNotificationHandler("notifications/tools/list_changed", (notification) => {
  toolsChanged.push(notification);
  onToolsChanged?.();
});

const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: recordingFetch });
try {
  await client.connect(transport);
  const era = client.getProtocolEra();
  const version = client.getNegotiatedProtocolVersion();
  console.log(`INFO mode=${mode} getProtocolEra()=${era} protocolVersion=${version} sessionId=${transport.sessionId}`);
  const want = modern ? ["modern", MODERN_VERSION] : ["legacy", LEGACY_VERSION];
  check(
    `negotiate (${mode})`,
    era === want[0] && version === want[1],
    `era ${era}, protocol ${version}; want era ${want[0]}, protocol ${want[1]}`,
  );
  const methods = posted.map((p) => p.body.method);
  check(
    modern ? "auto probe" : "initialize",
    modern ? methods.includes("server/discover") && !methods.includes("initialize") : methods[0] === "initialize",
    `connect sent ${JSON.stringify(methods)}`,
  );

  // tools/list (no cursor: the v2 client walks every page itself)
  await step("tools/list", async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    const missing = ["echo", "test_elicitation"].filter((n) => !names.includes(n));
    check(
      "tools/list",
      missing.length === 0,
      missing.length === 0 ? `${names.length} tools` : `missing ${missing} in ${names}`,
    );
  });

  await step("call echo", async () => {
    const result = await client.callTool({ name: "echo", arguments: { message: "hi" } });
    check(
      "call echo",
      !result.isError && textOf(result) === "hi",
      `got ${JSON.stringify(textOf(result))}, isError=${result.isError ?? false}`,
    );
  });

  // User input: in the legacy era the server sends elicitation/create on the
  // POST's SSE stream; in the modern era tools/call answers input_required.
  await step("call test_elicitation", async () => {
    const before = elicitations.length;
    const result = await client.callTool({
      name: "test_elicitation",
      arguments: { message: "Please provide your information" },
    });
    const text = textOf(result);
    const calls = toolCalls("test_elicitation");
    check(
      "call test_elicitation",
      elicitations.length - before === 1 && !result.isError && text.includes("accept") && text.includes("e@x.org"),
      `${elicitations.length - before} elicitation(s), ${calls.length} tools/call request(s), result ${JSON.stringify(text)}`,
    );
  });

  if (modern) {
    // The conformance fixture for input_required results (key user_name).
    await step("input_required round trip", async () => {
      const before = elicitations.length;
      const result = await client.callTool({ name: "test_input_required_result_elicitation", arguments: {} });
      const text = textOf(result);
      const calls = toolCalls("test_input_required_result_elicitation");
      const retry = calls.at(-1) ?? {};
      check(
        "input_required round trip",
        elicitations.length - before === 1 &&
          calls.length === 2 &&
          !("inputResponses" in calls[0]) &&
          retry.inputResponses?.user_name?.action === "accept" &&
          !result.isError &&
          text.includes(NAME_ANSWER),
        `${elicitations.length - before} elicitation(s), ${calls.length} tools/call request(s), ` +
          `retry inputResponses ${JSON.stringify(retry.inputResponses)}, result ${JSON.stringify(text)}`,
      );
    });

    // subscriptions/listen, then a tool that changes the tool list.
    let sub;
    await step("subscriptions/listen", async () => {
      sub = await withTimeout(client.listen({ toolsListChanged: true }), 15000, "subscriptions/listen ack");
      check(
        "subscriptions/listen ack",
        sub.honoredFilter?.toolsListChanged === true,
        `honoredFilter ${JSON.stringify(sub.honoredFilter)}`,
      );
      const changed = new Promise((resolve) => {
        onToolsChanged = resolve;
      });
      toolsChanged.length = 0;
      const result = await client.callTool({ name: "test_trigger_tool_change", arguments: {} });
      await withTimeout(changed, 10000, "notifications/tools/list_changed");
      // Every notification on the stream must carry the listen request's id.
      const listenId = posted.find((p) => p.body.method === "subscriptions/listen")?.body.id;
      const subId = toolsChanged[0]?.params?._meta?.[SUB_KEY];
      check(
        "tools/list_changed on listen stream",
        toolsChanged.length >= 1 && subId !== undefined && subId === listenId && !result.isError,
        `${toolsChanged.length} notification(s), subscriptionId ${JSON.stringify(subId)} ` +
          `(listen id ${JSON.stringify(listenId)}), trigger isError=${result.isError ?? false}`,
      );
      await sub.close();
      const closed = await withTimeout(sub.closed, 5000, "subscription close");
      check("subscriptions/listen close", closed === "local", `closed ${closed}`);
    });
    await sub?.close().catch(() => {});
  }

  // The wire: which era did each POSTed request speak?
  const requests = posted.filter((p) => "id" in p.body && "method" in p.body);
  if (modern) {
    const bad = requests
      .filter(
        (p) =>
          p.session !== null ||
          p.version !== MODERN_VERSION ||
          p.body.params?._meta?.[PV_KEY] !== MODERN_VERSION ||
          typeof p.body.params?._meta?.[CAPS_KEY] !== "object",
      )
      .map((p) => p.body.method);
    check(
      "modern wire (_meta, no session)",
      requests.length > 0 && bad.length === 0,
      bad.length === 0 ? `${requests.length} requests` : `non-modern requests: ${bad}`,
    );
  } else {
    const bad = requests
      .slice(1)
      .filter((p) => p.session === null || p.version !== LEGACY_VERSION)
      .map((p) => p.body.method);
    check(
      "legacy wire (session, header)",
      requests.length > 1 && bad.length === 0,
      bad.length === 0 ? `${requests.length} requests` : `requests without session/version: ${bad}`,
    );
  }
  console.log(`INFO getProtocolEra()=${client.getProtocolEra()}`);
} catch (e) {
  check("session", false, errText(e));
} finally {
  if (!modern) await transport.terminateSession().catch(() => {});
  await client.close().catch(() => {});
}

process.exit(failed ? 1 : 0);
