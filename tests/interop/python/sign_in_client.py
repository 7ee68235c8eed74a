#!/usr/bin/env python3
"""Interop check: the official Python MCP SDK (mcp 2.x) through OAuth to an
upstream by the user's own sign-in (`[upstreams.auth] grant =
"authorization_code"`), on two Switchboard nodes sharing one vault.

    .tools/venv/bin/python tests/interop/python/sign_in_client.py URL_A URL_B alice=KEY bob=KEY carol=KEY dave=KEY

URL_A and URL_B are the /mcp endpoints of two nodes on one Redis; each KEY
is an API key of tenant acme whose id is the user's name (who signs in at
the authorization server under that name). The upstream `web`
(prefix `web__`) is a Switchboard that accepts only tokens the test
authorization server (oauth_server.py) issued for it; its `whoami` names
the user the token was issued to.

Checks, in the legacy era (session; alice and bob) and in the stateless
2026-07-28 era (carol and dave):
  - the first user's client has an elicitation handler (so it declares URL
    elicitation): its first call on node B is answered by an
    `elicitation/create` in URL mode naming the connect page (in the
    stateless era, an `input_required` round the SDK hands to the same
    handler); the handler follows the URL with an HTTP client as a browser
    would, posts the authorization server's login form, lands on the
    callback on node A ("Connected") and accepts; the call then succeeds
    and the upstream saw that user — the grant made through node A served
    on node B — and so does a call on node A;
  - the second user's client has no elicitation handler: its first call
    fails with the SDK's UrlElicitationRequiredError (-32042) carrying the
    connect page's URL (another one: their own); after signing in there,
    the retried call succeeds as that user.

Prints one line per check, "PASS <check> ..." or "FAIL <check>: <why>", and
exits non-zero if any check failed.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import anyio
import httpx2

from mcp import Client, UrlElicitationRequiredError, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from checks import Checks

LIMIT = 30


async def handle_url_elicitation(url: str, user: str) -> str:
    """What a user does with a URL elicitation: open it, sign in, come
    back. The text of the last page."""
    async with httpx2.AsyncClient(follow_redirects=True, timeout=LIMIT) as browser:
        page = await browser.get(url)
        if "<form" in page.text:
            page = await browser.post(
                str(page.url), data={"username": user, "password": f"{user}-pw"}
            )
        return page.text


async def whoami(url: str, key: str, mode: str, on_elicit: Any = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(LIMIT, read=LIMIT), headers=headers) as http:
        transport = streamable_http_client(url, http_client=http, terminate_on_close=True)
        async with Client(transport, mode=mode, read_timeout_seconds=LIMIT, cache=None,
                          elicitation_callback=on_elicit) as client:
            result = await client.call_tool("web__whoami", {})
            return result.structured_content or {}


def leaf(e: BaseException) -> BaseException:
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return e


async def asked(url: str, key: str, mode: str) -> UrlElicitationRequiredError | str:
    """The URL elicitation a call raises, or what happened instead."""
    try:
        who = await whoami(url, key, mode)
        return f"no error: {who}"
    except BaseException as e:  # noqa: BLE001 - the SDK wraps errors in task groups
        e = leaf(e)
        if isinstance(e, MCPError) and e.error.code == -32042:
            return UrlElicitationRequiredError.from_error(e.error)
        return f"{type(e).__name__}: {e}"


async def run(url_a: str, url_b: str, keys: dict[str, str], first: str, second: str,
              mode: str, checks: Checks) -> None:
    tag = f"({mode})"
    with anyio.fail_after(LIMIT * 3):
        # The first user's client handles URL elicitations itself.
        seen: list[Any] = []
        pages: list[str] = []

        async def on_elicit(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
            seen.append(params)
            if getattr(params, "mode", None) == "url":
                pages.append(await handle_url_elicitation(params.url, first))
                return types.ElicitResult(action="accept")
            return types.ElicitResult(action="decline")

        try:
            who = await whoami(url_b, keys[first], mode, on_elicit)
        except BaseException as e:  # noqa: BLE001
            who = {"error": f"{type(leaf(e)).__name__}: {leaf(e)}"}
        url_mode = [p for p in seen if getattr(p, "mode", None) == "url"]
        checks.ok(f"{first}'s first call asks them, by a URL elicitation, to sign in {tag}",
                  len(url_mode) == 1 and "/connect?state=" in url_mode[0].url
                  and bool(url_mode[0].elicitation_id), str(seen))
        checks.ok(f"the elicitation handler signs {first} in {tag}",
                  len(pages) == 1 and "Connected" in pages[0], str(pages)[:200])
        checks.ok(f"the call on node B then acts as {first} {tag}", who.get("subject") == first, str(who))
        who = await whoami(url_a, keys[first], mode)
        checks.ok(f"and a call on node A, which made the grant {tag}", who.get("subject") == first, str(who))

        # The second user's client has no elicitation handler: the error.
        need = await asked(url_a, keys[second], mode)
        if not checks.ok(f"{second}'s client without a handler gets UrlElicitationRequiredError {tag}",
                         isinstance(need, UrlElicitationRequiredError), str(need)):
            return
        elicitation = need.elicitations[0]
        checks.ok(f"its URL is {second}'s own connect page {tag}",
                  elicitation.mode == "url" and "/connect?state=" in elicitation.url
                  and all(elicitation.url != p.url for p in url_mode), elicitation.url)
        page = await handle_url_elicitation(elicitation.url, second)
        checks.ok(f"{second} signs in {tag}", "Connected" in page, page[:200])
        who = await whoami(url_b, keys[second], mode)
        checks.ok(f"the retried call acts as {second} {tag}", who.get("subject") == second, str(who))


async def main() -> int:
    if len(sys.argv) != 7:
        print(__doc__)
        return 2
    url_a, url_b = sys.argv[1:3]
    keys = dict(arg.split("=", 1) for arg in sys.argv[3:])
    checks = Checks()
    # A grant is the user's whatever era asks for it: each era its users.
    await run(url_a, url_b, keys, "alice", "bob", "legacy", checks)
    await run(url_a, url_b, keys, "carol", "dave", "2026-07-28", checks)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
