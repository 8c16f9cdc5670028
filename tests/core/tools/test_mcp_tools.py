"""MCP tools: registered by command line, granted to copilots, called, shown and fed back; `--yes` allows one
run; servers that hang or die end with a clear event. (Consent prompts and saved approvals: test_tool_consent.)"""

import json
import sys

import pytest

from tests.conftest import REPO, run_cli, write_settings
from tests.loopback import LoopbackServer, Request, Response, sse

SERVER = [sys.executable, str(REPO / "tests" / "core" / "tools" / "bond_server.py")]


def text_chunk(text: str) -> str:
    return sse(None, {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}]})


def call_chunk(name: str, arguments: dict) -> str:
    delta = {
        "tool_calls": [{"index": 0, "id": "call_t", "function": {"name": name, "arguments": json.dumps(arguments)}}]
    }
    return sse(None, {"choices": [{"index": 0, "delta": delta, "finish_reason": "tool_calls"}]})


@pytest.fixture
def quant(home):
    """A remote model that calls the tool it is told to in its first reply, then reports the tool's result."""
    server = LoopbackServer()
    server.plan = ("bonds__coupon", {"face": 1000, "rate_percent": 4})

    def reply(request: Request) -> Response:
        last = request.body["messages"][-1]
        if last["role"] == "tool":
            return Response(chunks=[text_chunk(f"The tool said: {last['content']}"), sse(None, "[DONE]")])
        offered = [t["function"]["name"] for t in request.body.get("tools", [])]
        assert server.plan[0] in offered, offered
        return Response(chunks=[call_chunk(*server.plan), sse(None, "[DONE]")])

    server.routes[("POST", "/v1/chat/completions")] = reply
    assert run_cli("tools", "add", "bonds", "--", *SERVER).returncode == 0
    assert run_cli("copilots", "add", "quant", "--openai", server.url, "--model", "q").returncode == 0
    assert run_cli("copilots", "grant", "quant", "bonds").returncode == 0
    yield server
    server.close()


def test_tools_are_registered_listed_and_granted(home) -> None:
    added = run_cli("tools", "add", "bonds", "--", *SERVER)
    assert added.returncode == 0 and "4 tools: coupon, stall, crash, memo" in added.stdout
    broken = run_cli("tools", "add", "nothing", "--", "/nonexistent/server")
    assert broken.returncode == 9 and "was not found" in broken.stderr
    run_cli("copilots", "grant", "writer", "bonds.coupon")
    builtin, listed = json.loads(run_cli("tools", "ls", "--json").stdout)
    assert builtin["name"] == "roundtable" and [t["name"] for t in builtin["tools"]] == ["calculator", "documents"]
    tools = [t["name"] for t in listed["tools"]]
    assert tools == ["coupon", "stall", "crash", "memo"] and listed["granted_to"] == ["writer"]
    assert run_cli("copilots", "grant", "writer", "nope").returncode == 2
    assert json.loads(run_cli("copilots", "show", "writer", "--json").stdout)["tools"] == ["bonds.coupon"]
    run_cli("copilots", "revoke", "writer", "bonds.coupon")
    assert json.loads(run_cli("copilots", "show", "writer", "--json").stdout)["tools"] == []


def test_a_copilot_calls_a_tool_sees_its_result_and_the_transcript_shows_both(quant) -> None:
    refused = run_cli("ask", "--copilot", "quant", "What coupon does a 1000 bond at 4% pay?")
    assert refused.returncode == 0 and "nobody is at the terminal to ask: run it with --yes" in refused.stderr
    assert "The tool said: The user did not allow bonds.coupon" in refused.stdout

    asked = run_cli("ask", "--copilot", "quant", "--yes", "--json", "What coupon does a 1000 bond at 4% pay?")
    assert asked.returncode == 0, asked.stderr
    events = [json.loads(line) for line in asked.stdout.splitlines()]
    tool_events = [(e["tool"], e["status"], e["result"]) for e in events if e["type"] == "tool"]
    assert tool_events == [("bonds.coupon", "called", None), ("bonds.coupon", "done", "40.00")]
    assert "".join(e["delta"] for e in events if e["type"] == "text") == "The tool said: 40.00"
    sent = quant.requests[-1].body["messages"]
    assert sent[-2]["tool_calls"][0]["function"]["name"] == "bonds__coupon" and sent[-1]["tool_call_id"] == "call_t"

    shown = run_cli("threads", "show", events[-1]["thread_id"]).stdout
    assert '[quant used bonds.coupon {"face": 1000, "rate_percent": 4}: done — 40.00]' in shown
    # --yes allowed that run only: nothing saved, so the next run without it is refused again
    assert json.loads(run_cli("tools", "approvals", "--json").stdout) == []
    again = run_cli("ask", "--copilot", "quant", "And again?")
    assert again.returncode == 0 and "The user did not allow bonds.coupon" in again.stdout and "--yes" in again.stderr


def test_a_tool_server_that_hangs_or_dies_ends_with_a_clear_event(quant, home) -> None:
    write_settings(home, "tool_timeout_s = 3\n")
    quant.plan = ("bonds__stall", {"seconds": 60})
    hung = run_cli("ask", "--copilot", "quant", "--yes", "Take your time.")
    assert hung.returncode == 0
    assert "[quant used bonds.stall: failed — Tool server 'bonds' did not run 'stall' within 3 s" in hung.stdout

    quant.plan = ("bonds__crash", {})
    died = run_cli("ask", "--copilot", "quant", "--yes", "Crash.")
    assert (
        died.returncode == 0
        and "[quant used bonds.crash: failed — Tool server 'bonds' failed to run 'crash'" in died.stdout
    )


def test_a_tool_servers_own_stderr_goes_to_the_log_not_the_terminal(home) -> None:
    from tests.core.tools.noisy_server import NOISE

    noisy = [sys.executable, str(REPO / "tests" / "core" / "tools" / "noisy_server.py")]
    added = run_cli("tools", "add", "noisy", "--", *noisy)
    assert added.returncode == 0, added.stderr
    assert NOISE not in added.stderr and NOISE not in added.stdout
    log = (home / "data" / "logs" / "mcp.log").read_text()
    assert "tool server 'noisy'" in log and NOISE in log
