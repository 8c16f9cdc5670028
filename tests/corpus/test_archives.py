"""Malformed workspace archives: each is refused by `roundtable workspaces import` in one line with its reason,
exit 2, with bounded memory, and the database stays exactly as it was.

The files under archives/ were written with tests/core/store/archive_builder.py (each is under 5 KB); the zip bomb
too big to commit is built here at test time (`big_bomb`).
"""

from __future__ import annotations

import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from app.core.store.archive_checks import MAX_RATIO, MAX_WORKSPACE_BYTES, ArchiveError, read_archive
from tests.conftest import run_cli
from tests.core.store.archive_builder import STAMP, content, write_archive
from tests.corpus.own_peak_rss import cli_with_peak_rss, db_dump

CORPUS = Path(__file__).parent / "archives"
CLI_RSS_CAP = 150 << 20  # a whole `roundtable` process takes about 60 MiB; the big bomb inflated is 256 MiB

# file -> words the one-line refusal must hold (the reason, naming the member, field or limit)
EXPECTED = {
    "absolute-path.roundtable": "unsafe name '/etc/cron.d/owned'",
    "backslash-path.roundtable": "unsafe name",
    "bad-copilot.roundtable": "copilots.0: 'sampling.temperature'",
    "bad-crc.roundtable": "Bad CRC-32",
    "citation-without-source.roundtable": "'messages.1.data.citations.0.source' is missing or not text",
    "citations-not-a-list.roundtable": "'messages.1.data.citations' is not a list",
    "copilot-not-table.roundtable": "copilots.0: '(manifest)' is not a table of fields",
    "dangling-thread.roundtable": "'messages.0.thread_id' names a thread the archive does not hold",
    "deep-nesting.roundtable": "'workspace.json' is not valid JSON",
    "duplicate-members.roundtable": "holds 'workspace.json' twice",
    "duplicate-thread-ids.roundtable": "'threads.1' repeats the id 't1'",
    "event-data-not-json.roundtable": "'events.0.data' is not valid JSON",
    "foreign-format.roundtable": "is not a Roundtable workspace archive",
    "handoff-card-incomplete.roundtable": "'events.1.data.from' is missing or not text",
    "handoff-rejected-without-reason.roundtable": "'events.2.data.reason' is missing or not text",
    "missing-manifest.roundtable": "it has no manifest.json",
    "missing-workspace.roundtable": "it has no workspace.json",
    "newer-version.roundtable": "exported by a newer Roundtable",
    "not-a-zip.roundtable": "is not a Roundtable workspace archive, or it is damaged",
    "not-json.roundtable": "'workspace.json' is not valid JSON",
    "path-traversal.roundtable": "unsafe name '../../.bashrc'",
    "replies-not-object.roundtable": "replies.json is not an object",
    "reply-confidence-damaged.roundtable": "'replies.confidence.m1' is damaged: confidence data cut short",
    "reply-for-unknown-message.roundtable": "'replies.confidence.ghost' names a message the archive does not hold",
    "reply-not-base64.roundtable": "'replies.requests.m1' is not base64",
    "reply-not-text.roundtable": "'replies.requests.m1' input should be a valid string",
    "reply-request-bomb.roundtable": "'replies.requests.m1' is damaged: over 16 MB unpacked",
    "reply-request-damaged.roundtable": "'replies.requests.m1' is damaged: it does not read",
    "roster-unknown-copilot.roundtable": "its roster names copilots it does not hold (ghost)",
    "route-without-reason.roundtable": "'events.2.data.reason' is missing or not text",
    "small-bomb.roundtable": "would inflate",
    "tool-result-not-text.roundtable": "'events.2.data.result' is not text",
    "trace-not-object.roundtable": "'messages.1.data.trace' is not an object",
    "truncated.roundtable": "is not a Roundtable workspace archive, or it is damaged",
    "unexpected-member.roundtable": "unexpected file 'notes.txt'",
    "unknown-message-status.roundtable": "'messages.0.status' is not one of",
    "version-not-number.roundtable": "no valid version ('1')",
    "workspace-not-object.roundtable": "workspace.json is not an object",
    "wrong-field-type.roundtable": "'messages.0.text' input should be a valid string",
    "wrong-table-type.roundtable": "'threads' input should be a valid list",
}


def big_bomb(path: Path) -> Path:
    """About 255 KiB of zip that inflates to 256 MiB of workspace.json."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("manifest.json", json.dumps({"format": "roundtable-workspace", "version": 1}))
        with archive.open("workspace.json", "w") as member:
            block = b" " * (1 << 20)
            for _ in range(256):
                member.write(block)
    return path


def over_the_cap(path: Path) -> Path:
    """A workspace.json 1 MiB over the cap that deflates only ~5x: no bomb, just more than an import reads whole."""
    ones_and_zeros = bytes(ord("0") + (byte & 1) for byte in range(256))  # random bits as text: ~15 MiB on disk
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("manifest.json", json.dumps({"format": "roundtable-workspace", "version": 1}))
        with archive.open("workspace.json", "w") as member:
            for _ in range((MAX_WORKSPACE_BYTES >> 20) + 1):
                member.write(os.urandom(1 << 20).translate(ones_and_zeros))
    return path


@pytest.fixture
def database(home) -> str:
    assert run_cli("workspaces", "ls").returncode == 0  # the database exists, seeded, before the import
    return db_dump()


def test_the_corpus_is_all_there() -> None:
    files = {f.name for f in CORPUS.glob("*.roundtable")}
    assert files == set(EXPECTED) and len(files) >= 8
    assert all(f.stat().st_size < 50_000 for f in CORPUS.iterdir())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_damaged_archive_is_refused_cleanly(name: str, database: str) -> None:
    code, _, stderr, rss = cli_with_peak_rss("workspaces", "import", str(CORPUS / name))
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("roundtable: ") and "Traceback" not in stderr, stderr
    assert EXPECTED[name] in lines[0], lines[0]
    assert rss < CLI_RSS_CAP, rss
    assert db_dump() == database


def read_in_process(archive: Path) -> tuple[str, int]:
    """read_archive's refusal, and the peak of what Python allocated to reach it."""
    tracemalloc.start()
    try:
        read_archive(archive)
    except ArchiveError as exc:
        return str(exc), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    raise AssertionError(f"{archive.name} was read")


def test_a_255_kib_zip_of_256_mib_is_refused_at_once(tmp_path: Path, database: str) -> None:
    bomb = big_bomb(tmp_path / "bomb.roundtable")
    assert bomb.stat().st_size < 300 * 1024
    code, _, stderr, rss = cli_with_peak_rss("workspaces", "import", str(bomb))
    assert code == 2 and "'workspace.json' would inflate" in stderr and "zip bomb" in stderr, stderr
    assert rss < CLI_RSS_CAP, rss  # inflating it would have taken more than 256 MiB
    assert db_dump() == database
    message, peak = read_in_process(bomb)
    assert f"at most {MAX_RATIO}x is read" in message and "nothing was imported" in message
    assert peak < 2 << 20, peak  # decided from the zip's directory: nothing was inflated


def test_a_workspace_json_over_64_mib_is_refused_from_the_directory_naming_the_limit(
    tmp_path: Path, database: str
) -> None:
    big = over_the_cap(tmp_path / "big.roundtable")
    with zipfile.ZipFile(big) as archive:
        info = archive.getinfo("workspace.json")
    assert info.file_size > MAX_WORKSPACE_BYTES and info.file_size < MAX_RATIO * info.compress_size  # not a bomb
    code, _, stderr, rss = cli_with_peak_rss("workspaces", "import", str(big))
    assert code == 2 and "Traceback" not in stderr, stderr
    assert "'workspace.json' would inflate to 68,157,440 bytes, more than the 64 MiB limit" in stderr, stderr
    assert rss < CLI_RSS_CAP, rss
    assert db_dump() == database
    message, peak = read_in_process(big)
    assert "more than the 64 MiB limit" in message and peak < 2 << 20, (message, peak)


def test_an_archive_with_every_card_a_view_shows_imports_and_shows(tmp_path: Path, database: str) -> None:
    """The checks refuse what would crash a view, not what Roundtable itself writes (optional fields left out)."""
    workspace = content(messages=2)
    citation = {"number": 1, "source": "zephyr.md", "location": None, "passage": "The coupon is 4%.", "cited": True}
    workspace["messages"][1]["data"] = json.dumps({"citations": [citation], "trace": {"model": "q4", "by": "router"}})
    cards = [
        ("route", {"copilot": "analyst", "reason": "knows bonds", "by": "router"}),
        ("tool", {"tool": "bonds", "status": "called", "result": None}),
        ("tool", {"tool": "bonds", "status": "ok", "result": "101.5"}),
        ("handoff", {"from": "analyst", "to": "writer", "task": "Draft it", "status": "accepted"}),
        ("handoff", {"from": "analyst", "to": "ghost", "task": "", "status": "rejected", "reason": "no such copilot"}),
    ]
    workspace["events"] += [
        {"thread_id": "t1", "type": kind, "author": "analyst", "created_at": STAMP, "data": json.dumps(data)}
        for kind, data in cards
    ]
    archive = write_archive(tmp_path / "cards.roundtable", workspace)
    imported = run_cli("workspaces", "import", str(archive), "--json")
    assert imported.returncode == 0, imported.stderr
    (thread,) = [t for t in json.loads(run_cli("threads", "ls", "--json").stdout) if t["title"] == "Bonds"]
    shown = run_cli("threads", "show", thread["id"], "--trace")
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
    for words in (
        "router → analyst: knows bonds",
        "analyst used bonds: ok — 101.5",
        "handoff analyst → writer: Draft it",
        "not followed: no such copilot",
        "[1] zephyr.md",
        "trace: model=q4",
    ):
        assert words in shown.stdout, (words, shown.stdout)
