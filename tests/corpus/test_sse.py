"""Malformed server-sent event streams (tests/corpus/sse/, raw response bodies) replayed by a loopback server
to the real provider they name (`openai-`, `openbb-`, `a2a-`): each ends the reply with one clear error line,
the same server's next good reply works, and memory stays bounded. Streams over the size caps are made at
test time rather than committed."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.providers.a2a import A2AProvider
from app.core.providers.base import Error
from app.core.providers.http import MAX_EVENT_BYTES
from app.core.providers.openai_compat import OpenAICompatProvider
from app.core.providers.openbb import OpenBBProvider
from tests.core.providers.a2a_agent import serve_a2a_agent
from tests.core.providers.openbb_agent import serve_openbb_agent
from tests.corpus.own_peak_rss import stream_with_peak
from tests.loopback import LoopbackServer, Response, sse

CORPUS = Path(__file__).parent / "sse"
MiB = 1 << 20
PEAK_CAP = 8 * MiB  # the biggest corpus file is 40 KB; the generated lines stop at the 1 MiB line cap
EVENT_PEAK_CAP = 2 * MAX_EVENT_BYTES  # an event is held whole up to its 8 MiB cap, the 20 MiB sent never

# what each stream's error says: the reason, in words the user can act on
EXPECTED = {
    "openai-bad-json.sse": "not valid JSON",
    "openai-choices-not-a-list.sse": "'choices' is not a list",
    "openai-missing-choices.sse": "ended the reply mid-stream",
    "openai-binary-garbage.sse": "not valid JSON",
    "openai-huge-id.sse": "'delta' is not an object",
    "openai-truncated-mid-event.sse": "not valid JSON",
    "openai-error-with-markup.sse": "failed mid-reply",
    "openai-content-not-a-string.sse": "'content' is not a string",
    "openai-tool-call-bad-index.sse": "bad index",
    "openai-crlf-no-finish.sse": "ended the reply mid-stream",
    "openbb-bad-json-in-chunk.sse": "not valid JSON",
    "openbb-function-call-wrong-types.sse": "asked for data more than 4 times",
    "a2a-error-with-markup.sse": "The agent refused the request",
    "a2a-result-not-an-object.sse": "has no result",
    "a2a-wrong-types-then-cut.sse": "still 'working'",
    "generated:openai-data-line-over-cap": "line over 1 MiB",
    "generated:openai-id-line-over-cap": "line over 1 MiB",
    "generated:a2a-event-of-many-lines-over-cap": "one event over 8 MiB",
}
FILES = sorted(p.name for p in CORPUS.glob("*.sse"))
GENERATED = [name for name in EXPECTED if name.startswith("generated:")]


def body_of(case: str) -> Iterator[bytes]:
    """The stream as the server sends it: the file in pieces that cut lines and events anywhere."""
    if case == "generated:openai-data-line-over-cap":
        yield b"data: " + b"x" * (64 * 1024)
        yield from (b"y" * (64 * 1024) for _ in range(64))  # 4 MiB, no newline
    elif case == "generated:openai-id-line-over-cap":
        yield b"id: " + b"9" * (3 * MiB) + b"\n"
    elif case == "generated:a2a-event-of-many-lines-over-cap":
        line = b"data: " + b"z" * (512 * 1024) + b"\n"  # each line under the cap, the event over it
        yield from (line for _ in range(40))
    else:
        raw = (CORPUS / case).read_bytes()
        yield from (raw[i : i + 997] for i in range(0, len(raw), 997))


def provider_for(case: str, server: LoopbackServer):
    """The provider the case names, with its server scripted to replay the case; and how to heal the server."""
    kind = case.removeprefix("generated:").split("-")[0]
    replay = lambda _r: Response(chunks=body_of(case))  # noqa: E731
    if kind == "openai":
        good = [sse(None, {"choices": [{"index": 0, "delta": {"content": "Fine."}, "finish_reason": "stop"}]})]
        server.routes[("POST", "/v1/chat/completions")] = replay
        heal = lambda: server.routes.update({("POST", "/v1/chat/completions"): lambda _r: Response(chunks=good)})  # noqa: E731
        return (lambda: OpenAICompatProvider(server.url, "m")), heal
    if kind == "openbb":
        serve_openbb_agent(server)
        server.routes[("POST", "/v1/query")] = replay
        return (lambda: OpenBBProvider(server.url)), lambda: serve_openbb_agent(server)
    serve_a2a_agent(server)
    rpc = server.routes[("POST", "/a2a")]
    server.routes[("POST", "/a2a")] = replay
    return (lambda: A2AProvider(server.url)), lambda: server.routes.update({("POST", "/a2a"): rpc})


def test_every_corpus_file_has_an_expected_reason() -> None:
    assert len(FILES) >= 8 and set(FILES) <= set(EXPECTED)


@pytest.mark.parametrize("case", FILES + GENERATED)
def test_a_malformed_stream_ends_the_reply_with_a_clear_error(server, case) -> None:
    make, heal = provider_for(case, server)
    events, peak = stream_with_peak(make())

    error = events[-1]
    assert isinstance(error, Error), events[-3:]
    assert EXPECTED[case] in error.message
    assert "\n" not in error.message and "Traceback" not in error.message and len(error.message) < 600
    assert error.kind in ("protocol", "network", "server", "remote", "timeout")  # exit 8 in the CLI
    assert [e for e in events if isinstance(e, Error)] == [error]  # exactly one, at the end
    assert peak < (EVENT_PEAK_CAP if case.startswith("generated:a2a-event") else PEAK_CAP)

    heal()  # the app keeps working: the next reply from the same server is fine
    after, _ = stream_with_peak(make())
    assert after[-1].type == "done", after[-1]
