"""Real documents made for the tests: a PDF written by Qt, a DOCX zip, HTML, Markdown."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

ZEPHYR = "The Zephyr bond pays a coupon of 7.25% a year and matures in 2031."


def markdown(path: Path) -> Path:
    path.write_text(f"# Zephyr bond\n\n{ZEPHYR}\n\n# Risks\n\nIts issuer is rated BB by two agencies.\n")
    return path


def pdf(path: Path, pages: list[str]) -> Path:
    """A real PDF with one paragraph per page, drawn by Qt's PDF writer."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QPageSize, QPainter, QPdfWriter
    from PySide6.QtWidgets import QApplication

    _app = QApplication.instance() or QApplication([])  # a widgets application: the GUI tests share it
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    painter = QPainter(writer)
    for number, text in enumerate(pages):
        if number:
            writer.newPage()
        painter.drawText(QRectF(0, 0, writer.width(), writer.height()), 0x1000, text)  # Qt.TextWordWrap
    painter.end()
    return path


def encrypted_pdf(source: Path, path: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(source).pages:
        writer.add_page(page)
    writer.encrypt("a-password")
    with path.open("wb") as file:
        writer.write(file)
    return path


def docx(path: Path) -> Path:
    """A minimal, valid DOCX: a heading and two paragraphs."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = (
        '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Quarterly memo</w:t></w:r></w:p>'
        "<w:p><w:r><w:t>Duration of the portfolio fell to 4.1 years.</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Cash is 3% of assets.</w:t></w:r></w:p>"
    )
    document = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>'
    types = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'wordprocessingml.document.main+xml"/></Types>'
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("word/document.xml", document)
    return path


def html(path: Path) -> Path:
    path.write_text(
        "<html><head><title>Notes</title><style>p{color:red}</style><script>var secret = 1;</script></head>"
        "<body><h1>Yield curve</h1><p>The curve is <b>inverted</b> between 2 and 10 years.</p>"
        "<h2>Outlook</h2><p>Cuts are expected next year.</p></body></html>"
    )
    return path
