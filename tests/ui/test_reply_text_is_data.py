"""Reply text is data: real Qt widgets, offscreen, showing a hostile reply (raw HTML, images, odd link schemes).

Each reply is shown both ways it reaches the screen: loaded from the store, and streamed in token-sized pieces.
"""

from pathlib import Path

import pytest

from app.core.crew.events import CrewText, MessageEvent
from app.ui import reply_view
from app.ui.markdown_view import BLOCK_CAP, MarkdownBlocks
from app.ui.message_card import Card
from app.ui.qt import QImage, Qt, QTextCursor, QTextDocument, QToolTip, QUrl
from app.ui.reply_view import SafeBrowser, plain_tooltip
from app.ui.thread_view import ThreadView
from tests.conftest import PATIENCE_MS

pytestmark = pytest.mark.gui

ALLOWED = ["https://example.org/page", "http://example.org/", "mailto:someone@example.org"]
REFUSED = {
    "share": "smb://host/share",
    "unc": "\\\\host\\share",
    "slashes": "//host/share",
    "script": "javascript:alert(1)",
    "inline": "data:text/html,hi",
    "custom": "roundtable-x://do",
    "local": "file:///etc/passwd",
}


def hostile_reply(png: Path, server: str) -> str:
    refused = " ".join(f"[{word}]({url})" for word, url in REFUSED.items())
    return (
        "Intro <script>alert(1)</script>\n\n"
        f'<img src="file://{png}"> and <img src="{server}/pixel.png">\n\n'
        f"![pic](file://{png}) ![remote]({server}/img.png)\n\n"
        '<a href="file:///etc/passwd">raw link</a>\n\n'
        f"{refused}\n\n"
        f"[web]({ALLOWED[0]}) [plain]({ALLOWED[1]}) [mail]({ALLOWED[2]})\n"
    )


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "secret.png"
    image = QImage(40, 40, QImage.Format.Format_RGB32)
    image.fill(0xFF0000)
    assert image.save(str(path))
    return path


@pytest.fixture
def opened(monkeypatch):
    """What a click would have opened: the real handler runs, the OS is never asked."""
    seen: list[str] = []
    monkeypatch.setattr(reply_view, "opener", lambda url: seen.append(url.toString()))
    return seen


@pytest.fixture(params=["loaded", "streamed"])
def shown(request, qtbot, png, server):
    """A thread view showing the hostile reply, loaded whole or streamed in 3-character pieces."""
    view = ThreadView({})
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    text = hostile_reply(png, server.url)
    if request.param == "loaded":
        widget = view.add_message("m1", "writer", text)
    else:
        view.handle(MessageEvent(author="writer", message_id="m1", status="streaming"))
        for start in range(0, len(text), 3):
            view.handle(CrewText(author="writer", message_id="m1", delta=text[start : start + 3]))
            if start % 30 == 0:
                view._render_dirty()
        view.handle(MessageEvent(author="writer", message_id="m1", status="complete"))
        widget = view.messages["m1"]
    qtbot.waitUntil(lambda: widget.body.pieces[0].isVisible(), timeout=PATIENCE_MS)
    view.ensureWidgetVisible(widget)
    yield widget  # (a yield keeps the view, which owns the widget, alive for the test)


def anchors(browser: SafeBrowser) -> list[tuple[str, int]]:
    """Every link in a browser's document: (target, a position inside it)."""
    found = []
    block = browser.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.charFormat().isAnchor():
                found.append((fragment.charFormat().anchorHref(), fragment.position() + fragment.length() // 2))
            it += 1
        block = block.next()
    return found


def point_at(browser: SafeBrowser, position: int):
    cursor = QTextCursor(browser.document())
    cursor.setPosition(position)
    return browser.cursorRect(cursor).center()


def hover(qtbot, browser: SafeBrowser, position: int) -> None:
    """Move the mouse onto `position` from elsewhere (a move to where the pointer already is sends no event)."""
    qtbot.mouseMove(browser.viewport(), browser.viewport().rect().bottomRight())
    qtbot.mouseMove(browser.viewport(), point_at(browser, position))


def test_raw_html_is_shown_as_text_and_no_image_is_fetched(shown, server) -> None:
    text = shown.body.toPlainText()
    assert "<script>alert(1)</script>" in text and '<a href="file:///etc/passwd">raw link</a>' in text
    assert "<img src=" in text
    for piece in shown.body.pieces:
        assert piece.refused_resources == []  # no image was even asked for
        block = piece.document().begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                assert not it.fragment().charFormat().isImageFormat()
                it += 1
            block = block.next()
    assert server.requests == []


def test_a_stray_image_is_refused_not_read_from_disk(qtbot, png) -> None:
    browser = SafeBrowser()
    qtbot.addWidget(browser)
    browser.show()
    browser.setHtml(f'<p><img src="file://{png}"><img src="{png}"></p>')
    qtbot.waitUntil(lambda: len(browser.refused_resources) == 2, timeout=PATIENCE_MS)
    for name in (f"file://{png}", str(png)):
        loaded = browser.document().resource(QTextDocument.ResourceType.ImageResource, QUrl(name))
        assert loaded.width() == 1, "the 40x40 image on disk was read"


@pytest.mark.qt_log_ignore("not accepted by receiving widget")  # a click on plain text is ignored, as it should be
def test_only_http_https_and_mailto_links_reach_the_opener(qtbot, shown, opened) -> None:
    links = [(piece, href, at) for piece in shown.body.pieces for href, at in anchors(piece)]
    assert sorted(href for _, href, _ in links) == sorted(ALLOWED)
    for piece, _href, at in links:
        qtbot.mouseClick(piece.viewport(), Qt.MouseButton.LeftButton, pos=point_at(piece, at))
    assert sorted(opened) == sorted(ALLOWED)

    opened.clear()
    piece = shown.body.pieces[0]
    for word, url in REFUSED.items():  # the refused links are plain text: clicking them does nothing
        found = piece.document().find(word)
        assert not found.isNull() and not found.charFormat().isAnchor()
        qtbot.mouseClick(piece.viewport(), Qt.MouseButton.LeftButton, pos=point_at(piece, found.position() - 1))
        piece.anchorClicked.emit(QUrl(url))  # and the handler refuses them even if one became a link
    assert opened == []


def test_hovering_a_link_shows_where_it_goes(qtbot, shown) -> None:
    hovered: list[str] = []
    shown.link_hovered.connect(hovered.append)
    piece, href, at = next((p, h, a) for p in shown.body.pieces for h, a in anchors(p) if h == ALLOWED[0])
    hover(qtbot, piece, at)
    qtbot.waitUntil(lambda: bool(hovered) and hovered[-1] == href, timeout=PATIENCE_MS)
    assert QToolTip.text() == plain_tooltip(href)


def test_the_window_names_a_link_target_in_the_status_bar(qtbot, window, png, server) -> None:
    qtbot.waitUntil(lambda: window.welcome is not None, timeout=PATIENCE_MS)  # a first run: the welcome shows
    qtbot.mouseClick(window.welcome.dismiss_button, Qt.MouseButton.LeftButton)  # ... in the thread's place
    widget = window.thread_view.add_message("m1", "writer", hostile_reply(png, server.url))
    qtbot.waitUntil(widget.body.pieces[0].isVisible, timeout=PATIENCE_MS)
    window.thread_view.ensureWidgetVisible(widget)
    piece, href, at = next((p, h, a) for p in widget.body.pieces for h, a in anchors(p) if h == ALLOWED[0])
    hover(qtbot, piece, at)
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == f"Opens {href}", timeout=PATIENCE_MS)


def test_banners_cards_and_tooltips_show_markup_as_text(qtbot, shown) -> None:
    markup = "<b>bold</b><img src='file:///etc/passwd'>"
    shown.show_error(markup, can_retry=False)
    assert shown.banner_label.textFormat() == Qt.TextFormat.PlainText and shown.banner_label.text() == markup
    card = Card(markup)
    qtbot.addWidget(card)
    assert card.textFormat() == Qt.TextFormat.PlainText
    assert "<b>" not in plain_tooltip(markup) and "&lt;img src=" in plain_tooltip(markup)


@pytest.mark.parametrize(
    "text",
    [
        "# H\n\npara *a*\n\n1. one\n\n   more\n\n2. two\n\n```py\nx = 1\n\ny = 2\n```\n\n| a |\n|---|\n| 1 |\n" * 300,
        "```\n" + "line of code\n" * 5000 + "```\n",
        "word " * 40000,
    ],
    ids=["mixed", "long-code-block", "one-long-line"],
)
def test_streamed_blocks_match_the_stored_ones_and_the_open_block_stays_small(text: str) -> None:
    streamed, whole = MarkdownBlocks(), MarkdownBlocks()
    blocks, biggest_tail = [], 0
    for start in range(0, len(text), 7):
        streamed.feed(text[start : start + 7])
        blocks += streamed.take()
        biggest_tail = max(biggest_tail, len(streamed.tail))
    blocks += streamed.take(final=True)
    whole.feed(text)
    assert blocks == whole.take(final=True)  # the live view and the reloaded view cannot drift apart
    assert biggest_tail <= 4 * BLOCK_CAP + 7  # so re-rendering the open block costs the same at any length
