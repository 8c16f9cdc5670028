"""Reading documents as text sections (with where each comes from), in bounded memory.

Plain text and Markdown are read line by line, so a file of any size is streamed; PDF page by page (pypdf);
HTML with the standard library's parser; DOCX straight from its XML (it is a zip), without a dependency.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

from app.core.errors import UsageError

SECTION_CHARS = 16_000  # a streamed text file is handed on in pieces of about this size
_SNIFF_BYTES = 8192
TEXT_SUFFIXES = {".txt", ".text", ".log", ".csv", ".tsv", ".json", ".yaml", ".yml", ".toml", ".rst", ".py"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
KINDS = {".pdf": "pdf", ".html": "html", ".htm": "html", ".docx": "docx"}


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
        raise DocumentError(f"{path.name} is a binary file, not a document: add text, Markdown, PDF, HTML or DOCX.")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            raise DocumentError(f"{path.name} is not UTF-8 text: save it as UTF-8, or as PDF or DOCX.") from exc
    return "markdown" if suffix in MARKDOWN_SUFFIXES else "text"


def read_sections(path: Path, kind: str) -> Iterator[Section]:
    reader = {"pdf": _pdf, "html": _html, "docx": _docx}.get(kind)
    yield from reader(path) if reader else _lines(path, markdown=kind == "markdown")


def _lines(path: Path, markdown: bool) -> Iterator[Section]:
    heading: str | None = None
    buffer: list[str] = []
    size = 0
    with path.open(encoding="utf-8", errors="replace") as file:
        for line in file:
            match = re.match(r"#{1,6}\s+(.*)", line) if markdown else None
            if match or size >= SECTION_CHARS:
                if buffer:
                    yield Section(heading, "".join(buffer))
                buffer, size = [], 0
            if match:
                heading = match.group(1).strip() or heading
            buffer.append(line)
            size += len(line)
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
    """Visible text, split at headings; script, style and the title are left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self.heading: str | None = None
        self.parts: list[str] = []
        self.skip = 0
        self.in_heading = False
        self.heading_parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style", "title"):
            self.skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self.in_heading, self.heading_parts = True, []
        elif tag in ("p", "br", "li", "tr", "div"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self.skip = max(0, self.skip - 1)
        elif re.fullmatch(r"h[1-6]", tag) and self.in_heading:
            self.in_heading = False
            self.heading = " ".join("".join(self.heading_parts).split()) or self.heading
            self.parts.append(self.heading + "\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        (self.heading_parts if self.in_heading else self.parts).append(data)

    def _flush(self) -> None:
        text = "".join(self.parts).strip()
        if text:
            self.sections.append(Section(self.heading, text))
        self.parts = []


def _html(path: Path) -> Iterator[Section]:
    parser = _HtmlText()
    with path.open(encoding="utf-8", errors="replace") as file:
        for block in iter(lambda: file.read(65536), ""):
            parser.feed(block)
            yield from parser.sections
            parser.sections = []
    parser.close()
    parser._flush()
    yield from parser.sections


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx(path: Path) -> Iterator[Section]:
    try:
        with zipfile.ZipFile(path) as archive, archive.open("word/document.xml") as xml:
            heading: str | None = None
            paragraphs: list[str] = []
            for _event, element in ElementTree.iterparse(xml):
                if element.tag != f"{_W}p":
                    continue
                text = "".join(node.text or "" for node in element.iter(f"{_W}t"))
                style = element.find(f"{_W}pPr/{_W}pStyle")
                if style is not None and style.get(f"{_W}val", "").lower().startswith(("heading", "title")):
                    if paragraphs:
                        yield Section(heading, "\n".join(paragraphs))
                    heading, paragraphs = text.strip() or heading, []
                if text:
                    paragraphs.append(text)
                element.clear()
            if paragraphs:
                yield Section(heading, "\n".join(paragraphs))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError) as exc:
        raise DocumentError(f"{path.name} is not a readable DOCX file ({exc}).") from exc
