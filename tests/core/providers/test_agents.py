"""OpenBB agents and A2A agents as copilots, against loopback stand-ins for their servers."""

import json

import pytest

from app.core.providers.a2a import A2AProvider
from app.core.providers.base import CancelToken, ChatMessage, ChatRequest, Citation, Error, Status, TextDelta
from app.core.providers.openbb import OpenBBProvider
from app.core.providers.speakers import from_copilot
from tests.conftest import run_cli, wait_for
from tests.core.providers.a2a_agent import serve_a2a_agent
from tests.core.providers.openbb_agent import AGENT_ID, serve_openbb_agent
from tests.loopback import LoopbackServer, Response, sse


def run(provider, *messages: ChatMessage) -> list:
    request = ChatRequest(list(messages) or [ChatMessage("user", "What is a bond?")])
    return list(provider.stream(request, CancelToken()))


def text_of(events) -> str:
    return "".join(e.delta for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize("legacy", [False, True], ids=["agents.json", "legacy copilots.json"])
def test_an_openbb_agent_gets_the_thread_as_widget_data_and_answers_from_it(server, legacy) -> None:
    serve_openbb_agent(server, legacy=legacy)
    transcript = [
        ChatMessage("system", "You are a bond desk."),
        ChatMessage("user", "What is a bond?", name="user"),
        from_copilot("analyst", "A loan you can trade."),
        ChatMessage("assistant", "Bonds are my desk.", name="desk"),
        ChatMessage("user", "analyst handed you this task: explain coupons"),
    ]
    events = run(OpenBBProvider(server.url), *transcript)
    assert events[-1].type == "done"
    text = text_of(events)
    assert text.startswith("I read ") and "A bond pays a fixed coupon." in text
    assert "| UST 10y | 4.25% |" in text  # the table artifact, as Markdown
    assert [e.message for e in events if isinstance(e, Status)][:1] == ["Reading the thread"]
    if not legacy:
        (citation,) = [e for e in events if isinstance(e, Citation)]
        assert citation.source == "Roundtable thread"

    first, second = [r for r in server.requests if r.path == "/v1/query"]
    roles = [m["role"] for m in first.body["messages"]]
    assert roles == ["human", "ai", "ai", "human"]  # our system prompt stays with us
    # another copilot's reply under its id, the agent's own under the agent's id (not our copilot's), unlabelled
    assert [(m.get("agent_id"), m["content"]) for m in first.body["messages"][1:3]] == [
        ("analyst", "A loan you can trade."),
        (AGENT_ID, "Bonds are my desk."),
    ]
    echoed, result = second.body["messages"][-2:]
    assert echoed["role"] == "ai" and json.loads(echoed["content"])["function"] == "get_widget_data"
    shared = result["data"]["content"] if legacy else result["data"][0]["items"][0]["content"]
    assert "analyst: A loan you can trade." in shared and "You are a bond desk" not in shared
    assert "[analyst]" not in shared  # each line names its author once


def test_an_openbb_agent_that_never_stops_asking_is_cut_off(server) -> None:
    serve_openbb_agent(server)
    call = sse("copilotFunctionCall", {"function": "get_widget_data", "input_arguments": {"data_sources": []}})
    server.routes[("POST", "/v1/query")] = lambda _r: Response(chunks=[call])
    events = run(OpenBBProvider(server.url))
    assert events[-1].type == "error" and "more than 4 times" in events[-1].message


def test_openbb_bad_servers(server) -> None:
    (error,) = [e for e in run(OpenBBProvider(server.url)) if isinstance(e, Error)]
    assert "not found" in error.message  # neither agents.json nor copilots.json
    serve_openbb_agent(server)
    (unknown,) = [e for e in run(OpenBBProvider(server.url, "nobody")) if isinstance(e, Error)]
    assert "no agent 'nobody'" in unknown.message and AGENT_ID in unknown.message
    server.routes[("POST", "/v1/query")] = lambda _r: Response(chunks=["event: copilotMessageChunk\ndata: {oops\n\n"])
    (bad,) = [e for e in run(OpenBBProvider(server.url)) if isinstance(e, Error)]
    assert bad.kind == "protocol"


@pytest.mark.parametrize(("version", "streaming"), [("0.3", True), ("1.0", True), ("0.3", False), ("1.0", False)])
def test_an_a2a_agent_answers(server, version, streaming) -> None:
    serve_a2a_agent(server, version=version, streaming=streaming)
    events = run(A2AProvider(server.url), ChatMessage("user", "What are rates doing?"))
    assert text_of(events) == "Rates agent here: you asked 4 words."
    assert events[-1].type == "done" and events[-1].finish_reason == "stop"
    if streaming:
        assert "Looking up rates" in [e.message for e in events if isinstance(e, Status)]
    rpc = server.requests[-1]
    assert (
        rpc.body["method"]
        == {
            ("0.3", True): "message/stream",
            ("1.0", True): "SendStreamingMessage",
            ("0.3", False): "message/send",
            ("1.0", False): "SendMessage",
        }[(version, streaming)]
    )
    assert (rpc.headers.get("A2A-Version") == "1.0") == (version == "1.0")


def test_a2a_failures_and_bad_cards(server) -> None:
    serve_a2a_agent(server, fail=True)
    events = run(A2AProvider(server.url))
    assert events[-1].type == "error" and "failed: no rates today" in events[-1].message

    server.routes[("GET", "/.well-known/agent-card.json")] = lambda _r: Response(body={"name": "Half a card"})
    events = run(A2AProvider(server.url))
    assert events[-1].type == "error" and "has no 'url'" in events[-1].message

    serve_a2a_agent(server)
    del server.routes[("GET", "/.well-known/agent-card.json")]
    old = {"name": "Old agent", "url": f"{server.url}/a2a", "capabilities": {"streaming": True}}
    server.routes[("GET", "/.well-known/agent.json")] = lambda _r: Response(body=old)  # before A2A 0.3
    events = run(A2AProvider(server.url))
    assert text_of(events) == "Rates agent here: you asked 4 words." and events[-1].type == "done"


def test_an_a2a_agent_and_an_openbb_agent_answer_as_copilots_from_the_cli(home, server) -> None:
    serve_a2a_agent(server)
    openbb = LoopbackServer()
    try:
        serve_openbb_agent(openbb)
        assert run_cli("copilots", "add", "rates", "--a2a", server.url).returncode == 0
        assert run_cli("copilots", "add", "desk", "--openbb", openbb.url, "--agent", AGENT_ID).returncode == 0
        tested = json.loads(run_cli("copilots", "test", "rates", "--json").stdout)
        assert tested["agent"] == "Rates agent" and tested["streaming"] and tested["skills"] == ["Rates"]
        tested = json.loads(run_cli("copilots", "test", "desk", "--json").stdout)
        assert tested["agent"] == AGENT_ID and "streaming" in tested["features"] and tested["answered"]

        asked = run_cli("ask", "@rates @desk what about bonds?")
        assert asked.returncode == 0, asked.stderr
        assert "Rates agent here" in asked.stdout and "A bond pays a fixed coupon." in asked.stdout
        thread = json.loads(run_cli("threads", "ls", "--json").stdout)[0]
        messages = json.loads(run_cli("threads", "show", thread["id"], "--json").stdout)["messages"]
        assert [(m["author"], m["status"]) for m in messages] == [
            ("user", "complete"),
            ("rates", "complete"),
            ("desk", "complete"),
        ]
        assert messages[2]["data"]["citations"][0]["source"] == "Roundtable thread"
        assert messages[2]["data"]["trace"]["provider"] == "openbb"
    finally:
        openbb.close()


def test_stop_cancels_the_a2a_task(server) -> None:
    serve_a2a_agent(server)
    note = {"kind": "message", "messageId": "m", "role": "agent", "parts": [{"kind": "text", "text": "Still working"}]}
    working = {"kind": "status-update", "taskId": "t9", "status": {"state": "working", "message": note}}
    slow = [
        sse(None, {"jsonrpc": "2.0", "id": 1, "result": {"kind": "task", "id": "t9", "status": {"state": "submitted"}}})
    ]
    slow += [sse(None, {"jsonrpc": "2.0", "id": 1, "result": working})] * 100
    rpc = server.routes[("POST", "/a2a")]
    server.routes[("POST", "/a2a")] = lambda r: (
        rpc(r) if r.body["method"] == "tasks/cancel" else Response(chunks=slow, delay=0.05)
    )
    cancel = CancelToken()
    events = []
    for event in A2AProvider(server.url).stream(ChatRequest([ChatMessage("user", "Slowly")]), cancel):
        events.append(event)
        if len(events) == 2:
            cancel.cancel()
    assert events[-1].type == "done" and events[-1].finish_reason == "cancelled"
    cancels = wait_for(
        lambda: [r.body for r in server.requests if r.method == "POST" and r.body["method"] == "tasks/cancel"]
    )
    assert cancels[0]["params"] == {"id": "t9"}


def test_the_built_in_providers_register_as_entry_points_like_a_plugin_would() -> None:
    from importlib.metadata import entry_points

    from app.core.providers import ENTRY_POINT_GROUP, provider_kinds

    registered = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert registered == {
        "local": "app.core.providers.local:LocalProvider",
        "openai": "app.core.providers.openai_compat:OpenAICompatProvider",
        "openbb": "app.core.providers.openbb:OpenBBProvider",
        "a2a": "app.core.providers.a2a:A2AProvider",
    }
    for kind, entry in provider_kinds().items():
        assert hasattr(entry.load(), "from_config"), kind


def test_an_openbb_agent_is_offered_the_document_passages_as_a_widget(server) -> None:
    serve_openbb_agent(server)
    request = ChatRequest(
        [ChatMessage("user", "What coupon does the Zephyr bond pay?")],
        documents=[{"source": "zephyr.pdf", "location": "page 2", "text": "The Zephyr bond pays 7.25%."}],
    )
    asked = []

    def query(r):
        widgets = r.body["widgets"]["primary"]
        asked.append([w["widget_id"] for w in widgets])
        if r.body["messages"][-1]["role"] != "tool":
            call = {
                "function": "get_widget_data",
                "input_arguments": {"data_sources": [{"widget_uuid": widgets[1]["uuid"]}]},
            }
            return Response(chunks=[sse("copilotFunctionCall", call)])
        item = r.body["messages"][-1]["data"][0]["items"][0]
        return Response(chunks=[sse("copilotMessageChunk", {"delta": f"{item['citable']}: {item['content']}"})])

    server.routes[("POST", "/v1/query")] = query
    events = list(OpenBBProvider(server.url).stream(request, CancelToken()))
    assert asked[0] == ["roundtable-thread", "roundtable-documents"]
    assert text_of(events) == "True: [1] zephyr.pdf, page 2:\nThe Zephyr bond pays 7.25%."
