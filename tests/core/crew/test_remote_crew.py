"""A crew that crosses the network both ways: a plan gives a local copilot's step, then a remote OpenAI-compatible
copilot's, which hands off (a native tool call) to an OpenBB agent, whose turn hands the work back to a local one."""

import json

from tests.conftest import run_cli
from tests.core.providers.openbb_agent import AGENT_ID, serve_openbb_agent
from tests.loopback import LoopbackServer, Request, Response, sse

TASK = "@analyst Explain what a bond is. Then Quant checks the numbers, Desk confirms them, and Writer writes a tweet."


def quant_server(server: LoopbackServer) -> None:
    """A remote model that answers, then calls the handoff tool it was offered."""

    def reply(request: Request) -> Response:
        tool = request.body["tools"][0]["function"]
        assert tool["name"] == "handoff" and tool["parameters"]["properties"]["to"]["enum"] == ["desk"]
        call = {"to": "desk", "task": "Confirm the coupon of a 10-year bond", "context": "Coupon about 4%"}
        chunks = [
            sse(
                None, {"choices": [{"index": 0, "delta": {"content": "A 10-year bond at 4% pays 40 a year per 1000."}}]}
            ),
            sse(
                None,
                {
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": 0,
                                        "id": "call_q",
                                        "function": {"name": "handoff", "arguments": json.dumps(call)},
                                    }
                                ]
                            },
                            "finish_reason": "tool_calls",
                        }
                    ]
                },
            ),
            sse(None, "[DONE]"),
        ]
        return Response(chunks=chunks)

    server.routes[("POST", "/v1/chat/completions")] = reply


def test_local_to_openai_to_openbb_and_back_to_local(home) -> None:
    quant, desk = LoopbackServer(), LoopbackServer()
    try:
        quant_server(quant)
        serve_openbb_agent(desk)
        for args in (
            (
                "add",
                "desk",
                "--openbb",
                desk.url,
                "--agent",
                AGENT_ID,
                "--handoff-to",
                "writer",
                "--description",
                "Confirms bond data",
            ),
            (
                "add",
                "quant",
                "--openai",
                quant.url,
                "--model",
                "quant-7b",
                "--handoff-to",
                "desk",
                "--description",
                "Checks the numbers",
            ),
            ("edit", "analyst", "--handoff-to", "quant"),
        ):
            added = run_cli("copilots", *args)
            assert added.returncode == 0, added.stderr

        result = run_cli("run", TASK, "--copilots", "analyst,quant,desk,writer", "--json")
        assert result.returncode == 0, result.stderr
        events = [json.loads(line) for line in result.stdout.splitlines()]
        handoffs = [(e["from"], e["to"], e["status"]) for e in events if e["type"] == "handoff"]
        (planned,) = [e for e in events if e["type"] == "plan"]  # "@analyst …. Then Quant checks…": two steps
        assert [(s["copilot"], s["by"]) for s in planned["steps"]] == [("analyst", "mention"), ("quant", "named")]
        assert handoffs == [("quant", "desk", "accepted"), ("desk", "writer", "accepted")]
        authors = [e["author"] for e in events if e["type"] == "message" and e["status"] == "complete"]
        assert authors == ["analyst", "quant", "desk", "writer"]

        thread_id = events[-1]["thread_id"]
        shown = json.loads(run_cli("threads", "show", thread_id, "--json").stdout)
        desk_reply = shown["messages"][3]
        assert (
            "A bond pays a fixed coupon." in desk_reply["text"] and desk_reply["data"]["trace"]["provider"] == "openbb"
        )
        assert [(t["from_copilot"], t["to_copilot"], t["status"]) for t in shown["tasks"]] == [
            ("user", "analyst", "done"),
            ("user", "quant", "done"),
            ("quant", "desk", "done"),
            ("desk", "writer", "done"),
        ]
        # the remote copilots saw the shared transcript, with authors, and the task they were handed
        sent = quant.requests[-1].body["messages"]
        assert any("[analyst]:" in m["content"] for m in sent)
        assert "(step 2 of 2): Quant checks the numbers" in sent[-1]["content"]
        shared = [r for r in desk.requests if r.path == "/v1/query"][-1].body["messages"][-1]["data"][0]["items"][0]
        assert "quant: A 10-year bond at 4%" in shared["content"] or "[quant]" in shared["content"]
        trace = run_cli("threads", "show", thread_id, "--trace").stdout
        assert "[handoff quant → desk" in trace and "[handoff desk → writer" in trace
    finally:
        quant.close()
        desk.close()
