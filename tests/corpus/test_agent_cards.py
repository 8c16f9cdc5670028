"""Malformed A2A agent cards and OpenBB agents.json listings (tests/corpus/agent_cards/, raw response bodies)
served by a loopback server to the real provider, and through the real CLI: each gives one clear error line
and exit 8, the key goes nowhere it was not configured for, memory stays bounded, and the copilot answers once
the server is fixed."""

import json
from pathlib import Path

import pytest

from app.core.providers.a2a import A2AProvider
from app.core.providers.base import Error
from app.core.providers.openbb import OpenBBProvider
from tests.conftest import run_cli
from tests.core.providers.a2a_agent import serve_a2a_agent
from tests.core.providers.openbb_agent import serve_openbb_agent
from tests.corpus.own_peak_rss import stream_with_peak
from tests.loopback import LoopbackServer, Response

CORPUS = Path(__file__).parent / "agent_cards"
KEY = "sk-CARD-7f3e2d1c0b9a"
PEAK_CAP = 4 * 1024 * 1024

EXPECTED = {
    "a2a-no-name.json": "has no 'name'",
    "a2a-name-is-an-object.json": "has no 'name'",
    "a2a-url-not-http.json": "has no 'url' (http or https)",
    "a2a-interfaces-wrong-types.json": "lists no JSON-RPC interface",
    "a2a-truncated.json": "did not answer with JSON",
    "a2a-not-an-object.json": "has no 'name'",
    "a2a-other-origin.json": "another origin, http://127.0.0.2:9",
    "openbb-list-not-object.json": "not an object of agents",
    "openbb-empty.json": "not an object of agents",
    "openbb-endpoints-wrong-type.json": "names no query endpoint",
    "openbb-binary.json": "did not answer with JSON",
}
FILES = sorted(p.name for p in CORPUS.glob("*.json"))


def serve_card(server: LoopbackServer, case: str) -> None:
    raw = (CORPUS / case).read_bytes()
    if case.startswith("a2a-"):
        serve_a2a_agent(server)
        server.routes[("GET", "/.well-known/agent-card.json")] = lambda _r: Response(body=raw)
    else:
        serve_openbb_agent(server)
        server.routes[("GET", "/agents.json")] = lambda _r: Response(body=raw)


def heal(server: LoopbackServer, case: str) -> None:
    (serve_a2a_agent if case.startswith("a2a-") else serve_openbb_agent)(server)


def test_every_corpus_file_has_an_expected_reason() -> None:
    assert len(FILES) >= 4 and set(FILES) == set(EXPECTED)


@pytest.mark.parametrize("case", FILES)
def test_a_malformed_card_is_a_clear_error(server, monkeypatch, case) -> None:
    monkeypatch.setenv("CARD_KEY", KEY)
    serve_card(server, case)
    make = (
        (lambda: A2AProvider(server.url, "env:CARD_KEY"))
        if case.startswith("a2a-")
        else (lambda: OpenBBProvider(server.url, key_name="env:CARD_KEY"))
    )
    events, peak = stream_with_peak(make())
    assert [type(e) for e in events] == [Error]
    assert EXPECTED[case] in events[0].message
    assert "\n" not in events[0].message and KEY not in events[0].message
    assert peak < PEAK_CAP
    assert [r.path for r in server.requests if r.method == "POST"] == []  # nothing was sent on a bad card

    heal(server, case)
    assert stream_with_peak(make())[0][-1].type == "done"


@pytest.mark.parametrize("case", ["a2a-other-origin.json", "a2a-truncated.json", "openbb-binary.json"])
def test_a_malformed_card_through_the_cli(home, server, monkeypatch, case) -> None:
    monkeypatch.setenv("CARD_KEY", KEY)
    serve_card(server, case)
    kind = "--a2a" if case.startswith("a2a-") else "--openbb"
    assert run_cli("copilots", "add", "agent", kind, server.url, "--api-key-name", "env:CARD_KEY").returncode == 0
    asked = run_cli("ask", "--copilot", "agent", "What is a bond?")
    assert asked.returncode == 8
    (line,) = asked.stderr.strip().splitlines()
    assert EXPECTED[case] in line and "Traceback" not in asked.stderr
    thread = json.loads(run_cli("threads", "ls", "--json").stdout)[0]
    reply = json.loads(run_cli("threads", "show", thread["id"], "--json").stdout)["messages"][1]
    assert reply["status"] == "failed" and KEY not in json.dumps(reply)

    heal(server, case)
    again = run_cli("ask", "--copilot", "agent", "And now?")
    assert again.returncode == 0, again.stderr
