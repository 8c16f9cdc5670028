"""Reading spreadsheets as documents: CSV (and TSV) and XLSX, each row kept with its header.

A passage cut from the middle of a table is useless without its column names, so each row is written as
"Header: value; Header: value" (the first non-empty row is the header). Each XLSX sheet is a section named after
the sheet; a CSV file's sections are named by their rows. Both stream: CSV a bounded line at a time (a field
over the csv module's limit is refused), XLSX through openpyxl's read-only mode after the zip's sheet parts
have been checked for size and compression ratio, as DOCX is.
"""

from __future__ import annotations

import csv
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from app.core.knowledge.readers import SECTION_CHARS, DocumentError, Section, check_zip_member

_MAX_LINE_CHARS = 1024 * 1024  # a CSV line is read at most this much at a time
_MAX_CELL_CHARS = 2000  # of one cell, in a passage: a longer one is cut (a table cell is not a document)
_MAX_COLUMNS = 200  # columns of a row kept in a passage


def _row_text(header: Sequence[str], row: Sequence[Any]) -> str:
    """ "Header: value; …" for the row's non-empty cells (a cell beyond the header is named by its column)."""
    parts = []
    for index, value in enumerate(row[:_MAX_COLUMNS]):
        text = " ".join(str(value).split())[:_MAX_CELL_CHARS] if value is not None else ""
        if text:
            name = header[index] if index < len(header) and header[index] else f"column {index + 1}"
            parts.append(f"{name}: {text}")
    return "; ".join(parts)


def _sections(rows: Iterable[Sequence[Any]], location: str | None) -> Iterator[Section]:
    """Rows as sections of about SECTION_CHARS, each row on a line with its header; `location` None names
    each section by its rows ("rows 2-41")."""
    header: list[str] | None = None
    lines: list[str] = []
    size, first, number = 0, 0, 0
    for number, row in enumerate(rows, 1):
        if header is None:
            if any(v is not None and str(v).strip() for v in row):
                header = [" ".join(str(v).split())[:_MAX_CELL_CHARS] if v is not None else "" for v in row]
            continue
        text = _row_text(header, row)
        if not text:
            continue
        first = first or number
        lines.append(text)
        size += len(text) + 1
        if size >= SECTION_CHARS:
            yield Section(location or f"rows {first}-{number}", "\n".join(lines) + "\n")
            lines, size, first = [], 0, 0
    if lines:
        yield Section(location or f"rows {first}-{number}", "\n".join(lines) + "\n")


def read_csv(path: Path) -> Iterator[Section]:
    """A CSV or TSV file (UTF-8), a row per line with its header."""
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    with path.open(encoding="utf-8", errors="replace", newline="") as file:
        # a line is handed to the csv module at most _MAX_LINE_CHARS at a time: one without line breaks
        # must not become one huge string
        lines = iter(lambda: file.readline(_MAX_LINE_CHARS), "")
        try:
            yield from _sections(csv.reader(lines, dialect), None)
        except csv.Error as exc:
            raise DocumentError(f"{path.name} is not a readable CSV file ({exc}).") from exc


def read_xlsx(path: Path) -> Iterator[Section]:
    """An XLSX workbook: each sheet a section (or several), rows with their header; values as last saved."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if member.filename.startswith("xl/") and member.filename.endswith(".xml"):
                    check_zip_member(member, path)
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise DocumentError(f"{path.name} is not a readable XLSX workbook ({exc}).") from exc
    try:
        for sheet in workbook.worksheets:
            yield from _sections(sheet.iter_rows(values_only=True), f"sheet {' '.join(str(sheet.title).split())[:100]}")
    except (zipfile.BadZipFile, KeyError, ValueError, zlib.error, EOFError) as exc:
        raise DocumentError(f"{path.name} is not a readable XLSX workbook ({exc}).") from exc
    finally:
        workbook.close()
