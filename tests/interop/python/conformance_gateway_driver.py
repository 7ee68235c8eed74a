#!/usr/bin/env python3
"""The client under test of the conformance suite's client scenarios that
are not about authorization: Switchboard's gateway, the MCP client of its
HTTP upstreams, driven as its users would drive it.

    conformance client --scenario tools_call --spec-version REV \\
        --command ".tools/venv/bin/python tests/interop/python/conformance_gateway_driver.py"

The suite appends its MCP server's URL to the command and names the
scenario in MCP_CONFORMANCE_SCENARIO, the revision in
MCP_CONFORMANCE_PROTOCOL_VERSION and, for some, what to call in
MCP_CONFORMANCE_CONTEXT. This script:

  1. starts a Switchboard node (SB_CONFORMANCE_BIN, default
     target/debug/switchboard) on a free loopback port whose one HTTP
     upstream is the suite's server, spoken to in the scenario's era
     (`protocol = "session"` up to 2025-11-25, `"stateless"` for
     2026-07-28), its tools under the prefix `suite__`;
  2. connects to the node with the official Python SDK in the same era and
     makes the calls the scenario is about, through Switchboard: lists the
     tools, calls the ones the scenario names (from its context, or each
     listed tool the scenario's server offers), round-trips a schema where
     the scenario asks, and lists resources and prompts; an elicitation
     the upstream sends reaches this client, which accepts it with nothing
     filled in (the gateway applies the schema's defaults, SEP-1034).

The `auth/*` scenarios are handed to conformance_auth_driver.py, so one
command serves a whole requirement set (`conformance client
--requirements REV`). The suite's checks judge what reached its server,
that is, what Switchboard sent. Exit status 0 when the calls went through (scenarios
where the client must refuse something, 0 as long as the driver ran);
what happened goes to stderr with Switchboard's log.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2

from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conformance_auth_driver  # noqa: E402
from conformance_auth_driver import Node, leaf, log  # noqa: E402

LIMIT = 20
PREFIX = "suite__"


def config(server_url: str, key_sha256: str, revision: str) -> str:
    """The node's configuration: the suite's server as its one upstream."""
    protocol = "session" if revision <= "2025-11-25" else "stateless"
    return "\n".join([
        "[auth]",
        'anonymous = "off"',
        "",
        "[[tenants]]",
        'id = "acme"',
        f'api_keys = [{{ id = "alice", sha256 = "{key_sha256}" }}]',
        "",
        "[[upstreams]]",
        'name = "suite"',
        'kind = "http"',
        f"url = {json.dumps(server_url)}",
        f'prefix = "{PREFIX}"',
        f'protocol = "{protocol}"',
        "call_timeout_secs = 15",
        "",
    ])


class GatewayNode(Node):
    def __init__(self, server_url: str, revision: str) -> None:
        super().__init__(server_url, revision, {})
        sha = hashlib.sha256(self.key.encode()).hexdigest()
        self.config.write_text(config(server_url, sha, revision))


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def drive(node: GatewayNode, scenario: str, revision: str,
                context: dict[str, Any]) -> tuple[bool, str]:
    mode = "legacy" if revision <= "2025-11-25" else "2026-07-28"
    seen: list[str] = []

    async def on_elicit(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        # Accept with nothing filled in: defaults are the client's to apply.
        seen.append(f"elicitation: {getattr(params, 'message', '')!r}")
        return types.ElicitResult(action="accept", content={})

    headers = {"Authorization": f"Bearer {node.key}"}
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(LIMIT * 2, read=LIMIT * 2),
                                  headers=headers) as http:
        transport = streamable_http_client(node.url, http_client=http, terminate_on_close=True)
        async with Client(transport, mode=mode, read_timeout_seconds=LIMIT * 2, cache=None,
                          elicitation_callback=on_elicit) as client:
            tools = (await client.list_tools()).tools
            names = [t.name for t in tools]
            seen.append(f"tools/list: {names}")
            ok = True
            for name, arguments in calls(scenario, tools, context):
                try:
                    result = await client.call_tool(name, arguments)
                    seen.append(f"tools/call {name}: isError={result.is_error} {text_of(result)[:200]!r}")
                    ok = ok and not result.is_error
                except Exception as e:  # noqa: BLE001 - recorded, the suite judges
                    e = leaf(e)
                    seen.append(f"tools/call {name}: {type(e).__name__}: {e}")
                    ok = False
            if scenario in ("http-standard-headers",):
                await exercise_lists(client, seen)
            return ok, "; ".join(seen)


def calls(scenario: str, tools: list[types.Tool],
          context: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """What the scenario is about: the tool calls to make, by their names
    at the gateway."""
    by_name = {t.name.removeprefix(PREFIX): t for t in tools}
    if context.get("toolCalls"):
        return [(PREFIX + c["name"], c.get("arguments") or {})
                for c in context["toolCalls"] if c["name"] in by_name]
    if scenario == "json-schema-2020-12-preservation":
        focal = next((t for n, t in by_name.items() if n != "json_schema_echo"), None)
        if focal is None or "json_schema_echo" not in by_name:
            return []
        return [(PREFIX + "json_schema_echo", {"schema": focal.input_schema})]
    if scenario == "tools_call":
        return [(PREFIX + "add_numbers", {"a": 5, "b": 3})] if "add_numbers" in by_name else []
    if scenario in ("initialize", "json-schema-ref-no-deref", "request-metadata"):
        return []
    return [(t.name, {}) for t in tools]


async def exercise_lists(client: Client, seen: list[str]) -> None:
    """Resources and prompts, read and got, where the server has any."""
    try:
        resources = (await client.list_resources()).resources
        seen.append(f"resources/list: {[r.uri for r in resources]}")
        for r in resources[:1]:
            await client.read_resource(r.uri)
        prompts = (await client.list_prompts()).prompts
        seen.append(f"prompts/list: {[p.name for p in prompts]}")
        for p in prompts[:1]:
            await client.get_prompt(p.name, {})
    except Exception as e:  # noqa: BLE001 - recorded, the suite judges
        seen.append(f"lists: {type(leaf(e)).__name__}: {leaf(e)}")


async def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    server_url = sys.argv[-1]
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    if scenario.startswith("auth/"):
        # The upstream's sign-in: conformance_auth_driver.py's part.
        return await conformance_auth_driver.main()
    revision = os.environ.get("MCP_CONFORMANCE_PROTOCOL_VERSION", "2025-11-25")
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    log(f"scenario {scenario} at {revision}, server {server_url}, context {context}")
    node = GatewayNode(server_url, revision)
    try:
        node.start()
        try:
            with anyio.fail_after(LIMIT * 3):
                ok, what = await drive(node, scenario, revision, context)
        except BaseException as e:  # noqa: BLE001 - the SDK wraps errors in task groups
            e = leaf(e)
            ok, what = False, f"{type(e).__name__}: {e}"
        log(f"outcome: {'succeeded' if ok else 'failed'}: {what}")
        return 0 if ok else 1
    finally:
        node.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
