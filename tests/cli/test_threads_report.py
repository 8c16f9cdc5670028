"""`roundtable threads report` and `threads replay` on a real two-step crew run of the starter model: the report
names both copilots with their model, its sha256 and the passages each read; the PDF renders (pdftoppm); a
replay asks each reply again and finds it identical."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from app.core.paths import Paths
from tests.conftest import run_cli, write_settings

NOTE = """# EBITDA, a note for the finance team

EBITDA means earnings before interest, taxes, depreciation and amortisation. Analysts at Harbour Capital use it
to compare the operating results of firms with different debt and tax positions.
"""
QUESTION = "@analyst what is EBITDA, then @writer a haiku about it"


@pytest.fixture
def crew_thread(home: Path, starter_model: Path, embedding_model: Path) -> str:
    """A thread whose run took two steps (analyst, then writer), each reading the workspace's note: the analyst
    samples (with the seed it is given), the writer is greedy."""
    write_settings(home, "max_reply_tokens = 40\n")
    greedy = run_cli("copilots", "edit", "writer", "--temperature", "0")
    assert greedy.returncode == 0, greedy.stderr
    note = home / "ebitda-note.md"
    note.write_text(NOTE)
    added = run_cli("docs", "add", str(note))
    assert added.returncode == 0, added.stderr
    asked = run_cli("ask", "--json", QUESTION)
    assert asked.returncode == 0, asked.stderr
    return json.loads(asked.stdout.splitlines()[-1])["thread_id"]


def _replies(thread_id: str) -> list[dict]:
    shown = json.loads(run_cli("threads", "show", thread_id, "--json").stdout)
    return [m for m in shown["messages"] if m["role"] == "assistant"]


def test_a_two_step_run_reports_both_copilots_with_models_and_sources_and_replays_identically(
    crew_thread: str, starter_model: Path, tmp_path: Path
) -> None:
    replies = _replies(crew_thread)
    assert [r["author"] for r in replies] == ["analyst", "writer"]
    analyst, writer = (r["data"]["trace"]["sampling"]["temperature"] for r in replies)
    assert analyst > 0 and writer == 0  # one samples with its seed, one is greedy
    digest = hashlib.sha256(starter_model.read_bytes()).hexdigest()
    for reply in replies:
        provenance = reply["data"]["trace"]["provenance"]
        assert provenance["model_sha256"] == digest and provenance["model_path"] == str(starter_model)
        assert provenance["seed"] is not None and provenance["passages"], provenance
        assert provenance["passages"][0]["title"] == "ebitda-note.md"

    html_file, md_file, pdf_file = tmp_path / "report.html", tmp_path / "report.md", tmp_path / "report.pdf"
    for output in (html_file, md_file, pdf_file):
        made = run_cli("threads", "report", crew_thread, "-o", str(output))
        assert made.returncode == 0, made.stderr
        assert f"Wrote {output}: 1 question(s), 2 replies." in made.stdout
    for text in (html_file.read_text(), md_file.read_text()):
        for expected in ("Analyst", "Writer", "SmolLM2-135M-Instruct.Q4_1.gguf", digest, "ebitda-note.md", "score"):
            assert expected in text, expected
        assert "what is EBITDA" in text and "Reproducibility" in text
        assert f"roundtable threads replay {crew_thread}" in text
    page = html_file.read_text()
    assert "<svg" in page and "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "```mermaid" in md_file.read_text()

    assert pdf_file.read_bytes().startswith(b"%PDF")
    shutil.which("pdftoppm") or pytest.fail("pdftoppm is missing: `./dev test` installs poppler-utils")
    subprocess.run(["pdftoppm", "-r", "40", "-gray", str(pdf_file), str(tmp_path / "page")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("page*.pgm"))
    assert pages, "pdftoppm drew no page"
    assert _inked(pages[0]) > 0.005  # text was drawn: not a blank page

    replayed = run_cli("threads", "replay", crew_thread)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "2 identical" in replayed.stdout


def _inked(pgm: Path) -> float:
    """The share of a binary PGM's pixels that are darker than light grey."""
    data = pgm.read_bytes()
    fields, position = [], 0
    while len(fields) < 4:  # magic, width, height, maxval: whitespace-separated, then one byte, then pixels
        while data[position : position + 1].isspace():
            position += 1
        end = position
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[position:end])
        position = end
    pixels = data[position + 1 :]
    assert fields[0] == b"P5" and len(pixels) == int(fields[1]) * int(fields[2])
    return sum(1 for value in pixels if value < 200) / len(pixels)


def test_a_replay_says_where_a_changed_reply_differs_and_skips_a_changed_model(crew_thread: str, home) -> None:
    replies = _replies(crew_thread)
    first = replies[0]
    database = Paths.from_environment().database
    changed = first["text"][:5] + "~" + first["text"][6:]
    with sqlite3.connect(database) as conn:  # as if the stored answer had been edited
        conn.execute("UPDATE messages SET text = ? WHERE id = ?", [changed, first["id"]])
    replayed = run_cli("threads", "replay", crew_thread, "--json")
    assert replayed.returncode == 1
    results = {r["message_id"]: r for r in json.loads(replayed.stdout)}
    assert results[first["id"]]["outcome"] == "differs" and results[first["id"]]["first_difference"] == 5
    assert results[replies[1]["id"]]["outcome"] == "identical"

    with sqlite3.connect(database) as conn:  # the kept request edited: refused, not replayed
        conn.execute("UPDATE message_requests SET data = ? WHERE message_id = ?", [b"not zlib", replies[1]["id"]])
    again = json.loads(run_cli("threads", "replay", crew_thread, "--json").stdout)
    second = next(r for r in again if r["message_id"] == replies[1]["id"])
    assert second["outcome"] == "failed" and "does not read" in second["detail"]


def test_a_report_needs_a_format_it_knows(crew_thread: str, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    refused = run_cli("threads", "report", crew_thread, "-o", str(out / "report.docx"))
    assert refused.returncode == 2 and "name it .html, .md or .pdf" in refused.stderr
    missing = run_cli("threads", "report", crew_thread, "-o", str(out / "no-such-folder" / "report.md"))
    assert missing.returncode == 2 and "Cannot write" in missing.stderr
    assert not list(out.iterdir())
