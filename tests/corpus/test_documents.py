"""Hostile documents: each is refused by `roundtable docs add` in one line naming the file and why, exit 2, with
bounded memory, and the database stays exactly as it was.

The files under documents/ are small and were made by hand (a binary file named .md, invalid UTF-8, DOCX files
with a missing part, broken XML, a DOCTYPE with nested entities, truncated; PDFs with a bad xref or no body).
Too big to commit, and built here at test time: a DOCX zip bomb, and a 20 MB Markdown file without a line break
(which is not refused, but must index in bounded memory).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.corpus.own_peak_rss import cli_with_peak_rss, db_dump

CORPUS = Path(__file__).parent / "documents"
CLI_RSS_CAP = 150 << 20  # a whole `roundtable` process takes about 60 MiB; the bomb inflated is 256 MiB
_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

# file -> words the one-line refusal must hold
EXPECTED = {
    "bad_xref.pdf": "bad_xref.pdf is not a readable PDF",
    "billion_laughs.docx": "billion_laughs.docx declares a DOCTYPE, which Word never writes",
    "binary.md": "binary.md is a binary file, not a document",
    "empty.md": "empty.md has no text to index",
    "header_only.pdf": "header_only.pdf is not a readable PDF",
    "invalid_utf8.txt": "invalid_utf8.txt is not UTF-8 text: save it as UTF-8",
    "latin1_named.md": "latin1_named.md is not UTF-8 text",
    "malformed_xml.docx": "malformed_xml.docx is not a readable DOCX file (mismatched tag",
    "missing_parts.docx": "missing_parts.docx has no word/document.xml",
    "not_a_zip.docx": "not_a_zip.docx is not a readable DOCX file (File is not a zip file)",
    "only_whitespace.txt": "only_whitespace.txt has no text to index",
    "truncated.docx": "truncated.docx is not a readable DOCX file",
}


@pytest.fixture
def database(home) -> str:
    assert run_cli("docs", "ls").returncode == 0  # the database exists, seeded, before anything is added
    return db_dump()


def test_the_corpus_is_all_there() -> None:
    files = {f.name for f in CORPUS.iterdir()}
    assert files == set(EXPECTED) and len(files) >= 4
    assert all(f.stat().st_size < 50_000 for f in CORPUS.iterdir())


def _refused_cleanly(path: Path, expected: str, database: str) -> None:
    code, stdout, stderr, rss = cli_with_peak_rss("docs", "add", str(path))
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("roundtable: not added: ") and "Traceback" not in stderr, stderr
    assert expected in lines[0] and stdout == "", lines[0]
    assert rss < CLI_RSS_CAP, rss
    assert db_dump() == database


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_hostile_document_is_refused_cleanly(name: str, database: str) -> None:
    _refused_cleanly(CORPUS / name, EXPECTED[name], database)


def test_a_docx_zip_bomb_is_refused_at_once(tmp_path: Path, database: str) -> None:
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(f'<w:document xmlns:w="{_W_NS}"><w:body><w:p><w:r><w:t>'.encode())
            block = b"A" * (1 << 20)
            for _ in range(256):
                part.write(block)
            part.write(b"</w:t></w:r></w:p></w:body></w:document>")
    assert bomb.stat().st_size < 400 * 1024
    _refused_cleanly(bomb, "bomb.docx would expand to 256 MB of text", database)  # inflated: > 256 MiB of RSS


def test_a_20_mb_document_without_a_line_break_is_indexed_in_bounded_memory(tmp_path: Path, database: str) -> None:
    huge = tmp_path / "one-line.md"
    with huge.open("w") as file:
        for number in range(460_000):  # about 20 MB, and not one line break
            file.write(f"The Zephyr bond paid coupon {number} in full. ")
    assert huge.stat().st_size > 20_000_000
    code, stdout, stderr, rss = cli_with_peak_rss("docs", "add", str(huge), "--json", "--no-embed")
    assert code == 0 and json.loads(stdout)["added"] == [str(huge)], stderr
    assert rss < CLI_RSS_CAP, rss  # reading the line whole, and copying its rest per passage, took far more
    (document,) = json.loads(run_cli("docs", "ls", "--json").stdout)
    assert document["chunk_count"] > huge.stat().st_size // 1200  # all of it, in passages of at most 1200
