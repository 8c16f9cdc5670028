"""Local copilots call tools: a schema-constrained decision before the answer (any chat template), the tool round
as plain turns a strict chat template accepts; servers that cannot stream tool replies are asked whole."""

import json

from app.core.crew.decide import NO_TOOL, tool_decision_schema
from app.core.providers.base import ChatMessage, ToolCall, ToolSpec
from app.core.providers.local import plain_messages
from tests.conftest import run_cli
from tests.loopback import LoopbackServer, Request, Response


def test_the_decision_schema_offers_each_tool_with_its_arguments_or_none() -> None:
    spec = ToolSpec(
        "srv__t",
        "a tool",
        {
            "type": "object",
            "properties": {"x": {"type": "number", "description": "d", "format": "f"}},
            "required": ["x"],
        },
    )
    [choice, none] = tool_decision_schema([spec])["anyOf"]
    assert choice["properties"]["tool"] == {"const": "srv__t"}
    assert choice["properties"]["arguments"] == {
        "type": "object",
        "properties": {"x": {"type": "number"}},  # what a grammar follows; descriptions and formats left out
        "required": ["x"],
    }
    assert none["properties"]["tool"] == {"const": NO_TOOL}


def test_a_tool_round_reads_as_plain_turns_for_any_chat_template() -> None:
    call = ToolCall("c1", "roundtable__calculator", {"expression": "1+1"})
    messages = [
        ChatMessage("user", "What is 1+1?"),
        ChatMessage("assistant", "", tool_calls=[call]),
        ChatMessage("tool", "2", name="roundtable.calculator", tool_call_id="c1"),
    ]
    # one user turn: chat templates such as Gemma's refuse two user turns in a row
    assert plain_messages(messages) == [
        {
            "role": "user",
            "content": 'What is 1+1?\n\nResult of the tool roundtable.calculator for {"expression": "1+1"}:\n2',
        },
    ]


def test_a_server_that_cannot_stream_tool_replies_is_asked_whole(home) -> None:
    """tool_choice "auto" is sent; a stream that ends at once, empty (llama-cpp-python's function-calling formats
    do that when tools are offered) is taken as "cannot stream tools": the reply is asked for whole."""
    server = LoopbackServer()

    def reply(request: Request) -> Response:
        body = request.body
        if body.get("tools") and body.get("stream"):
            return Response(chunks=[b""])  # the stream ends before anything
        assert body["tool_choice"] == "auto" and not body["stream"]
        last = body["messages"][-1]
        if last["role"] == "tool":
            message = {"role": "assistant", "content": f"It is {last['content']}."}
            return Response(body={"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})
        call = {"id": "c1", "type": "function", "function": {"name": "roundtable__calculator"}}
        call["function"]["arguments"] = json.dumps({"expression": "1234.5 + 8765.25"})
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        return Response(body={"choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]})

    server.routes[("POST", "/v1/chat/completions")] = reply
    try:
        added = run_cli("copilots", "add", "fc", "--openai", server.url, "--tools", "roundtable.calculator")
        assert added.returncode == 0, added.stderr
        asked = run_cli("ask", "--copilot", "fc", "--yes", "--json", "1234.5 + 8765.25?")
        assert asked.returncode == 0, asked.stderr
        events = [json.loads(line) for line in asked.stdout.splitlines()]
        tools = [(e["tool"], e["status"], e["result"]) for e in events if e["type"] == "tool"]
        assert tools == [("roundtable.calculator", "called", None), ("roundtable.calculator", "done", "9999.75")]
        assert "".join(e["delta"] for e in events if e["type"] == "text") == "It is 9999.75."
        streamed = [r.body["stream"] for r in server.requests if r.body.get("tools")]
        assert streamed == [True, False, False]  # learnt once: the next reply with tools was asked whole at once
    finally:
        server.close()
