"""Kept requests read back as they were, bounded; a report shows what came from outside as text."""

from __future__ import annotations

import zlib

import pytest

from app.core.provenance import MAX_REQUEST_BYTES, ProvenanceError, pack_request, request_sha256, unpack_request
from app.core.providers.base import ChatMessage, ChatRequest, Citation, Sampling, ToolCall, ToolSpec
from app.core.report import Report, Run, Step
from app.core.report_render import to_html, to_markdown


def test_a_kept_request_reads_back_whole_with_the_same_digest() -> None:
    request = ChatRequest(
        messages=[
            ChatMessage("system", "You are the analyst."),
            ChatMessage("assistant", "", name="analyst", tool_calls=[ToolCall("c1", "calc", {"x": 1}, '{"x":1}')]),
            ChatMessage("tool", "2", tool_call_id="c1"),
            ChatMessage("user", "Pourquoi ? ✓", name="you"),
        ],
        sampling=Sampling(temperature=0.0, seed=42, max_tokens=9),
        tools=[ToolSpec("calc", "adds", {"type": "object"})],
        json_schema={"type": "object"},
        documents=[{"source": "a.md", "location": None, "text": "t"}],
    )
    again = unpack_request(pack_request(request))
    assert again == request and request_sha256(again) == request_sha256(request)


@pytest.mark.parametrize(
    "blob",
    [
        b"not zlib at all",
        zlib.compress(b"[1, 2, 3]"),
        zlib.compress(b'{"messages": [{"role": "user"}], "sampling": {}}'),
        zlib.compress(b'{"messages": [], "sampling": {"temperature": 1, "surprise": 2}}'),
        zlib.compress(b"\xff\xfe"),
    ],
    ids=["not zlib", "not an object", "a message without content", "unknown sampling", "not utf-8"],
)
def test_a_kept_request_that_does_not_read_says_so(blob: bytes) -> None:
    with pytest.raises(ProvenanceError, match="does not read"):
        unpack_request(blob)


def test_a_request_that_would_unpack_beyond_the_limit_is_refused_without_unpacking_it() -> None:
    bomb = zlib.compress(b" " * (MAX_REQUEST_BYTES + 1024), 9)
    assert len(bomb) < 100_000
    with pytest.raises(ProvenanceError, match="over 16 MB"):
        unpack_request(bomb)


HOSTILE = '<script>alert(1)</script><img src="http://example.com/x.png"> ``` not a fence'


def test_a_report_shows_what_came_from_models_documents_and_tools_as_text() -> None:
    step = Step(
        "m1",
        "analyst",
        "Analyst <b>",
        "complete",
        HOSTILE,
        "2026-11-26T10:00:00",
        {"why": HOSTILE},
        citations=[Citation(source=HOSTILE, passage=HOSTILE, number=1, cited=True)],
    )
    report = Report(
        "t1", HOSTILE, "default", [Run(HOSTILE, "you", "2026-11-26", [step], [HOSTILE])], "now", {"roundtable": "0"}
    )
    page = to_html(report)
    assert "<script" not in page and "<img" not in page and "Analyst <b>" not in page
    assert "Analyst &lt;b&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    text = to_markdown(report)
    assert "````text\n" + HOSTILE + "\n````" in text  # a fence longer than any inside: shown as it is
    assert "# Report: \\<script\\>alert(1)\\</script\\>\\<img" in text  # a title: escaped, no markup
    assert "### Step 1: Analyst \\<b\\>" in text


def test_a_file_is_hashed_once_in_the_background_and_again_when_it_changes(tmp_path, monkeypatch) -> None:
    """A provider starts hashing its model as it is made; the reply's provenance then finds the digest ready
    (one hashing, however many ask at once), and a file changed since is hashed again."""
    import hashlib
    import threading

    import app.core.knowledge.index as index
    from app.core import provenance

    hashed: list[str] = []
    real = index.file_sha256
    release = threading.Event()

    def counted(path):
        hashed.append(path.name)
        release.wait(10)  # the background thread holds the file's lock while a reply asks for it
        return real(path)

    monkeypatch.setattr(index, "file_sha256", counted)
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + bytes(range(256)) * 4000)
    provenance.hash_in_background([model, tmp_path / "gone.gguf"])  # a missing file is skipped, not an error
    provenance.hash_in_background([model])  # asked twice while hashing: one thread, one hashing
    answers: list[str | None] = []
    asker = threading.Thread(target=lambda: answers.append(provenance.file_sha256(model)))
    asker.start()
    release.set()
    asker.join(10)
    assert answers == [hashlib.sha256(model.read_bytes()).hexdigest()]
    assert hashed == ["model.gguf"]
    assert provenance.file_sha256(model) == answers[0] and hashed == ["model.gguf"]
    model.write_bytes(b"GGUF changed")
    assert provenance.file_sha256(model) == hashlib.sha256(b"GGUF changed").hexdigest()
    assert hashed == ["model.gguf", "model.gguf"]
    assert provenance.file_sha256(tmp_path / "gone.gguf") is None
