"""Knowledge on by default: the default copilot answers from a freshly added document and cites it, with no
setting changed; `knowledge = "auto"` and the older true/false manifests."""

import json
import sqlite3
from pathlib import Path

from app.core.crew.copilots import Copilot, parse_manifest
from app.core.crew.events import MessageEvent, RunDone
from app.core.crew.runs import ask
from app.core.knowledge.embedding import embed_pending
from app.core.knowledge.index import add_paths
from app.core.providers.local import LocalProvider
from app.core.store import STATUS_COMPLETE
from app.core.store.migrations import MIGRATIONS, migrate
from tests.conftest import run_cli

FACT = "The Zephyr 2031 bond pays a coupon of 4.25% twice a year; Zephyr Capital issued it in March 2021."
QUESTION = "What coupon does the Zephyr bond pay?"


def _fact_sheet(folder: Path) -> Path:
    path = folder / "fact-sheet.md"
    path.write_text(f"# Zephyr bond\n\n{FACT}\n\n# Office\n\nThe Lisbon office opens at 8:30 on weekdays.\n")
    return path


def test_the_default_copilot_answers_from_a_fresh_document_and_cites_it(ctx, tmp_path, monkeypatch) -> None:
    add_paths(ctx.store, "default", [_fact_sheet(tmp_path)])
    embed_pending(ctx.store, ctx.embedder(), "default")
    requests = []
    stream = LocalProvider.stream

    def spy(self, request, cancel):
        requests.append(request)
        return stream(self, request, cancel)

    monkeypatch.setattr(LocalProvider, "stream", spy)

    events = list(ask(ctx, QUESTION))

    assert isinstance(events[-1], RunDone) and events[-1].status == STATUS_COMPLETE
    assert ctx.copilot().id == "generalist" and ctx.copilot().knowledge == "auto"
    system = requests[0].messages[0]
    assert system.role == "system" and FACT in system.content  # the passage reached the model
    assert [d["source"] for d in requests[0].documents][0] == "fact-sheet.md"
    final = [e for e in events if isinstance(e, MessageEvent)][-1]
    assert final.author == "generalist"
    assert (final.citations[0].source, final.citations[0].location) == ("fact-sheet.md", "Zephyr bond")
    assert FACT in final.citations[0].passage


def test_ask_prints_the_sources_under_the_answer_and_json_carries_them(tmp_path: Path) -> None:
    assert run_cli("docs", "add", str(_fact_sheet(tmp_path))).returncode == 0
    shown = run_cli("ask", QUESTION)
    assert shown.returncode == 0, shown.stderr
    assert "  [1] fact-sheet.md, Zephyr bond\n" in shown.stdout
    lines = [json.loads(line) for line in run_cli("ask", "--json", QUESTION).stdout.splitlines()]
    final = [e for e in lines if e["type"] == "message"][-1]
    assert final["citations"][0]["source"] == "fact-sheet.md" and FACT in final["citations"][0]["passage"]


def test_auto_reads_documents_only_when_there_are_some_and_only_for_local_copilots() -> None:
    local = Copilot(id="a", name="A")
    assert local.knowledge == "auto"
    assert local.reads_documents(True) and not local.reads_documents(False)
    remote = Copilot(id="r", name="R", provider="openai", endpoint="https://example.org/v1")
    assert not remote.reads_documents(True)  # its passages would leave this machine: only when switched on
    assert Copilot(id="r", name="R", provider="openai", knowledge=True).reads_documents(True)
    assert not Copilot(id="b", name="B", knowledge=False).reads_documents(True)
    # manifests written before "auto" (true/false) still parse as they were
    assert parse_manifest({"id": "c", "name": "C", "knowledge": True}, "old.toml").knowledge is True
    assert parse_manifest({"id": "c", "name": "C", "knowledge": False}, "old.toml").knowledge is False


# Rows exactly as earlier Roundtables stored the starter crew (a fresh home's database at main 04d2a18 and, before
# `trust_card_origins` existed, at 6f95593): full dumps, knowledge false by default.
SHIPPED_ANALYST = (
    '{"id": "analyst", "name": "Analyst", "color": "#1f9d74", "description": "Gathers facts and figures and explains'
    ' them precisely: finance, data, definitions, comparisons.", "skills": ["facts", "finance", "numbers",'
    ' "definitions", "summaries"], "provider": "local", "model": null, "endpoint": null, "agent": null,'
    ' "api_key_name": null, "trust_card_origins": false, "lora": null, "lora_scale": 1.0, "system_prompt": "You are'
    ' Analyst. Explain the facts precisely and briefly, in plain sentences.", "sampling": {"temperature": 0.2,'
    ' "top_p": 0.9, "max_tokens": 256, "seed": null}, "context_size": null, "handoff_to": ["writer", "reviewer"],'
    ' "tools": [], "knowledge": false}'
)
SHIPPED_GENERALIST_BEFORE_TRUST_CARD = (
    '{"id": "generalist", "name": "Generalist", "color": "#5b7cfa", "description": "A helpful all-rounder: answers'
    ' questions, explains ideas, drafts short texts.", "skills": ["questions", "explanations", "drafting"],'
    ' "provider": "local", "model": null, "endpoint": null, "agent": null, "api_key_name": null, "lora": null,'
    ' "lora_scale": 1.0, "system_prompt": "You are Generalist, a helpful assistant. Answer clearly and concisely.",'
    ' "sampling": {"temperature": 0.4, "top_p": 0.95, "max_tokens": null, "seed": null}, "context_size": null,'
    ' "handoff_to": ["analyst", "writer", "reviewer"], "tools": [], "knowledge": false}'
)


def _edited(text: str, **changes: object) -> str:
    return json.dumps({**json.loads(text), **changes})


def test_only_the_starter_crew_as_shipped_becomes_auto_and_explicit_opt_outs_stay(tmp_path: Path) -> None:
    from sqlite_utils import Database

    db = Database(sqlite3.connect(tmp_path / "old.db", isolation_level=None))
    migrate(db, upto=MIGRATIONS.index(next(m for m in MIGRATIONS if m.__name__ == "m010_knowledge_auto")))
    rows = {
        "analyst": SHIPPED_ANALYST,
        "generalist": SHIPPED_GENERALIST_BEFORE_TRUST_CARD,
        # a starter copilot the user edited (its prompt, its sampling) with knowledge left off: their choice
        "writer": _edited(SHIPPED_ANALYST, id="writer", name="Writer", system_prompt="Write in French."),
        "reviewer": _edited(SHIPPED_ANALYST, id="reviewer", name="Reviewer", sampling={"temperature": 0.3}),
        "mine": Copilot(id="mine", name="Mine", knowledge=False).model_dump_json(),
        "on": Copilot(id="on", name="On", knowledge=True).model_dump_json(),
    }
    for copilot_id, manifest in rows.items():
        db.execute("INSERT INTO copilots VALUES (?,?,?,'now','now',NULL)", [copilot_id, copilot_id, manifest])
    migrate(db)
    stored = {row[0]: json.loads(row[1]) for row in db.execute("SELECT id, manifest FROM copilots")}
    assert {i: m["knowledge"] for i, m in stored.items()} == {
        "analyst": "auto",
        "generalist": "auto",
        "writer": False,
        "reviewer": False,
        "mine": False,
        "on": True,
    }
    # nothing else in an upgraded manifest changed
    assert stored["analyst"] == {**json.loads(SHIPPED_ANALYST), "knowledge": "auto"}
