"""Reading documents as text sections (with where each comes from), in bounded memory.

Plain text and Markdown are read in pieces of at most a section (a file of one 20 MB line is streamed too); PDF
page by page (pypdf, which caps what a compressed stream may expand to); HTML with the standard library's parser;
DOCX straight from its XML (it is a zip), pulled element by element, after its size and compression ratio have
been checked. Every reader hands on sections of bounded size, so indexing takes time in proportion to the file
and memory that does not grow with it.
"""

from __future__ import annotations

import logging
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import IO
from xml.parsers import expat

from app.core.errors import UsageError

SECTION_CHARS = 16_000  # every reader hands its text on in pieces of at most about this size
_SNIFF_BYTES = 8192
_READ_BLOCK = 64 * 1024
_MAX_LOCATION = 200  # characters of a heading kept as a passage's location (each passage stores it)
_HEADING = re.compile(r"#{1,6}\s+(.*)")
# A DOCX is a zip: its text part is checked before a byte of it is inflated. Real documents' XML is a few MB
# and compresses 5-20 times; a "zip bomb" inflates a few hundred KB to gigabytes.
_MAX_DOCX_XML_BYTES = 64 * 1024 * 1024
_MAX_DOCX_RATIO = 100
_DOCX_RATIO_FROM = 4 * 1024 * 1024  # below this the ratio does not matter: it cannot cost much
# HTML waits for the end of an unclosed comment, script or tag; past this it is not a page but a trap
_MAX_HTML_PENDING = 32 * 1024 * 1024
TEXT_SUFFIXES = {".txt", ".text", ".log", ".json", ".yaml", ".yml", ".toml", ".rst", ".py"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
KINDS = {".pdf": "pdf", ".html": "html", ".htm": "html", ".docx": "docx", ".xlsx": "xlsx"}
TABLE_SUFFIXES = {".csv", ".tsv"}  # UTF-8 text, read as tables


# pypdf tells of each repair it makes to a damaged file on its logger; that would reach the terminal as lines the
# user cannot act on. What matters (the file could not be read) is in the DocumentError instead.
logging.getLogger("pypdf").addHandler(logging.NullHandler())
logging.getLogger("pypdf").propagate = False


class DocumentError(UsageError):
    """A file that cannot be read as a document; the message says why and what to do."""


@dataclass
class Section:
    """A piece of a document's text and where it is: a page, a heading, or nothing for plain text."""

    location: str | None
    text: str


def document_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in KINDS:
        return KINDS[suffix]
    with path.open("rb") as file:
        head = file.read(_SNIFF_BYTES)
    if b"\0" in head:
        raise DocumentError(
            f"{path.name} is a binary file, not a document: add text, Markdown, CSV, PDF, HTML, DOCX or XLSX."
        )
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            raise DocumentError(f"{path.name} is not UTF-8 text: save it as UTF-8, or as PDF or DOCX.") from exc
    if suffix in TABLE_SUFFIXES:
        return "csv"
    return "markdown" if suffix in MARKDOWN_SUFFIXES else "text"


def read_sections(path: Path, kind: str) -> Iterator[Section]:
    from app.core.knowledge.tables import read_csv, read_xlsx

    reader = {"pdf": _pdf, "html": _html, "docx": _docx, "csv": read_csv, "xlsx": read_xlsx}.get(kind)
    yield from reader(path) if reader else _lines(path, markdown=kind == "markdown")


def _location(text: str, previous: str | None) -> str | None:
    """A heading as a passage's location: one line, not too long; an empty heading keeps the one before."""
    shown = " ".join(text[: _MAX_LOCATION * 4].split())[:_MAX_LOCATION]
    return shown or previous


def _lines(path: Path, markdown: bool) -> Iterator[Section]:
    heading: str | None = None
    buffer: list[str] = []
    size = 0
    at_line_start = True
    with path.open(encoding="utf-8", errors="replace") as file:
        # a line is read at most a section at a time: a file without line breaks must not be one huge string
        for piece in iter(lambda: file.readline(SECTION_CHARS), ""):
            match = _HEADING.match(piece) if markdown and at_line_start else None
            at_line_start = piece.endswith("\n")
            if match or size >= SECTION_CHARS:
                if buffer:
                    yield Section(heading, "".join(buffer))
                buffer, size = [], 0
            if match:
                heading = _location(match.group(1), heading)
            buffer.append(piece)
            size += len(piece)
    if buffer:
        yield Section(heading, "".join(buffer))


def _pdf(path: Path) -> Iterator[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(f"{path.name} is an encrypted PDF: remove its password (print it to a new PDF) first.")
        pages = len(reader.pages)
    except DocumentError:
        raise
    except (PdfReadError, OSError, ValueError, KeyError) as exc:
        raise DocumentError(f"{path.name} is not a readable PDF ({exc}).") from exc
    for number in range(pages):
        try:
            text = reader.pages[number].extract_text() or ""
        except Exception as exc:  # one damaged page must not lose the others
            text = ""
            yield Section(f"page {number + 1}", f"[page {number + 1} could not be read: {exc}]")
        text = re.sub(r"[ \t\xa0]+", " ", text)  # PDFs place words apart with tabs or runs of spaces
        if text.strip():
            yield Section(f"page {number + 1}", text)


class _HtmlText(HTMLParser):
    """Visible text, split at headings and into sections of bounded size; script, style and the title are left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self.heading: str | None = None
        self.parts: list[str] = []
        self.size = 0
        self.skip = 0
        self.in_heading = False
        self.heading_parts: list[str] = []
        self.heading_size = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style", "title"):
            self.skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self.in_heading, self.heading_parts, self.heading_size = True, [], 0
        elif tag in ("p", "br", "li", "tr", "div"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self.skip = max(0, self.skip - 1)
        elif re.fullmatch(r"h[1-6]", tag) and self.in_heading:
            self._end_heading()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.in_heading:
            self.heading_parts.append(data)
            self.heading_size += len(data)
            if self.heading_size > SECTION_CHARS:  # a heading that never ends is text
                self._end_heading()
            return
        self.parts.append(data)
        self.size += len(data)
        if self.size >= SECTION_CHARS:
            self._flush()

    def _end_heading(self) -> None:
        self.in_heading = False
        text = " ".join("".join(self.heading_parts).split())
        self.heading = _location(text, self.heading)
        self.parts.append(text + "\n")
        self.size += len(text)
        self.heading_parts, self.heading_size = [], 0

    def _flush(self) -> None:
        text = "".join(self.parts).strip()
        if text:
            self.sections.append(Section(self.heading, text))
        self.parts, self.size = [], 0


def _html(path: Path) -> Iterator[Section]:
    parser = _HtmlText()
    with path.open(encoding="utf-8", errors="replace") as file:
        while True:
            # The parser keeps an unclosed comment, script or tag and scans it again on every feed: feeding at
            # least as much as it holds keeps the scanning linear in the file's size.
            pending = len(parser.rawdata)
            if pending > _MAX_HTML_PENDING:
                raise DocumentError(
                    f"{path.name} has a comment, script or tag that runs on for over "
                    f"{_MAX_HTML_PENDING // 2**20} MB: it is not a web page that can be indexed."
                )
            block = file.read(max(_READ_BLOCK, pending))
            if not block:
                break
            parser.feed(block)
            yield from parser.sections
            parser.sections = []
    parser.close()
    if parser.in_heading:
        parser._end_heading()
    parser._flush()
    yield from parser.sections


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main "  # expat's name = namespace, space, tag
_W_P, _W_T, _W_STYLE, _W_VAL = f"{_W}p", f"{_W}t", f"{_W}pStyle", f"{_W}val"


def _docx(path: Path) -> Iterator[Section]:
    try:
        with zipfile.ZipFile(path) as archive:
            member = _checked_docx_member(archive, path)
            with archive.open(member) as xml:
                yield from _docx_sections(xml, path.name)
    except KeyError as exc:
        raise DocumentError(f"{path.name} has no word/document.xml: it is not a Word document, or is damaged.") from exc
    except (zipfile.BadZipFile, expat.ExpatError, EOFError, zlib.error) as exc:
        raise DocumentError(f"{path.name} is not a readable DOCX file ({exc}).") from exc
    except (NotImplementedError, RuntimeError) as exc:  # an unknown compression method, or a password
        raise DocumentError(f"{path.name} is a DOCX file this app cannot open ({exc}): save it again in Word.") from exc


def _checked_docx_member(archive: zipfile.ZipFile, path: Path) -> zipfile.ZipInfo:
    """The text part, once its declared size and compression ratio are sane."""
    return check_zip_member(archive.getinfo("word/document.xml"), path)


def check_zip_member(member: zipfile.ZipInfo, path: Path) -> zipfile.ZipInfo:
    """A part of a DOCX or XLSX zip, refused with DocumentError when its declared size or compression ratio says
    "zip bomb" (zipfile never inflates past the declared size, so the check holds even when the sizes lie)."""
    ratio = member.file_size / max(member.compress_size, 1)
    if member.file_size > _MAX_DOCX_XML_BYTES or (member.file_size > _DOCX_RATIO_FROM and ratio > _MAX_DOCX_RATIO):
        raise DocumentError(
            f"{path.name} would expand to {member.file_size // 2**20} MB of text from "
            f"{max(member.compress_size // 1024, 1)} KB (a zip bomb?): it was not read; "
            "if it is a real document, save it as PDF or plain text."
        )
    return member


def _docx_sections(xml: IO[bytes], name: str) -> Iterator[Section]:
    """Sections of the document's text, split at headings, pushed through expat a block at a time: no tree is
    built and no text node is held whole, so memory stays bounded however the XML is shaped."""
    text = _DocxText()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = text.start
    parser.EndElementHandler = text.end
    parser.CharacterDataHandler = text.data
    parser.StartDoctypeDeclHandler = lambda *_args: text.refuse(f"{name} declares a DOCTYPE, which Word never writes")
    for block in iter(lambda: xml.read(_READ_BLOCK), b""):
        parser.Parse(block, False)
        yield from text.take()
    parser.Parse(b"", True)
    text.flush()
    yield from text.take()


class _DocxText:
    """What expat reports of word/document.xml, turned into sections (each paragraph a line, headings start one).

    Attributes:
        sections: finished sections not yet handed on.
    """

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.heading: str | None = None
        self.buffer: list[str] = []
        self.size = 0
        self.paragraphs_open = 0
        self.texts_open = 0
        self.paragraph_has_text = False
        self.heading_parts: list[str] | None = None  # the heading paragraph being read, if it is one
        self.heading_before: str | None = None

    def refuse(self, reason: str) -> None:
        raise DocumentError(f"{reason}: it was not read.")

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        if tag == _W_P:
            self.paragraphs_open += 1
            self.paragraph_has_text, self.heading_parts = False, None
        elif tag == _W_T:
            self.texts_open += 1
        elif tag == _W_STYLE and self.paragraphs_open:
            if attributes.get(_W_VAL, "").lower().startswith(("heading", "title")):
                self.flush()  # a heading starts a new section
                self.heading_parts, self.heading_before = [], self.heading

    def end(self, tag: str) -> None:
        if tag == _W_P:
            self.paragraphs_open = max(0, self.paragraphs_open - 1)
        elif tag == _W_T:
            self.texts_open = max(0, self.texts_open - 1)

    def data(self, text: str) -> None:
        if not (self.texts_open and self.paragraphs_open):
            return  # text outside paragraphs' runs is layout, not the document's words
        if self.heading_parts is not None:
            if sum(map(len, self.heading_parts)) < _MAX_LOCATION * 4:
                self.heading_parts.append(text)
            self.heading = _location("".join(self.heading_parts), self.heading_before)
        if not self.paragraph_has_text and self.buffer:
            self.buffer.append("\n")
        self.paragraph_has_text = True
        self.buffer.append(text)
        self.size += len(text)
        if self.size >= SECTION_CHARS:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.sections.append(Section(self.heading, "".join(self.buffer)))
        self.buffer, self.size = [], 0

    def take(self) -> list[Section]:
        taken, self.sections = self.sections, []
        return taken
