// ts-echo: a reference MCP server for Switchboard's load generator, built on
// the official TypeScript SDK (@modelcontextprotocol/sdk 1.x).
//
// One tool, `echo` ({"message": string} -> one text content equal to the
// message), served over Streamable HTTP at /mcp in stateful mode: one
// StreamableHTTPServerTransport + McpServer per session, sessions keyed by the
// Mcp-Session-Id that sessionIdGenerator hands out. The HTTP app is the SDK's
// own createMcpExpressApp() (Express 5 + JSON body parser + localhost Host
// header validation). Every SDK setting is its default.
//
// Usage: node server.mjs [PORT]   (or TS_ECHO_PORT; default 8932). Binds 127.0.0.1 only.

import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';

const HOST = '127.0.0.1';
const PORT = Number(process.argv[2] ?? process.env.TS_ECHO_PORT ?? 8932);

function newServer() {
  const server = new McpServer({ name: 'ts-echo', version: '0.0.0' });
  server.registerTool(
    'echo',
    {
      description: 'Returns the message unchanged as one text content.',
      inputSchema: { message: z.string().describe('Text to send back unchanged.') },
    },
    async ({ message }) => ({ content: [{ type: 'text', text: message }] }),
  );
  return server;
}

/** @type {Map<string, StreamableHTTPServerTransport>} */
const transports = new Map();

function jsonRpcError(res, status, code, message) {
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

const app = createMcpExpressApp({ host: HOST });

app.post('/mcp', async (req, res) => {
  try {
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const transport = transports.get(sessionId);
      if (!transport) return jsonRpcError(res, 404, -32001, 'Session not found');
      return await transport.handleRequest(req, res, req.body);
    }
    if (!isInitializeRequest(req.body)) {
      return jsonRpcError(res, 400, -32000, 'Bad Request: no session id and not an initialize request');
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        transports.set(id, transport);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) transports.delete(transport.sessionId);
    };
    await newServer().connect(transport);
    await transport.handleRequest(req, res, req.body);
  } catch (err) {
    console.error('ts-echo: error handling POST /mcp:', err);
    if (!res.headersSent) jsonRpcError(res, 500, -32603, 'Internal server error');
  }
});

// GET (standalone SSE stream) and DELETE (end session) go to the session's transport.
const bySession = async (req, res) => {
  const sessionId = req.headers['mcp-session-id'];
  const transport = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
  if (!transport) return jsonRpcError(res, 400, -32000, 'Bad Request: missing or unknown session id');
  try {
    await transport.handleRequest(req, res);
  } catch (err) {
    console.error(`ts-echo: error handling ${req.method} /mcp:`, err);
    if (!res.headersSent) jsonRpcError(res, 500, -32603, 'Internal server error');
  }
};
app.get('/mcp', bySession);
app.delete('/mcp', bySession);

// Node's http server sets TCP_NODELAY on accepted sockets by default (noDelay: true).
const httpServer = app.listen(PORT, HOST, (err) => {
  if (err) {
    console.error('ts-echo: listen failed:', err);
    process.exit(1);
  }
  console.error(`ts-echo: listening on http://${HOST}:${PORT}/mcp (node ${process.version})`);
});
httpServer.on('error', (err) => {
  console.error('ts-echo: server error:', err);
  process.exit(1);
});

async function shutdown() {
  for (const t of transports.values()) await t.close().catch(() => {});
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
