#!/usr/bin/env python3
"""A Streamable HTTP MCP server written with the official Python SDK (mcp 2.x,
`MCPServer`), used as a foreign HTTP upstream behind the gateway
(scripts/test.sh, gateway_interop; tools reach clients as py__<name>).

    .tools/venv/bin/python tests/interop/python/http_upstream_server.py PORT

Serves http://127.0.0.1:PORT/mcp with stateful sessions and SSE responses
(not stateless, not JSON-only), so progress notifications and elicitation
can flow back on the request's stream. Runs until killed.

Tools:
- `py_echo(message)` answers "py: <message>".
- `py_progress(steps)` sends one notifications/progress per step (when the
  call carries a progressToken), then answers "done".
- `py_ask()` sends elicitation/create asking for a `name` string and
  answers "name: <name>" (or "action: <decline|cancel>").
"""

from __future__ import annotations

import sys

import anyio
from pydantic import BaseModel, Field

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("switchboard-interop-py-upstream")


class AskName(BaseModel):
    name: str = Field(description="Your name")


@server.tool()
def py_echo(message: str) -> str:
    """Echo the message back, prefixed with "py: "."""
    return f"py: {message}"


@server.tool()
async def py_progress(steps: int, ctx: Context) -> str:
    """Report `steps` progress notifications, then answer "done"."""
    for i in range(1, steps + 1):
        await ctx.report_progress(i, steps, f"step {i}/{steps}")
        await anyio.sleep(0.05)
    return "done"


@server.tool()
async def py_ask(ctx: Context) -> str:
    """Ask the client for a name (elicitation) and answer with it."""
    result = await ctx.elicit("What is your name?", AskName)
    if result.action == "accept":
        return f"name: {result.data.name}"
    return f"action: {result.action}"


def main() -> int:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print(f"usage: {sys.argv[0]} PORT", file=sys.stderr)
        return 2
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]), streamable_http_path="/mcp")
    return 0


if __name__ == "__main__":
    sys.exit(main())
