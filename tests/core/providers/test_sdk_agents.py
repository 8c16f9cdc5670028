"""Agents built with the official SDKs (openbb-ai, a2a-sdk) on loopback: each gets the transcript in its own
protocol's terms, exactly, and what it sends back shows as the user would want it."""

from __future__ import annotations

import pytest

from app.core.providers.a2a import A2AProvider, card_endpoint
from app.core.providers.base import CancelToken, ChatMessage, ChatRequest, Citation, Event, TextDelta
from app.core.providers.http import RemoteError
from app.core.providers.openbb import OpenBBProvider
from app.core.providers.speakers import from_copilot, sentence
from tests.core.providers.sdk_agents import A2AAgentLog, OpenBBAgentLog, a2a_app, openbb_app, serving

pytest.importorskip("openbb_ai")
pytest.importorskip("a2a")

# the thread as the crew builds it for copilot "desk": the person, another copilot, desk's own earlier reply
THREAD = [
    ChatMessage("system", "You are a bond desk."),
    ChatMessage("user", "What is a bond?", name="user"),
    from_copilot("generalist", "A loan you can trade."),
    ChatMessage("assistant", "Bonds are my desk.", name="desk"),
    ChatMessage("user", "And coupons?", name="user"),
]


def ask(provider: OpenBBProvider | A2AProvider, messages: list[ChatMessage]) -> list[Event]:
    return list(provider.stream(ChatRequest(messages), CancelToken()))


@pytest.mark.parametrize("chart", [False, True], ids=["table", "chart"])
def test_an_openbb_sdk_agent_gets_copilots_as_ai_messages_and_its_artifacts_show_as_tables(chart: bool) -> None:
    log = OpenBBAgentLog()
    with serving(lambda url: openbb_app(url, "bond-desk", log, chart=chart)) as url:
        events = ask(OpenBBProvider(url, copilot_id="desk"), THREAD)
    (request,) = log.requests
    received = [(m.role.value, m.agent_id, m.content) for m in request.messages]
    assert received == [
        ("human", None, "What is a bond?"),
        ("ai", "generalist", "A loan you can trade."),  # not human text "[generalist]: …"
        ("ai", "bond-desk", "Bonds are my desk."),  # its own reply under its own id, not our copilot's
        ("human", None, "And coupons?"),
    ]
    assert events[-1].type == "done"
    # cite() names no source: the citation is labelled from the widget it names, not "widget"
    (citation,) = [e for e in events if isinstance(e, Citation)]
    assert citation.source == "Roundtable thread"
    text = "".join(e.delta for e in events if isinstance(e, TextDelta))
    heading = "**Coupons** (bar chart of coupon by bond)" if chart else "**Coupons**"
    assert text == (
        f"A bond pays a fixed coupon.\n\n{heading}\n\n"
        "| bond | coupon |\n|---|---|\n| UST 10y | 4.25 |\n| Bund 10y | 2.5 |\n"
    )


@pytest.mark.parametrize("version", ["1.0", "0.3"])
def test_an_a2a_sdk_agent_gets_the_question_as_asked_and_each_line_named_once(version: str) -> None:
    log = A2AAgentLog()
    with serving(lambda url: a2a_app(url, log, protocol_version=version)) as url:
        alone = ask(A2AProvider(url), [ChatMessage("user", "What are rates doing?", name="user")])
        threaded = ask(A2AProvider(url), THREAD)
    assert log.inputs == [
        "What are rates doing?",  # no "user: " prefix
        "Earlier in this conversation:\n\n"
        "user: What is a bond?\n\n"
        "generalist: A loan you can trade.\n\n"  # not "generalist: [generalist]: …"
        "desk: Bonds are my desk.\n\n"
        "And coupons?",
    ]
    assert "".join(e.delta for e in alone if isinstance(e, TextDelta)) == "Rates agent here: you asked 4 words."
    assert threaded[-1].type == "done"


def test_each_card_interface_is_read_at_its_own_protocol_version() -> None:
    card = {"name": "Rates agent"}

    def interface(url: str, version: str, binding: str = "JSONRPC") -> dict[str, str]:
        return {"url": url, "protocolBinding": binding, "protocolVersion": version}

    assert card_endpoint(card | {"supportedInterfaces": [interface("http://a/rpc", "0.3")]}) == ("http://a/rpc", "0.3")
    offered = [
        interface("http://a/grpc", "1.0", "GRPC"),
        interface("http://a/v2", "2.0"),
        interface("http://a/v1", "1.0.1"),  # a patch release speaks 1.0
    ]
    assert card_endpoint(card | {"supportedInterfaces": offered}) == ("http://a/v1", "1.0")
    with pytest.raises(RemoteError, match=r"only at A2A 2\.0; Roundtable speaks 0\.3 and 1\.0\.$"):
        card_endpoint(card | {"supportedInterfaces": [interface("http://a/v2", "2.0")]})


def test_messages_end_with_one_stop() -> None:
    assert sentence("The agent's task failed: out of credit.") == "The agent's task failed: out of credit."
    assert sentence("The agent's task failed: no reason given") == "The agent's task failed: no reason given."
