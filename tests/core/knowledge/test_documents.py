"""Documents in a workspace: reading each format, indexing, re-adding, bad input, search, cited answers."""

import json
import sqlite3
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from sqlite_utils import Database

from app.core.knowledge.index import add_paths, chunk_sections
from app.core.knowledge.readers import Section, document_kind, read_sections
from app.core.store import Store
from app.core.store.migrations import migrate
from tests.conftest import run_cli
from tests.core.knowledge import samples


def sections(path: Path) -> list[Section]:
    return list(read_sections(path, document_kind(path)))


def test_each_format_is_read_with_where_its_text_is(tmp_path) -> None:
    md = sections(samples.markdown(tmp_path / "zephyr.md"))
    assert [s.location for s in md] == ["Zephyr bond", "Risks"] and samples.ZEPHYR in md[0].text
    pdf = sections(samples.pdf(tmp_path / "report.pdf", ["First page: bonds.", "Second page: equities."]))
    assert [(s.location, s.text.strip()) for s in pdf] == [
        ("page 1", "First page: bonds."),
        ("page 2", "Second page: equities."),
    ]
    docx = sections(samples.docx(tmp_path / "memo.docx"))
    assert docx[0].location == "Quarterly memo" and "Duration of the portfolio fell to 4.1 years." in docx[0].text
    page = sections(samples.html(tmp_path / "notes.html"))
    assert [s.location for s in page] == ["Yield curve", "Outlook"]
    assert "inverted" in page[0].text and "secret" not in " ".join(s.text for s in page)


def test_passages_overlap_and_stay_within_their_size() -> None:
    text = " ".join(f"Sentence number {i} about bonds." for i in range(400))
    chunks = list(chunk_sections([Section("page 1", text)], size=500, overlap=100))
    assert all(len(c[1]) <= 500 for c in chunks) and len(chunks) > 20
    for first, second in zip(chunks, chunks[1:], strict=False):
        assert first[1][-40:] in second[1]  # each passage repeats the end of the one before
    assert chunks[0][1].startswith("Sentence number 0") and chunks[-1][1].endswith("Sentence number 399 about bonds.")


def test_adding_again_skips_unchanged_files_and_replaces_changed_ones(home, tmp_path) -> None:
    store = Store(tmp_path / "test.db")
    doc = samples.markdown(tmp_path / "zephyr.md")
    first = add_paths(store, "default", [doc])
    assert first.added == [str(doc)]
    assert add_paths(store, "default", [doc]).unchanged == [str(doc)]
    doc.write_text("# Zephyr bond\n\nThe Zephyr bond was called early in 2026.\n")
    assert add_paths(store, "default", [doc]).updated == [str(doc)]
    (only,) = store.documents("default")
    assert [h.text for h in store.search_chunks("called early", "default", 5)] == [
        "# Zephyr bond\n\nThe Zephyr bond was called early in 2026."
    ]
    assert store.search_chunks("7.25", "default", 5) == []  # the old version's passages are gone
    store.close()


@pytest.mark.parametrize("others", [100, 3000])
def test_a_workspace_gets_its_own_best_passages_beside_a_bigger_one_that_matches_better(tmp_path, others) -> None:
    # BM25 ranks over every workspace's passages and the workspace is checked on the ranked ids: here its own
    # passages rank after `others` better ones (shorter, so BM25 prefers them), read deeper (100) or by the
    # join (3000, past the depth where the ids are checked one by one): the answer is the same.
    store = Store(tmp_path / "test.db")
    small = store.create_workspace("small")
    store.save_document("default", "big.md", "big.md", "markdown", "b", 0, [(None, "zephyr")] * others)
    mine = [(None, f"zephyr coupon note {i} " + "filler " * i) for i in range(5)]
    store.save_document(small, "small.md", "small.md", "markdown", "s", 0, mine)
    everywhere = store.rank_chunks("zephyr", None, others + 5)
    own = {int(h.id) for h in store.chunk_hits([i for i, _ in everywhere]) if h.title == "small.md"}
    expected = [pair for pair in everywhere if pair[0] in own][:3]
    assert len(expected) == 3 and everywhere[0][0] not in own  # the big workspace's passages rank first
    assert store.rank_chunks("zephyr", small, 3) == expected
    assert [h.text for h in store.search_chunks("zephyr", small, 3)] == [mine[i][1] for i in range(3)]
    store.close()


def test_bad_files_are_reported_one_by_one_and_the_rest_are_added(home, tmp_path) -> None:
    store = Store(tmp_path / "test.db")
    good = samples.markdown(tmp_path / "good.md")
    binary = tmp_path / "image.png.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0IHDR" + bytes(range(256)) * 4)
    broken_pdf = tmp_path / "broken.pdf"
    broken_pdf.write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    locked = samples.encrypted_pdf(samples.pdf(tmp_path / "plain.pdf", ["secret numbers"]), tmp_path / "locked.pdf")
    vanishing = samples.markdown(tmp_path / "vanishing.md")

    def progress(step) -> None:  # the file disappears while the others are indexed
        if step.path.endswith("plain.pdf") and vanishing.exists():
            vanishing.unlink()

    report = add_paths(
        store, "default", [good, binary, broken_pdf, locked, tmp_path / "plain.pdf", vanishing], progress
    )
    reasons = dict(report.failed)
    assert "binary file" in reasons[str(binary)]
    assert "not a readable PDF" in reasons[str(broken_pdf)]
    assert "encrypted PDF" in reasons[str(locked)] and "password" in reasons[str(locked)]
    assert "not there" in reasons[str(vanishing)]
    assert sorted(report.added) == sorted([str(good), str(tmp_path / "plain.pdf")])
    store.close()


def test_a_huge_text_file_is_streamed_in_bounded_memory(home, tmp_path) -> None:
    store = Store(tmp_path / "test.db")
    huge = tmp_path / "huge.log"
    line = "2026-11-24 bond desk: priced 1000 units of the Zephyr bond at par, nothing unusual to report.\n"
    with huge.open("w") as file:
        for _ in range(400_000):  # about 38 MB
            file.write(line)
    tracemalloc.start()
    report = add_paths(store, "default", [huge])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.added == [str(huge)]
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.0f} MB while indexing a {huge.stat().st_size / 2**20:.0f} MB file"
    assert store.documents("default")[0].chunk_count > 30_000
    store.close()


def test_search_finds_messages_and_documents_with_highlights(home, tmp_path) -> None:
    samples.markdown(tmp_path / "zephyr.md")
    assert run_cli("docs", "add", str(tmp_path)).returncode == 0
    store = Store(home / "data" / "roundtable.db")
    thread = store.create_thread("Coupons")
    store.add_message(thread.id, "user", "user", "Is the Zephyr coupon fixed or floating?")
    store.close()

    found = json.loads(run_cli("search", "zephyr", "coupon", "--json").stdout)
    assert {h["kind"] for h in found} == {"message", "document"}
    document = next(h for h in found if h["kind"] == "document")
    assert document["title"] == "zephyr.md" and document["location"] == "Zephyr bond"
    assert "[Zephyr]" in document["snippet"] and "[coupon]" in document["snippet"]
    message = next(h for h in found if h["kind"] == "message")
    assert message["thread_id"] == thread.id and "[Zephyr] [coupon]" in message["snippet"]
    for odd in ('"AND (', "NEAR(x", "*", "coupon OR"):  # FTS5 syntax in user text never breaks a search
        assert run_cli("search", odd).returncode in (0, 2)
    by_words = json.loads(run_cli("search", "zephyr", "--mode", "bm25", "--workspace", "Default", "--json").stdout)
    assert len(by_words) == 2
    # hybrid (the default) adds the passages nearest in meaning, after those both rankings agree on
    hybrid = json.loads(run_cli("search", "zephyr", "--workspace", "Default", "--json").stdout)
    assert [h["location"] for h in hybrid if h["kind"] == "document"] == ["Zephyr bond", "Risks"]
    elsewhere = run_cli("search", "zephyr", "--workspace", "nowhere")
    assert elsewhere.returncode == 2 and "No workspace 'nowhere'" in elsewhere.stderr


def test_documents_are_listed_and_removed_from_the_cli(home, tmp_path) -> None:
    samples.docx(tmp_path / "memo.docx")
    added = run_cli("docs", "add", str(tmp_path / "memo.docx"), "--json")
    assert json.loads(added.stdout)["added"] == [str(tmp_path / "memo.docx")]
    (listed,) = json.loads(run_cli("docs", "ls", "--json").stdout)
    assert (listed["name"], listed["kind"], listed["chunk_count"]) == ("memo.docx", "docx", 1)
    assert run_cli("docs", "rm", "memo.docx").returncode == 0
    assert json.loads(run_cli("docs", "ls", "--json").stdout) == []
    nothing = run_cli("docs", "add", str(tmp_path / "missing.md"))
    assert nothing.returncode == 2 and "not there" in nothing.stderr


def test_a_local_copilot_answers_from_a_document_and_cites_it(home, tmp_path) -> None:
    samples.pdf(tmp_path / "zephyr.pdf", ["Contents: bonds we hold.", samples.ZEPHYR, "Appendix: ratings."])
    assert run_cli("docs", "add", str(tmp_path / "zephyr.pdf")).returncode == 0
    assert run_cli("copilots", "edit", "analyst", "--knowledge").returncode == 0
    asked = run_cli("ask", "--copilot", "analyst", "--json", "What coupon does the Zephyr bond pay?")
    assert asked.returncode == 0, asked.stderr
    events = [json.loads(line) for line in asked.stdout.splitlines()]
    assert any(e["type"] == "status" and "passages" in e["message"] for e in events)
    shown = json.loads(run_cli("threads", "show", events[-1]["thread_id"], "--json").stdout)
    reply = shown["messages"][1]
    assert "7.25" in reply["text"]
    (first, *_rest) = reply["data"]["citations"]
    assert (first["source"], first["location"]) == ("zephyr.pdf", "page 2") and samples.ZEPHYR in first["passage"]
    text = run_cli("threads", "show", events[-1]["thread_id"]).stdout
    assert "[1] zephyr.pdf, page 2" in text


def test_messages_stored_before_search_existed_are_found_after_the_upgrade(tmp_path) -> None:
    path = tmp_path / "old.db"
    old = Database(sqlite3.connect(path, isolation_level=None))
    migrate(old, upto=4)  # a database from before documents and search
    old.execute("INSERT INTO workspaces VALUES ('default', 'Default', '2026-01-01')")
    old.execute("INSERT INTO threads VALUES ('t1', 'default', 'Old', '2026-01-01', '2026-01-01')")
    old.execute(
        "INSERT INTO messages (id, thread_id, author, role, status, text, created_at, updated_at)"
        " VALUES ('m1', 't1', 'user', 'user', 'complete', 'An old question about convexity', '2026-01-01',"
        " '2026-01-01')"
    )
    old.conn.close()
    store = Store(path)
    (hit,) = store.search_messages("convexity", None, 5)
    assert hit.id == "m1" and "[convexity]" in hit.snippet
    store.close()


@pytest.mark.parametrize("query", ["", "   "])
def test_an_empty_search_is_refused(query) -> None:
    result = run_cli("search", query)
    assert result.returncode == 2


# -- hostile shapes: no line breaks, one giant paragraph -------------------------------------------------------

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_PEAK_CAP = 4 * 2**20  # Python memory while indexing, whatever the document's size


def _words(chars: int) -> str:
    """Prose-like text without a line break: varied enough that a DOCX of it compresses like a real one."""
    words = [f"bond{i % 997} coupon{i % 13} yield{i % 101}" for i in range(chars // 30 + 1)]
    return " ".join(words)[:chars]


def _one_line_markdown(path: Path, chars: int, heading_words: int = 50) -> Path:
    path.write_text("# " + "Heading without end " * heading_words + "\n" + _words(chars))
    return path


def _one_paragraph_docx(path: Path, chars: int) -> Path:
    body = f"<w:p><w:r><w:t>{_words(chars)}</w:t></w:r></w:p>"
    document = f'<?xml version="1.0"?><w:document xmlns:w="{_W_NS}"><w:body>{body}</w:body></w:document>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", document)
    return path


def _one_line_html(path: Path, chars: int) -> Path:
    path.write_text(f"<html><body><!-- {'x' * 200_000} --><p>{_words(chars)}</p></body></html>")
    return path


def _indexing_work(store: Store, path: Path) -> tuple[int, int, int]:
    """(passages, characters stored, Python peak bytes) for adding `path` to an empty workspace."""
    tracemalloc.start()
    report = add_paths(store, "default", [path])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.added == [str(path)], report.failed
    (row,) = store.conn.read(
        "SELECT count(*) AS n, sum(length(c.text)) AS chars FROM chunks c JOIN documents d ON d.id = c.document_id"
        " WHERE d.path = ?",
        [str(path)],
    )
    return row["n"], row["chars"], peak


@pytest.mark.parametrize("make", [_one_line_markdown, _one_paragraph_docx, _one_line_html], ids=["md", "docx", "html"])
def test_a_document_without_line_breaks_is_indexed_in_linear_work_and_bounded_memory(tmp_path, make) -> None:
    """Four times the text makes four times the passages and stored characters (each passage costs a bounded
    amount of work) while the memory used stays the same: nothing re-reads or re-copies the text seen so far.
    Before the fix, a line was read whole and its rest re-sliced after every passage (quadratic)."""
    store = Store(tmp_path / "test.db")
    suffix = {"_one_line_markdown": ".md", "_one_paragraph_docx": ".docx", "_one_line_html": ".html"}[make.__name__]
    small = _indexing_work(store, make(tmp_path / f"small{suffix}", 2**20))
    large = _indexing_work(store, make(tmp_path / f"large{suffix}", 4 * 2**20))
    store.close()
    assert 3.8 < large[0] / small[0] < 4.2, (small, large)
    assert 3.8 < large[1] / small[1] < 4.2, (small, large)
    assert large[1] < 4 * 2**20 * 1.25  # the overlap repeats a sixth of the text, never the text seen so far
    assert large[2] < _PEAK_CAP and small[2] < _PEAK_CAP, (small, large)
    assert large[2] < small[2] * 1.5 + 256 * 1024, (small, large)


def test_a_giant_heading_is_cut_to_a_short_location(tmp_path) -> None:
    path = _one_line_markdown(tmp_path / "heading.md", 10_000, heading_words=5000)  # a 100 KB heading
    locations = {location for location, _text in chunk_sections(read_sections(path, "markdown"))}
    assert locations and all(location and len(location) <= 200 for location in locations)
