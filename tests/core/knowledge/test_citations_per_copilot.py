"""Citations you can check: each reply's sources are its own when several copilots answer (the starter model,
real documents and embeddings); they carry the question they were found for; the terminal names the copilot
once more than one cited; the matched words are found for highlighting. Structure is asserted, not wording."""

import json
from pathlib import Path

from app.core.crew.engine import CrewRun
from app.core.crew.events import HandoffEvent, MessageEvent, RunDone
from app.core.crew.runs import ask
from app.core.crew.transcript import citation_label, citing_copilots
from app.core.knowledge.embedding import embed_pending
from app.core.knowledge.index import add_paths
from app.core.knowledge.search import matched_spans
from app.core.providers.base import Citation
from app.core.store import STATUS_COMPLETE
from tests.conftest import run_cli
from tests.core.crew.remote import add_remote

QUESTION = "@analyst @writer @generalist What coupon does the Zephyr bond pay?"
HANDOFF_QUESTION = "@ping What coupon does the Zephyr bond pay?"
HANDOFF_TASK = "When does the Lisbon office open?"
REPLY_TOKENS = 32  # the citations matter, not the replies' length


def prepare(ctx, folder: Path) -> None:
    """A fact sheet in the workspace; analyst and generalist read documents, writer opts out; short replies."""
    folder.mkdir(exist_ok=True)
    sheet = folder / "fact-sheet.md"
    sheet.write_text(
        "# Zephyr bond\n\nThe Zephyr 2031 bond pays a coupon of 4.25% twice a year.\n\n"
        "# Office\n\nThe Lisbon office opens at 8:30 on weekdays.\n"
    )
    add_paths(ctx.store, "default", [sheet])
    embed_pending(ctx.store, ctx.embedder(), "default")
    for copilot_id, knowledge in (("analyst", True), ("writer", False), ("generalist", True)):
        copilot = ctx.copilot(copilot_id)
        sampling = {**copilot.sampling.model_dump(), "max_tokens": REPLY_TOKENS}
        manifest = {**copilot.model_dump(), "knowledge": knowledge, "sampling": sampling}
        ctx.store.save_copilot(copilot.id, copilot.name, manifest)


def finals(events) -> list[MessageEvent]:
    return [e for e in events if isinstance(e, MessageEvent) and e.status != "streaming"]


def test_each_copilots_reply_keeps_its_own_sources_live_and_stored(ctx, tmp_path: Path) -> None:
    prepare(ctx, tmp_path / "docs")
    events = list(ask(ctx, QUESTION))
    assert isinstance(events[-1], RunDone) and events[-1].status == STATUS_COMPLETE
    replies = finals(events)
    assert [r.author for r in replies] == ["analyst", "writer", "generalist"]
    by_author = {r.author: r for r in replies}
    assert by_author["writer"].citations == []  # it opted out: nothing of the others' leaked onto its reply
    for author in ("analyst", "generalist"):
        cited = by_author[author].citations
        assert cited and cited[0].source == "fact-sheet.md"
        assert {c.query for c in cited} == {QUESTION}  # found for this question: what a view highlights
    # read back, every message holds exactly the citations its run event carried, under the same author
    stored = {e.message_id: e for e in finals(ctx.store.timeline(events[-1].thread_id))}
    assert {r.message_id: (r.author, r.citations) for r in replies} == {
        m: (e.author, e.citations) for m, e in stored.items() if e.author != "user"
    }
    assert citing_copilots(stored.values()) == {"analyst", "generalist"}


def handoff_run(ctx, folder: Path) -> tuple[str, list]:
    """Ping (a scripted remote reading documents) answers the user, then hands the analyst (the starter model) a
    task about another section of the same document; returns the thread and the run's events."""
    prepare(ctx, folder)
    handoff = {"to": "analyst", "task": HANDOFF_TASK, "context": ""}
    add_remote(ctx, "ping", [{"text": "4.25%, see [1].", "calls": [handoff]}], ["analyst"])
    ctx.store.save_copilot("ping", "Ping", {**ctx.copilot("ping").model_dump(), "knowledge": True})
    thread = ctx.store.create_thread(HANDOFF_QUESTION)
    run = CrewRun(ctx, thread.id, [ctx.copilot("ping"), ctx.copilot("analyst")], max_hops=1)
    return thread.id, list(run.handle(HANDOFF_QUESTION))


def test_after_a_handoff_each_copilots_sources_stay_its_own(ctx, tmp_path: Path) -> None:
    thread_id, events = handoff_run(ctx, tmp_path / "docs")
    (handoff,) = [e for e in events if isinstance(e, HandoffEvent)]
    assert (handoff.status, handoff.from_, handoff.to) == ("accepted", "ping", "analyst")
    ping, analyst = finals(events)
    assert (ping.author, analyst.author) == ("ping", "analyst")
    # each reply's passages were found for its own question: the user's, then the handed-off task
    assert {c.query for c in ping.citations} == {HANDOFF_QUESTION}
    assert {c.query for c in analyst.citations} == {HANDOFF_TASK}
    assert (ping.citations[0].location, analyst.citations[0].location) == ("Zephyr bond", "Office")
    stored = {e.message_id: e for e in finals(ctx.store.timeline(thread_id)) if e.author != "user"}
    assert {m: (e.author, e.citations) for m, e in stored.items()} == {
        r.message_id: (r.author, r.citations) for r in (ping, analyst)
    }


def test_the_terminal_names_the_copilot_once_several_cited(ctx, tmp_path: Path) -> None:
    prepare(ctx, tmp_path / "docs")
    run = run_cli("ask", QUESTION)
    assert run.returncode == 0, run.stderr
    (listed,) = json.loads(run_cli("threads", "ls", "--json").stdout)
    shown = run_cli("threads", "show", listed["id"])
    assert shown.returncode == 0, shown.stderr
    for output in (run.stdout, shown.stdout):
        analyst, writer, generalist = (output.index(f"── {name} ──") for name in ("analyst", "writer", "generalist"))
        assert analyst < writer < generalist
        # each source line sits under its own reply and names that reply's copilot
        assert "[1] fact-sheet.md, Zephyr bond (generalist)" in output[generalist:]
        assert "(analyst)" not in output[writer:] and "(generalist)" not in output[:generalist]
        assert "fact-sheet.md" not in output[writer:generalist]
    assert "[1] fact-sheet.md, Zephyr bond (analyst)" in shown.stdout[: shown.stdout.index("── writer ──")]
    exported = tmp_path / "thread.md"
    assert run_cli("threads", "export", listed["id"], "-o", str(exported)).returncode == 0
    markdown = exported.read_text()
    assert markdown.index("> [1] fact-sheet.md, Zephyr bond (analyst)") < markdown.index("## writer")
    assert markdown.index("## generalist") < markdown.index("> [1] fact-sheet.md, Zephyr bond (generalist)")


def test_one_copilot_citing_is_not_named_and_the_label_is_the_one_wording() -> None:
    source = Citation("q3.pdf", "text", "page 2", number=1)
    assert citation_label(source, 1) == "[1] q3.pdf, page 2"
    assert citation_label(source, 1, "analyst") == "[1] q3.pdf, page 2 (analyst)"
    assert citation_label(Citation("agent note"), 3, "scout") == "[3] agent note (scout)"


def test_the_matched_words_are_found_with_their_endings() -> None:
    text = "The Zephyr bond pays a coupon of 4.25%. Coupons are paid twice; zephyrs are winds."
    marked = [text[a:b] for a, b in matched_spans(text, "What coupons does the Zephyr bond pay?")]
    assert marked == ["Zephyr", "bond", "pays", "coupon", "Coupons", "zephyrs"]  # "paid" is another word
    assert matched_spans(text, "the of a") == [] and matched_spans("", "coupon") == []
