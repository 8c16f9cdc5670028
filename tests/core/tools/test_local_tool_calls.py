"""Local copilots call tools: a schema-constrained decision before the answer (any chat template), the tool round
as plain turns a strict chat template accepts; servers that cannot stream tool replies are asked whole."""

import json
import sys

from app.core.crew.decide import NO_TOOL, named_tools, tool_decision_schema
from app.core.providers.base import ChatMessage, ToolCall, ToolSpec
from app.core.providers.local import plain_messages
from tests.conftest import REPO, run_cli
from tests.loopback import LoopbackServer, Request, Response

BONDS = [sys.executable, str(REPO / "tests" / "core" / "tools" / "bond_server.py")]


def tool_events(asked) -> list[tuple]:
    assert asked.returncode == 0, asked.stderr
    events = [json.loads(line) for line in asked.stdout.splitlines()]
    return [(e["tool"], e["status"], e["arguments"], e["result"]) for e in events if e["type"] == "tool"]


def answer_text(asked) -> str:
    return "".join(e["delta"] for e in map(json.loads, asked.stdout.splitlines()) if e["type"] == "text")


def test_the_starter_model_calls_the_calculator_and_answers_with_its_number(home, starter_model) -> None:
    """The request names the calculator, so it is called; the starter model fills in the expression (a grammar
    keeps it to the tool's arguments) and its answer carries the exact result, which it gets wrong alone."""
    assert run_cli("copilots", "grant", "analyst", "roundtable.calculator").returncode == 0
    question = "Use the calculator: 17.5% of 2400"
    asked = run_cli("ask", "--copilot", "analyst", "--yes", "--json", question)
    expression = {"expression": "17.5% of 2400"}
    assert tool_events(asked) == [
        ("roundtable.calculator", "called", expression, None),
        ("roundtable.calculator", "done", expression, "420"),
    ]
    assert "420" in answer_text(asked)

    # the same consent as a remote copilot's tools: nobody at the terminal and no --yes: refused, and said so
    refused = run_cli("ask", "--copilot", "analyst", "--json", question)
    assert [status for _, status, _, _ in tool_events(refused)] == ["called", "refused"]


def test_a_local_copilot_calls_an_mcp_tool_it_is_asked_for(home, starter_model) -> None:
    assert run_cli("tools", "add", "bonds", "--", *BONDS).returncode == 0
    assert run_cli("copilots", "grant", "analyst", "bonds.coupon").returncode == 0
    asked = run_cli("ask", "--copilot", "analyst", "--yes", "--json", "Use the coupon tool: face 1000, rate_percent 4.")
    [called, done] = tool_events(asked)[:2]
    assert called[:2] == ("bonds.coupon", "called") and done[:2] == ("bonds.coupon", "done")
    assert set(called[2]) == {"face", "rate_percent"}  # the schema held the model to the tool's arguments


def test_tools_named_in_words_are_found_in_the_order_named() -> None:
    calculator = ToolSpec("roundtable__calculator", "arithmetic", {})
    time = ToolSpec("clock__get_current_time", "the time", {})
    coupon = ToolSpec("bonds__coupon", "a coupon", {})
    offered = [calculator, time, coupon]
    assert named_tools("Get current time, then use the Calculator.", offered) == [time, calculator]
    assert named_tools("call bonds.coupon and roundtable__calculator", offered) == [coupon, calculator]
    assert named_tools("a calculatory remark; coupons; get_current_times", offered) == []  # whole words only
    assert named_tools("What is 2 + 2?", offered) == []


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
            "content": 'What is 1+1?\n\nThe tool roundtable.calculator returned 2 for {"expression": "1+1"}. '
            "Answer with this result.",
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


def test_a_named_tool_must_be_called_and_its_texts_are_bounded() -> None:
    spec = ToolSpec("srv__t", "a tool", {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]})
    [only] = tool_decision_schema([spec], optional=False)["anyOf"]  # no "none": the user asked for this tool
    # never empty, and a small model that never closes its quote is stopped by the grammar
    assert only["properties"]["arguments"]["properties"]["q"] == {"type": "string", "minLength": 1, "maxLength": 500}
