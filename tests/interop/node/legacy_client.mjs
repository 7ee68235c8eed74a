// Interop check: the official TypeScript MCP SDK (@modelcontextprotocol/sdk
// 1.x) against a server, over session-based Streamable HTTP (2025-11-25).
//
//   node tests/interop/node/legacy_client.mjs URL
//
// Prints one line per check, "PASS <check> ..." or "FAIL <check>: <why>", and
// exits non-zero if any check failed. Runs on Node >= 18 (the SDK's engines).
//
// SDK notes (1.32.2):
// - progress: `onprogress` in the request options of client.callTool();
// - elicitation: declare `capabilities: {elicitation: {}}` and register
//   client.setRequestHandler(ElicitRequestSchema, ...);
// - transport.terminateSession() sends DELETE but treats 405 as success, so
//   we wrap fetch to see the real DELETE status.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const PROTOCOL_VERSION = "2025-11-25";
const ELICIT_ANSWER = { username: "u", email: "e@x.org" };

const url = process.argv[2];
if (!url) {
  console.error("usage: node legacy_client.mjs URL");
  process.exit(2);
}

let failed = 0;
function check(name, cond, detail = "") {
  if (cond) console.log(`PASS ${name}${detail ? ` (${detail})` : ""}`);
  else {
    failed++;
    console.log(`FAIL ${name}: ${detail || "check failed"}`);
  }
  return cond;
}

const textOf = (result) =>
  (result.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("");

// Record the status of the DELETE that terminateSession() sends.
let deleteStatus;
const recordingFetch = async (input, init) => {
  const response = await fetch(input, init);
  if ((init?.method ?? "GET").toUpperCase() === "DELETE") deleteStatus = response.status;
  return response;
};

const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: recordingFetch });
const client = new Client(
  { name: "switchboard-interop-node", version: "0.0.0" },
  { capabilities: { elicitation: {} } },
);

const elicitations = [];
client.setRequestHandler(ElicitRequestSchema, async (request) => {
  elicitations.push(request.params);
  return { action: "accept", content: { ...ELICIT_ANSWER } };
});

let sessionId;
try {
  // initialize + notifications/initialized
  await client.connect(transport);
  sessionId = transport.sessionId;
  check(
    "initialize",
    transport.protocolVersion === PROTOCOL_VERSION && sessionId !== undefined,
    `protocol ${transport.protocolVersion}, session id ${JSON.stringify(sessionId)}`,
  );

  // tools/list (follow pagination)
  const names = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : undefined);
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor);
  const missing = ["echo", "test_simple_text"].filter((n) => !names.includes(n));
  check(
    "tools/list",
    missing.length === 0,
    missing.length === 0 ? `${names.length} tools` : `missing ${missing} in ${names}`,
  );

  // tools/call echo
  let result = await client.callTool({ name: "echo", arguments: { message: "hi" } });
  check(
    "call echo",
    !result.isError && textOf(result) === "hi",
    `got ${JSON.stringify(textOf(result))}, isError=${result.isError ?? false}`,
  );

  // tools/call with progress notifications
  const progress = [];
  result = await client.callTool({ name: "test_tool_with_progress", arguments: {} }, undefined, {
    onprogress: (p) => progress.push(p),
  });
  const values = progress.map((p) => p.progress);
  check(
    "call test_tool_with_progress",
    !result.isError && progress.length >= 3 && values.every((v, i) => i === 0 || values[i - 1] <= v),
    `${progress.length} progress notifications [${values}], isError=${result.isError ?? false}`,
  );

  // tools/call that elicits user input
  result = await client.callTool({
    name: "test_elicitation",
    arguments: { message: "Please provide your information" },
  });
  const text = textOf(result);
  check(
    "call test_elicitation",
    elicitations.length === 1 && !result.isError && text.includes("accept") && text.includes("e@x.org"),
    `${elicitations.length} elicitation request(s), result ${JSON.stringify(text)}`,
  );

  // DELETE the session
  await transport.terminateSession();
  check(
    "terminate (DELETE)",
    deleteStatus >= 200 && deleteStatus < 300,
    `HTTP ${deleteStatus}`,
  );
} catch (e) {
  check("session", false, `${e?.name ?? "Error"}: ${e?.message ?? e}`);
} finally {
  await client.close().catch(() => {});
}

// The old session id must now be dead.
if (sessionId !== undefined && deleteStatus !== undefined) {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "Mcp-Session-Id": sessionId,
        "MCP-Protocol-Version": PROTOCOL_VERSION,
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 99, method: "tools/list", params: {} }),
    });
    await response.body?.cancel();
    check("POST after termination", response.status === 404, `HTTP ${response.status}`);
  } catch (e) {
    check("POST after termination", false, `${e?.name ?? "Error"}: ${e?.message ?? e}`);
  }
} else {
  check("POST after termination", false, "no session was established or terminated");
}

process.exit(failed ? 1 : 0);
