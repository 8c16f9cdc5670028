"""`roundtable docs link/links/unlink/sync` and the sync before `search` reads documents, on real files."""

import json
from pathlib import Path

from app.core.errors import ExitCode
from tests.conftest import run_cli


def _ok(*args: str):
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    return done


def test_a_linked_folder_is_followed_by_search_and_unlinked(tmp_path: Path) -> None:
    folder = tmp_path / "linked"
    folder.mkdir()
    (folder / "bond.md").write_text("# Zephyr bond\n\nThe Zephyr 2031 bond pays a coupon of 4.25%.\n")
    (folder / "office.txt").write_text("The Lisbon office opens at 8:30 on weekdays.\n")
    linked = _ok("docs", "link", str(folder), "--no-embed")
    assert "added: 2" in linked.stdout
    (row,) = json.loads(_ok("docs", "links", "--json").stdout)
    assert (row["path"], row["workspace_id"], row["documents"], row["last_error"]) == (str(folder), "default", 2, None)

    quiet = _ok("search", "Lisbon", "--mode", "bm25")
    assert "office.txt" in quiet.stdout and "linked folders" not in quiet.stderr  # nothing changed: nothing said

    (folder / "office.txt").unlink()
    (folder / "walrus.md").write_text("Walrus funds rebalance every March.\n")
    changed = _ok("search", "Lisbon walrus", "--mode", "bm25", "--json")
    assert "1 added" in changed.stderr and "1 removed" in changed.stderr
    assert [hit["title"] for hit in json.loads(changed.stdout)] == ["walrus.md"]  # stdout stays JSON

    refused = run_cli("docs", "rm", "walrus.md")
    assert refused.returncode == ExitCode.USAGE and "linked folder" in refused.stderr
    unlinked = _ok("docs", "unlink", str(folder))
    assert "2 documents were removed" in unlinked.stdout
    assert json.loads(_ok("docs", "ls", "--json").stdout) == []
    assert json.loads(_ok("docs", "links", "--json").stdout) == []


def test_unlink_keep_leaves_the_documents_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("Alpha document.\n")
    (tmp_path / "b.txt").write_bytes(b"\0\1binary")
    linked = _ok("docs", "link", str(tmp_path), "--no-embed")
    assert "skipped: b.txt" in linked.stdout
    assert "ok, 1 skipped" in _ok("docs", "links").stdout
    kept = _ok("docs", "unlink", str(tmp_path), "--keep")
    assert "1 documents stay" in kept.stdout
    (document,) = json.loads(_ok("docs", "ls", "--json").stdout)
    assert document["name"] == "a.md" and document["folder"] is None


def test_bad_links_are_one_line_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("Alpha document.\n")
    for args in (
        ("docs", "link", str(tmp_path / "missing")),
        ("docs", "link", str(tmp_path / "a.md")),
        ("docs", "unlink", str(tmp_path)),
    ):
        done = run_cli(*args)
        assert done.returncode == ExitCode.USAGE, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_ask_reads_a_file_added_to_a_linked_folder_since_the_last_command(tmp_path: Path) -> None:
    folder = tmp_path / "linked"
    folder.mkdir()
    (folder / "office.md").write_text("# Office\n\nThe Lisbon office opens at 8:30 on weekdays.\n")
    _ok("docs", "link", str(folder))
    (folder / "bond.md").write_text("# Zephyr bond\n\nThe Zephyr 2031 bond pays a coupon of 4.25% twice a year.\n")
    asked = _ok("ask", "What coupon does the Zephyr bond pay?")
    assert "[linked folders: 1 added]" in asked.stderr
    assert "  [1] bond.md, Zephyr bond\n" in asked.stdout  # found, embedded and cited in the same command
