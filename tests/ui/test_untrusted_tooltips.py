"""Tooltips and labels that quote untrusted text (an archive's copilot, a Hub error, a Hub filename, a stored
message's citations and trace) show it as text: real widgets, offscreen, read back the way Qt would show them."""

from pathlib import Path

import pytest
from PySide6 import QtGui  # Qt.mightBeRichText: how Qt guesses a tooltip's format

from app.ui.qt import QImage, Qt, QTextDocument
from tests.conftest import PATIENCE_MS

pytestmark = pytest.mark.gui


@pytest.fixture
def markup(tmp_path: Path) -> str:
    """Rich text that, rendered, would show a local image and a foreign link."""
    png = tmp_path / "secret.png"
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    image.fill(0xFF0000)
    assert image.save(str(png))
    return f"<b>x</b><img src='file://{png}'><a href='file:///etc/passwd'>y</a>"


def rendered(text: str, rich: bool | None = None) -> tuple[str, list[str], int]:
    """What Qt shows for `text`: its plain text, its links and its images. `rich=None`: Qt's own guess (tooltips)."""
    document = QTextDocument()
    if rich is None:
        rich = QtGui.Qt.mightBeRichText(text)
    if rich:
        document.setHtml(text)
    else:
        document.setPlainText(text)
    links, images = [], 0
    block = document.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            char_format = it.fragment().charFormat()
            if char_format.isAnchor():
                links.append(char_format.anchorHref())
            images += char_format.isImageFormat()
            it += 1
        block = block.next()
    return document.toPlainText(), links, images


def shows_as_text(text: str, markup: str, rich: bool | None = None) -> None:
    plain, links, images = rendered(text, rich)
    assert markup in plain and links == [] and images == 0, (plain, links, images)


def test_a_review_tooltip_shows_the_archives_model_and_endpoint_as_text(qtbot, ctx, markup) -> None:
    from app.core.crew.copilots import parse_manifest
    from app.ui.roster import RosterPanel

    copilot = parse_manifest(
        {
            "id": "quant",
            "name": "Quant",
            "provider": "openai",
            "endpoint": "http://127.0.0.1:9/v1",
            "model": markup,
            "description": "Answers about bonds.",
        },
        "test",
    )
    roster = RosterPanel(ctx, lambda: "default", {})
    qtbot.addWidget(roster)
    roster.set_copilots([copilot], review={"quant": f"imported from {markup}"})
    tip = roster.list.item(0).toolTip()
    plain, links, images = rendered(tip)
    assert plain.count(markup) == 2 and "http://127.0.0.1:9/v1" in plain and links == [] and images == 0


def test_a_failed_downloads_tooltip_shows_the_hubs_error_as_text(qtbot, markup) -> None:
    from app.ui.models_panel.downloads import FAILED, DownloadEntry, DownloadRow

    entry = DownloadEntry("org/repo", "m.gguf", 10, None, state=FAILED, error=f"{markup} from the Hub")
    row = DownloadRow(entry)
    qtbot.addWidget(row)
    row.show_state(entry)
    shows_as_text(row.info.toolTip(), f"{markup} from the Hub")


def test_an_installed_models_tooltip_shows_its_path_as_text(qtbot, ctx, markup) -> None:
    from app.core.hub.installed import InstalledModel
    from app.ui.models_panel.installed import InstalledSection

    path = f"/cache/snapshots/{markup}.gguf"
    model = InstalledModel("m", "m.gguf", path, 10, "hub", None, None, None, "org/repo", [], True)
    section = InstalledSection(ctx)
    qtbot.addWidget(section)
    section._show([model])
    for column in range(section.table.columnCount()):
        shows_as_text(section.table.item(0, column).toolTip(), path)


def test_a_stored_messages_citations_and_trace_show_their_markup_as_text(qtbot, ctx, markup) -> None:
    from app.ui.message_card import show_trace
    from app.ui.qt import QMessageBox
    from app.ui.thread_view import ThreadView

    thread = ctx.store.create_thread("Imported")
    citations = [
        {"number": 1, "source": markup, "location": markup, "passage": "p"},
        {"number": 2, "source": "notes.md"},
    ]
    trace = {markup: markup, "model": "m"}
    ctx.store.add_message(thread.id, "writer", "assistant", "Reply.", data={"citations": citations, "trace": trace})
    view = ThreadView({})
    qtbot.addWidget(view)
    view.load(ctx.store.timeline(thread.id))
    (widget,) = view.messages.values()

    plain, links, images = rendered(widget.sources.text(), rich=True)
    assert widget.sources.textFormat() == Qt.TextFormat.RichText
    assert links == ["cite:0", "cite:1"] and images == 0  # our own anchors, nothing else
    assert plain.count(markup) == 2 and "[2] notes.md" in plain

    show_trace(view, ctx.store.messages(thread.id)[0])
    box = view.findChild(QMessageBox)
    qtbot.waitUntil(box.isVisible, timeout=PATIENCE_MS)
    plain, links, images = rendered(box.text(), rich=True)
    key = markup.replace("_", " ")  # a trace key is shown with spaces for underscores
    assert f"{key}: {markup}" in plain and "model: m" in plain and links == [] and images == 0
    box.close()


def test_deleting_a_model_in_use_asks_in_plain_text(qtbot, ctx, markup) -> None:
    from app.core.hub.installed import InstalledModel
    from app.ui.models_panel.installed import InstalledSection
    from app.ui.qt import QApplication, QMessageBox, QTimer

    model = InstalledModel(
        f"org/{markup}", "m.gguf", "/cache/m.gguf", 10, "hub", None, None, None, "org", ["writer"], True
    )
    section = InstalledSection(ctx)
    qtbot.addWidget(section)
    section._show([model])
    section.table.selectRow(0)
    seen = []

    def answer_no() -> None:  # the question is modal: answer it from the event loop it runs
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append((box.textFormat(), box.text()))
            box.button(QMessageBox.StandardButton.No).click()

    poll = QTimer(interval=20)
    poll.timeout.connect(answer_no)
    poll.start()
    try:
        section._delete()
    finally:
        poll.stop()
    question = f"writer use org/{markup}. Move them to the starter model and delete it?"
    assert seen == [(Qt.TextFormat.PlainText, question)]
