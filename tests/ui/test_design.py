"""The design system: tokens, contrast, the stylesheet made from them, avatars; names people type; the command
palette and the keyboard shortcuts list; the composer's focus on start."""

from datetime import UTC

import pytest

from app.core.crew.copilots import id_from_name, parse_manifest
from app.core.errors import UsageError
from app.ui.design import AA, avatar, contrast, initials, readable, set_role, stylesheet, text_on
from app.ui.qt import QApplication, QLabel, Qt
from app.ui.theme import apply_theme
from app.ui.tokens import DARK, LIGHT
from tests.conftest import PATIENCE_MS, run_cli

pytestmark = pytest.mark.gui


@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=["light", "dark"])
def test_every_text_colour_meets_wcag_aa_on_its_background(theme) -> None:
    low = {name: round(contrast(fg, bg), 2) for name, (fg, bg) in theme.pairs().items() if contrast(fg, bg) < AA}
    assert low == {}


def test_contrast_is_the_wcag_ratio() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert text_on("#ffff00") == "#000000" and text_on("#000080") == "#ffffff"


def test_copilot_colours_are_made_readable_on_either_theme(ctx) -> None:
    for copilot in ctx.copilots():
        for surface in (LIGHT.surface, DARK.surface):
            assert contrast(readable(copilot.color, surface), surface) >= AA, (copilot.id, surface)
    assert readable("#1d2026", LIGHT.surface) == "#1d2026"  # a colour that reads already is kept


def test_avatars_show_initials_in_the_copilots_colour_and_are_crisp_at_scale_2(qtbot) -> None:
    assert [initials(n) for n in ("Tax Expert", "writer", "tax-expert", "  ", "Écrivain public")] == [
        "TE",
        "W",
        "TE",
        "?",
        "ÉP",
    ]
    sharp = avatar("Writer", "#2e7d32", 24, 2.0)
    assert (sharp.width(), sharp.height(), sharp.devicePixelRatio()) == (48, 48, 2.0)
    centre_left = sharp.toImage().pixelColor(4, 24)
    assert centre_left.name() == "#2e7d32"


def test_the_theme_is_one_stylesheet_from_the_tokens(qtbot) -> None:
    app = QApplication.instance()
    assert apply_theme(app, "dark") is True
    assert app.styleSheet() == stylesheet(DARK, app.font().pointSizeF())
    assert DARK.window in app.styleSheet() and LIGHT.window not in app.styleSheet()
    assert apply_theme(app, "light") is False and app.property("roundtable_dark") is False
    label = QLabel("status")
    qtbot.addWidget(label)
    set_role(label, "error")
    label.ensurePolished()
    assert label.palette().color(label.foregroundRole()).name() == LIGHT.error


def test_names_people_type_become_ids() -> None:
    assert id_from_name("Tax Expert") == "tax-expert"
    assert id_from_name("Crème  Brûlée!") == "creme-brulee"
    assert id_from_name("税務") == "copilot"
    assert id_from_name("Writer", taken=["writer", "writer-2"]) == "writer-3"
    with pytest.raises(UsageError, match=r"'Tax Expert' is not an id: .* like 'tax-expert'"):
        parse_manifest({"id": "Tax Expert", "name": "Tax Expert"}, "from a test")


def test_copilots_add_takes_a_name_and_makes_the_id(home) -> None:
    added = run_cli("copilots", "add", "Tax Expert", "--description", "Taxes")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "Added copilot 'tax-expert' (Tax Expert)."
    shown = run_cli("copilots", "show", "tax-expert", "--json")
    assert '"name": "Tax Expert"' in shown.stdout
    again = run_cli("copilots", "add", "tax expert")
    assert again.returncode == 2 and "A copilot 'tax-expert' exists already" in again.stderr


def test_the_copilot_form_makes_the_id_from_the_name(qtbot) -> None:
    from app.ui.copilot_form import CopilotDialog

    form = CopilotDialog(None, [], ["writer"])
    qtbot.addWidget(form)
    qtbot.keyClicks(form.name_edit, "Tax Expert")
    assert form.id_edit.text() == "tax-expert"
    form.name_edit.clear()
    qtbot.keyClicks(form.name_edit, "Writer")
    assert form.id_edit.text() == "writer-2"  # never an existing copilot's
    qtbot.keyClicks(form.id_edit, "x")
    qtbot.keyClicks(form.name_edit, "s")  # the id, once typed, is the user's
    assert form.id_edit.text() == "writer-2x"


def test_the_composer_has_the_keyboard_on_start(qtbot, window) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.composer.edit, timeout=PATIENCE_MS)


def test_the_command_palette_jumps_to_threads_copilots_and_actions(qtbot, window, ctx) -> None:
    ctx.store.create_thread("Quarterly bond review")
    window.refresh_threads()
    qtbot.waitUntil(lambda: len(window.sidebar.thread_titles()) == 1, timeout=PATIENCE_MS)
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(
        lambda: window.command_palette is not None and window.command_palette.isVisible(), timeout=PATIENCE_MS
    )
    palette = window.command_palette
    shown = palette.shown()
    assert "Thread: Quarterly bond review" in shown and "Workspace: Default" in shown
    assert {"Copilot: Ask Writer", "Copilot: Ask Analyst"} <= set(shown)
    assert any(row.startswith("Action: Model manager") for row in shown)
    qtbot.keyClicks(palette.filter, "bond review")
    assert palette.shown() == ["Thread: Quarterly bond review"]
    qtbot.keyClick(palette.filter, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.thread_id is not None, timeout=PATIENCE_MS)
    assert not palette.isVisible()

    window.open_palette()
    qtbot.keyClicks(window.command_palette.filter, "ask writer")
    qtbot.keyClick(window.command_palette.filter, Qt.Key.Key_Return)
    assert window.composer.edit.toPlainText() == "@writer "

    window.open_palette()
    qtbot.keyClicks(window.command_palette.filter, "keyboard")
    qtbot.keyClick(window.command_palette.filter, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.shortcuts_dialog is not None and window.shortcuts_dialog.isVisible())


def test_help_lists_every_keyboard_shortcut(qtbot, window, ctx) -> None:
    window.show_shortcuts()
    table = window.shortcuts_dialog.table
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    for keys in ("Ctrl+K", "Ctrl+N", "Ctrl+M", "Ctrl+,", "Ctrl+/", "Ctrl+L", "Ctrl+F", "Enter", "Shift+Enter"):
        assert keys in rows, keys
    assert rows[ctx.settings.overlay_shortcut] == "Ask a copilot from anywhere (the overlay)"
    assert rows["Ctrl+K"] == "Command palette"


def unnamed_controls(root) -> list[str]:
    """Controls in `root` a screen reader could only call by their kind: no accessible name, no text, no label
    (a form's label names its field, as Qt tells the screen reader)."""
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QFormLayout,
        QKeySequenceEdit,
        QLineEdit,
        QListWidget,
        QPlainTextEdit,
        QTextEdit,
    )

    labelled = set()
    for form in root.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if label is not None and label.widget() is not None and label.widget().text().strip() and field:
                for widget in [field.widget()] if field.widget() else []:
                    labelled.add(id(widget))
    unnamed = []
    kinds = (QAbstractButton, QComboBox, QLineEdit, QListWidget, QPlainTextEdit, QAbstractSpinBox, QKeySequenceEdit)
    for kind in kinds:
        for widget in root.findChildren(kind):
            if not widget.isVisibleTo(root) or id(widget) in labelled or isinstance(widget.parent(), kinds):
                continue
            if isinstance(widget, QTextEdit) and widget.isReadOnly():
                continue
            said = widget.accessibleName() or (widget.text() if isinstance(widget, QAbstractButton) else "")
            if not said.strip():
                unnamed.append(f"{type(widget).__name__} {widget.objectName()!r} in {type(widget.parent()).__name__}")
    return unnamed


def test_every_control_of_the_window_has_a_name_a_screen_reader_can_say(qtbot, window) -> None:
    assert unnamed_controls(window) == []
    window.open_settings()
    qtbot.waitUntil(lambda: window.settings_dialog is not None and window.settings_dialog.isVisible())
    assert unnamed_controls(window.settings_dialog) == []
    window.settings_dialog.reject()
    window.open_palette()
    assert unnamed_controls(window.command_palette) == []
    window.command_palette.reject()
    window.roster.edit("analyst")
    qtbot.waitUntil(lambda: window.roster.dialog is not None and window.roster.dialog.isVisible(), timeout=PATIENCE_MS)
    assert unnamed_controls(window.roster.dialog) == []
    window.roster.dialog.reject()
    window.open_models()
    for tab in range(window.models_panel.tabs.count()):
        window.models_panel.tabs.setCurrentIndex(tab)
        assert unnamed_controls(window.models_panel) == [], window.models_panel.tabs.tabText(tab)
    window.models_panel.close()


def test_threads_are_grouped_by_date_with_pinned_ones_first(qtbot, window, ctx) -> None:
    from datetime import datetime

    from app.ui.sidebar import group_of

    now = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert [
        group_of(stamp, now)
        for stamp in (
            "2026-11-26T08:00:00+00:00",
            "2026-11-25T23:00:00+00:00",
            "2026-11-20T12:00:00+00:00",
            "2026-11-01T12:00:00+00:00",
            "2025-03-02T12:00:00+00:00",
            "not a date",
        )
    ] == ["Today", "Yesterday", "Previous 7 days", "Previous 30 days", "March 2025", "Older"]
    old = ctx.store.create_thread("Budget 2025")
    with ctx.store.conn.transaction() as db:
        db.execute("UPDATE threads SET updated_at = ? WHERE id = ?", ["2025-03-02T12:00:00+00:00", old.id])
    ctx.store.create_thread("Bonds today")
    window.refresh_threads()
    qtbot.waitUntil(lambda: len(window.sidebar.thread_titles()) == 2, timeout=PATIENCE_MS)
    assert window.sidebar.headings() == ["Today", "March 2025"]
    window.sidebar.threads.setCurrentItem(window.sidebar.thread_items()[1])
    assert window.sidebar.pin_button.text() == "Pin"
    window.sidebar.pin_button.click()
    qtbot.waitUntil(lambda: window.sidebar.headings() == ["Pinned", "Today"], timeout=PATIENCE_MS)
    assert window.sidebar.thread_titles() == ["Budget 2025", "Bonds today"]
    assert ctx.store.get_thread(old.id).pinned is True


def test_search_reads_the_full_text_index_of_messages_and_documents(qtbot, window, ctx, tmp_path) -> None:
    from app.core.knowledge.index import add_file

    thread = ctx.store.create_thread("Weekly notes")
    ctx.store.add_message(thread.id, "user", "user", "The debenture matures in 2031.")
    ctx.store.create_thread("100% sure")
    sheet = tmp_path / "zephyr.md"
    sheet.write_text("# Zephyr\n\nThe Zephyr debenture pays a coupon of 4.5% a year.\n")
    add_file(ctx.store, "default", sheet)
    window.sidebar.search.setText("debent")  # a word being typed: matched as a prefix by FTS5
    qtbot.waitUntil(lambda: window.sidebar.thread_titles() == ["Weekly notes"], timeout=PATIENCE_MS)
    qtbot.waitUntil(lambda: "In documents" in window.sidebar.headings(), timeout=PATIENCE_MS)
    passages = [window.sidebar.threads.item(i).text() for i in range(window.sidebar.threads.count())]
    assert any(text.startswith("📄 zephyr.md") for text in passages), passages
    window.sidebar.search.setText("%")  # a character, not a wildcard
    qtbot.waitUntil(lambda: window.sidebar.thread_titles() == ["100% sure"], timeout=PATIENCE_MS)


def test_a_reply_card_shows_avatar_model_chip_and_its_figures_which_open_the_trace(qtbot, window, ctx) -> None:
    from tests.ui.test_main_window import RUN_MS, cap_reply, replies, send

    ctx.settings.max_hops = 0
    cap_reply(ctx, "generalist", 12)
    send(qtbot, window, "@generalist What is a bond?")
    qtbot.waitUntil(lambda: window.run_task is None, timeout=RUN_MS)
    (reply,) = replies(window)
    assert reply.chip.text() == "starter model" and not reply.avatar.pixmap().isNull()
    assert "tokens" in reply.stats.text() and "tokens/s" in reply.stats.text() and reply.stats.isVisible()
    with qtbot.waitSignal(window.thread_view.details_requested) as asked:
        reply.stats.click()
    assert asked.args == [reply.message_id]


def test_copilot_cards_say_model_and_state_without_cutting_text(qtbot, window, ctx, secret_service) -> None:
    from tests.ui.test_main_window import RUN_MS, cap_reply, send

    def cards() -> dict[str, list[str]]:
        rows = [window.roster.list.item(i).text().split("\n") for i in range(window.roster.list.count())]
        return {row[0]: row[1:] for row in rows}

    writer = ctx.copilot("writer").description
    assert cards()["Writer"] == [writer, "starter model · not loaded"]
    manifest = {"id": "desk", "name": "Desk", "provider": "openai", "model": "desk-7b"}
    manifest |= {"endpoint": "https://agents.example.test/v1", "api_key_name": "desk-key", "description": "Remote"}
    ctx.store.save_copilot("desk", "Desk", manifest)
    ctx.store.set_roster("default", [*ctx.store.roster("default"), "desk"])
    window.refresh_roster()
    qtbot.waitUntil(lambda: "Desk" in cards(), timeout=PATIENCE_MS)
    assert cards()["Desk"] == ["Remote", "openai · agents.example.test · needs a key"]
    ctx.settings.max_hops = 0
    cap_reply(ctx, "writer", 8)
    send(qtbot, window, "@writer Hello")
    qtbot.waitUntil(lambda: window.run_task is None, timeout=RUN_MS)
    qtbot.waitUntil(lambda: cards()["Writer"][1] == "starter model · ready", timeout=PATIENCE_MS)
    assert window.roster.list.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff


def test_the_copilot_form_has_every_field_remote_copilots_need(qtbot, window, ctx) -> None:
    ctx.store.set_meta("key_names", ["openai", "desk-token"])  # keys saved through Roundtable, by name
    window.roster.edit(None)
    qtbot.waitUntil(lambda: window.roster.dialog is not None and window.roster.dialog.isVisible(), timeout=PATIENCE_MS)
    form = window.roster.dialog
    assert form.model_combo.isVisibleTo(form) and not form.endpoint_edit.isVisibleTo(form)
    form.provider.setCurrentIndex(form.provider.findData("openai"))
    assert form.endpoint_edit.isVisibleTo(form) and not form.model_combo.isVisibleTo(form)
    assert [form.key_combo.itemText(i) for i in range(form.key_combo.count())] == ["", "openai", "desk-token"]
    qtbot.keyClicks(form.name_edit, "Quant Desk")
    form.endpoint_edit.setText("https://gpu-box.example.test/v1")
    form.remote_model.setText("qwen2.5-32b-instruct")
    form.key_combo.setCurrentText("openai")
    form.knowledge.setCurrentIndex(form.knowledge.findData(False))
    form.accept()
    saved = form.saved
    assert saved is not None, form.error.text()
    assert (saved.id, saved.provider, saved.endpoint, saved.model, saved.api_key_name, saved.knowledge) == (
        "quant-desk",
        "openai",
        "https://gpu-box.example.test/v1",
        "qwen2.5-32b-instruct",
        "openai",
        False,
    )
    qtbot.waitUntil(lambda: "quant-desk" in [c.id for c in ctx.copilots()], timeout=PATIENCE_MS)
