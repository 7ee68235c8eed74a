#!/usr/bin/env python3
"""The conformance suite's server fixtures, written with the official Python
SDK (mcp 2.x, `MCPServer`), served over Streamable HTTP: a foreign upstream
for running the 2026-07-28 conformance requirements *through* Switchboard's
gateway (scripts/test.sh, gateway_conformance_python).

    .tools/venv/bin/python tests/interop/python/conformance_upstream_server.py PORT

Serves http://127.0.0.1:PORT/mcp (sessions for 2025-11-25 clients, stateless
2026-07-28 requests beside them). The names are the ones the suite calls
(its "Server Implementation Requirements"); the behaviour is the SDK's own:

- input requests the 2026-07-28 way, with the SDK's `InputRequiredResult`
  (`ctx.input_responses`, `ctx.request_state`, sealed by
  `RequestStateSecurity`), and through the SDK's resolver API (`Resolve`
  with `ListRoots` / `Elicit`), which asks mid-call on a session and with
  an `InputRequiredResult` on 2026-07-28. The SDK sends `roots/list`
  without `params`: the request the gateway must pass on as it is.
- progress and log notifications, list-changed hooks
  (`test_trigger_tool_change`, `test_trigger_prompt_change`), the
  `-32021` capability error (`test_missing_capability`), a tool with an
  `x-mcp-header` parameter, resources, a resource template, prompts and
  completion.

Runs until killed.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Annotated

import anyio
from pydantic import BaseModel, Field

from mcp.server.mcpserver import Context, Elicit, ListRoots, MCPServer, RequestStateSecurity, Resolve
from mcp.server.mcpserver.prompts.base import Prompt, UserMessage
from mcp.shared.exceptions import MCPError
from mcp.types import (
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    AudioContent,
    Completion,
    CompletionArgument,
    CompletionContext,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    EmbeddedResource,
    ImageContent,
    InputRequest,
    InputRequiredResult,
    ListRootsRequest,
    ListRootsResult,
    PromptReference,
    ResourceTemplateReference,
    SamplingMessage,
    TextContent,
    TextResourceContents,
)

# A 1x1 PNG and a tiny WAV, the payloads of the media fixtures.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

# The key sealing request states: a fixed test key (at least 32 bytes), so
# a state survives between the SDK's workers; never a real secret.
STATE_KEY = b"switchboard-interop-conformance-upstream-state-key"

server = MCPServer(
    name="switchboard-interop-conformance-upstream",
    version="1.0.0",
    request_state_security=RequestStateSecurity(keys=[STATE_KEY]),
)


def text(t: str) -> TextContent:
    return TextContent(type="text", text=t)


def ask_form(message: str, field: str, kind: str = "string") -> ElicitRequest:
    """A form elicitation asking for one required field."""
    schema = {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}
    return ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=schema))


def ask_model(prompt: str, max_tokens: int) -> CreateMessageRequest:
    message = SamplingMessage(role="user", content=text(prompt))
    return CreateMessageRequest(params=CreateMessageRequestParams(messages=[message], max_tokens=max_tokens))


def answered(ctx: Context, *keys: str) -> bool:
    """Whether the retry carries an answer under every one of `keys`."""
    responses = ctx.input_responses or {}
    return all(k in responses for k in keys)


# --- content ---------------------------------------------------------------


@server.tool()
def test_simple_text() -> str:
    """Answers with one text block."""
    return "This is a simple text response for testing."


@server.tool()
def test_image_content() -> list[ImageContent]:
    """Answers with one PNG image."""
    return [ImageContent(type="image", data=PNG, mime_type="image/png")]


@server.tool()
def test_audio_content() -> list[AudioContent]:
    """Answers with one WAV clip."""
    return [AudioContent(type="audio", data=WAV, mime_type="audio/wav")]


def embedded(uri: str, body: str, mime: str = "text/plain") -> EmbeddedResource:
    return EmbeddedResource(type="resource", resource=TextResourceContents(uri=uri, mime_type=mime, text=body))


@server.tool()
def test_embedded_resource() -> list[EmbeddedResource]:
    """Answers with one embedded text resource."""
    return [embedded("test://embedded-resource", "This is an embedded resource content.")]


@server.tool()
def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
    """Answers with text, an image and an embedded resource."""
    return [
        text("Multiple content types test:"),
        ImageContent(type="image", data=PNG, mime_type="image/png"),
        embedded("test://mixed-content-resource", '{"test": "data", "value": 123}', "application/json"),
    ]


@server.tool()
def test_error_handling() -> str:
    """Always fails (a tool error, isError true)."""
    raise RuntimeError("This tool intentionally returns an error for testing")


# --- notifications ---------------------------------------------------------


@server.tool()
async def test_tool_with_progress(ctx: Context) -> str:
    """Reports progress 0, 50 and 100 of 100."""
    for done in (0, 50, 100):
        await ctx.report_progress(progress=done, total=100, message=f"{done} of 100")
        await anyio.sleep(0.02)
    return "progress reported"


async def three_log_lines(ctx: Context) -> str:
    for line in ("started", "working", "done"):
        await ctx.log("info", f"log: {line}")
        await anyio.sleep(0.02)
    return "logged three lines"


@server.tool()
async def test_tool_with_logging(ctx: Context) -> str:
    """Sends three log lines (only at the level the request asks for)."""
    return await three_log_lines(ctx)


@server.tool()
async def test_logging_tool(ctx: Context) -> str:
    """As test_tool_with_logging (the name the stateless scenario calls)."""
    return await three_log_lines(ctx)


def short_lived() -> str:
    """A tool or prompt that exists only for a moment."""
    return "short-lived"


@server.tool()
async def test_trigger_tool_change(ctx: Context) -> str:
    """Adds and removes a tool, then announces the tool list changed."""
    server.add_tool(short_lived, name="test_short_lived_tool")
    server.remove_tool("test_short_lived_tool")
    await ctx.notify_tools_changed()
    return "tools changed"


@server.tool()
async def test_trigger_prompt_change(ctx: Context) -> str:
    """Adds and removes a prompt, then announces the prompt list changed."""
    server.add_prompt(Prompt.from_function(short_lived, name="test_short_lived_prompt"))
    server.remove_prompt("test_short_lived_prompt")
    await ctx.notify_prompts_changed()
    return "prompts changed"


# --- capabilities and headers ------------------------------------------------


@server.tool()
async def test_missing_capability(ctx: Context) -> str:
    """Needs the client's sampling capability: -32021 (a JSON-RPC error) without it."""
    caps = ctx.client_capabilities
    if caps is None or caps.sampling is None:
        raise MCPError(
            code=MISSING_REQUIRED_CLIENT_CAPABILITY,
            message="test_missing_capability needs the client's sampling capability",
            data={"requiredCapabilities": {"sampling": {}}},
        )
    return "sampling declared"


@server.tool()
def test_x_mcp_header(
    region: Annotated[
        str,
        Field(description="Mirrored in the Mcp-Param-Region header", json_schema_extra={"x-mcp-header": "Region"}),
    ] = "none",
) -> str:
    """Echoes its x-mcp-header parameter."""
    return f"region={region}"


# --- input requests: the SDK's InputRequiredResult ----------------------------


@server.tool()
async def test_input_required_result_elicitation(ctx: Context) -> str | InputRequiredResult:
    """Asks for a name (key user_name); greets with it on the retry."""
    if answered(ctx, "user_name"):
        answer = ctx.input_responses["user_name"]
        content = answer.content if isinstance(answer, ElicitResult) else None
        return f"Hello, {(content or {}).get('name', 'nobody')}!"
    return InputRequiredResult(input_requests={"user_name": ask_form("What is your name?", "name")})


@server.tool()
async def test_input_required_result_sampling(ctx: Context) -> str | InputRequiredResult:
    """Asks the client's model a question (key capital_question)."""
    if answered(ctx, "capital_question"):
        answer = ctx.input_responses["capital_question"]
        said = answer.content.text if isinstance(answer, CreateMessageResult) and answer.content.type == "text" else ""
        return f"The model said: {said}"
    return InputRequiredResult(input_requests={"capital_question": ask_model("What is the capital of France?", 64)})


@server.tool()
async def test_input_required_result_request_state(ctx: Context) -> str | InputRequiredResult:
    """Asks for a confirmation with a request state; completes only when both come back."""
    if answered(ctx, "confirm") and ctx.request_state == "awaiting-confirmation":
        return "confirmed with the state sent"
    return InputRequiredResult(
        input_requests={"confirm": ask_form("Please confirm", "ok", "boolean")},
        request_state="awaiting-confirmation",
    )


@server.tool()
async def test_input_required_result_multiple_inputs(ctx: Context) -> str | InputRequiredResult:
    """Asks for a form, a sample and the roots at once (the roots request without params)."""
    keys = ("user_name", "greeting", "client_roots")
    if answered(ctx, *keys):
        return "all three answers received"
    requests: dict[str, InputRequest] = {
        "user_name": ask_form("What is your name?", "name"),
        "greeting": ask_model("Write a greeting", 32),
        "client_roots": ListRootsRequest(),
    }
    return InputRequiredResult(input_requests=requests, request_state="three-questions")


@server.tool()
async def test_input_required_result_multi_round(ctx: Context) -> str | InputRequiredResult:
    """Three rounds: a name, then a colour, then the answer; the state says which round."""
    state = json.loads(ctx.request_state) if ctx.request_state else {}
    responses = ctx.input_responses or {}

    def content(key: str) -> dict:
        answer = responses.get(key)
        return (answer.content or {}) if isinstance(answer, ElicitResult) else {}

    if state.get("round") == 2 and "colour" in responses:
        return f"{state.get('name')} likes {content('colour').get('color')}."
    if state.get("round") == 1 and "name" in responses:
        name = content("name").get("name")
        return InputRequiredResult(
            input_requests={"colour": ask_form("Round 2: your favourite colour?", "color")},
            request_state=json.dumps({"round": 2, "name": name}),
        )
    return InputRequiredResult(
        input_requests={"name": ask_form("Round 1: your name?", "name")},
        request_state=json.dumps({"round": 1}),
    )


@server.tool()
async def test_input_required_result_tampered_state(ctx: Context) -> str | InputRequiredResult:
    """Hands out a sealed state; a tampered one is refused by the SDK before this runs."""
    if ctx.request_state is not None:
        return f"state intact: {ctx.request_state}"
    return InputRequiredResult(
        input_requests={"confirm": ask_form("Please confirm", "ok", "boolean")}, request_state="first-round"
    )


@server.tool()
async def test_input_required_result_capabilities(ctx: Context) -> InputRequiredResult:
    """Asks only for what the client declared (sampling, elicitation)."""
    caps = ctx.client_capabilities
    requests: dict[str, InputRequest] = {}
    if caps is not None and caps.sampling is not None:
        requests["sample"] = ask_model("Say hello", 16)
    if caps is not None and caps.elicitation is not None:
        requests["ask"] = ask_form("What is your name?", "name")
    return InputRequiredResult(input_requests=requests, request_state="capability-gated")


# --- input requests: the SDK's resolvers (both eras) -----------------------------


def client_roots() -> ListRoots:
    """The client's roots (`roots/list`, sent without params)."""
    return ListRoots()


@server.tool()
async def test_input_required_result_list_roots(
    roots: Annotated[ListRootsResult, Resolve(client_roots)],
) -> str:
    """Lists the client's roots: mid-call on a session, InputRequiredResult on 2026-07-28."""
    return "roots: " + ", ".join(str(r.uri) for r in roots.roots)


class Answer(BaseModel):
    answer: str = Field(description="Anything")


def ask_anything() -> Elicit[Answer]:
    return Elicit("Say anything", Answer)


@server.tool()
async def test_streaming_elicitation(answer: Annotated[Answer, Resolve(ask_anything)]) -> str:
    """Elicits through a resolver: on 2026-07-28 an InputRequiredResult, never a request on the stream."""
    return f"you said: {answer.answer}"


# --- resources, prompts, completion ----------------------------------------------


@server.resource("test://static-text")
def static_text() -> str:
    """A static text resource."""
    return "This is the content of the static text resource."


@server.resource("test://static-binary")
def static_binary() -> bytes:
    """A static binary resource (the PNG)."""
    return base64.b64decode(PNG)


@server.resource("test://template/{id}/data")
def template_data(id: str) -> str:
    """A templated resource echoing its id."""
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


@server.resource("test://watched-resource")
def watched() -> str:
    """A resource a client may watch."""
    return "Watched resource content"


@server.prompt()
def test_simple_prompt() -> list[UserMessage]:
    """A prompt without arguments."""
    return [UserMessage(role="user", content=text("This is a simple prompt for testing."))]


@server.prompt()
def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
    """A prompt with two required arguments."""
    return [UserMessage(role="user", content=text(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"))]


@server.prompt()
def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:  # noqa: N803 - the suite's name
    """A prompt embedding the resource it is given."""
    return [
        UserMessage(role="user", content=embedded(resourceUri, "Embedded resource content for testing.")),
        UserMessage(role="user", content=text("Please process the embedded resource above.")),
    ]


@server.prompt()
def test_prompt_with_image() -> list[UserMessage]:
    """A prompt with an image."""
    return [
        UserMessage(role="user", content=ImageContent(type="image", data=PNG, mime_type="image/png")),
        UserMessage(role="user", content=text("Please analyze the image above.")),
    ]


@server.prompt()
async def test_input_required_result_prompt(ctx: Context) -> list[UserMessage] | InputRequiredResult:
    """A prompt that first asks the user for its context."""
    if answered(ctx, "user_context"):
        answer = ctx.input_responses["user_context"]
        context = (answer.content or {}).get("context", "") if isinstance(answer, ElicitResult) else ""
        return [UserMessage(role="user", content=text(f"Use this context: {context}"))]
    return InputRequiredResult(input_requests={"user_context": ask_form("What context should I use?", "context")})


@server.completion()
async def complete(
    ref: PromptReference | ResourceTemplateReference,
    argument: CompletionArgument,
    context: CompletionContext | None,
) -> Completion:
    """No suggestions (the suite checks the shape)."""
    return Completion(values=[], total=0, has_more=False)


def main() -> int:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print(f"usage: {sys.argv[0]} PORT", file=sys.stderr)
        return 2
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]), streamable_http_path="/mcp")
    return 0


if __name__ == "__main__":
    sys.exit(main())
