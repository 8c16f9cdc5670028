"""The quick-ask overlay: a small box over whatever the user is doing; ask, read, copy, gone."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from app.core.crew.events import CrewError, CrewStatus, CrewText, MessageEvent, RunDone
from app.core.crew.tools import Approver
from app.core.crew.transcript import Renderer, render, usage_text
from app.core.providers.base import CancelToken, Event
from app.core.store.workspaces import QUICK_ASK_WORKSPACE
from app.ui.composer import PromptEdit
from app.ui.crew_runner import CrewRunner
from app.ui.design import avatar_icon, set_role
from app.ui.endpoint_dialog import copilots_of_ask
from app.ui.operations import Operation, query
from app.ui.overlay.focus import KeyboardTaker
from app.ui.qt import (
    QComboBox,
    QCursor,
    QEvent,
    QFrame,
    QGuiApplication,
    QHBoxLayout,
    QKeyEvent,
    QKeySequence,
    QLabel,
    QObject,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    Qt,
    QTextEdit,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.reply_view import ReplyView

TITLE = "Roundtable quick ask"  # the window's name: window managers and `xdotool search` see it
LAST_COPILOT_KEY = "overlay_copilot"  # stored on disk: never change
_PREFILL_LIMIT = 20_000
_RENDER_MS = 33  # streamed text is shown at most this often; each time only its open Markdown block is re-rendered
_RENDER_SHARE = 4  # the next render waits at least this many times as long as the last one took
_WIDTH = 640


class Overlay(QWidget, Renderer):
    """Frameless, always on top, centred on the screen with the cursor.

    Exchanges are stored like any other, in threads of the "Quick asks" workspace; a follow-up question
    continues the same thread until the overlay is opened afresh.

    Attributes:
        thread_id: the thread of the exchange shown, once the first answer has started.
        question: the latest question.
        answer: the text of its answer (as `answer_view` holds it).
        answer_view: the answer, rendered as it streams.
        run_task: the answer being generated, if any.

    Signals:
        open_in_window: the exchange was moved into the main window's workspace (thread id).
        shown: the overlay was just exposed on screen (for latency measurements and tests).
    """

    open_in_window = Signal(str)
    shown = Signal()

    def __init__(self, ctx: Any, workspace: Callable[[], str], prefill: Callable[[], bool]) -> None:
        # WORKAROUND: a Qt.Tool window is never made the active window after a global shortcut (Qt 6.11, X11),
        # so typing would go to the main window; a plain frameless window takes the keyboard.
        super().__init__(
            None, Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
        )
        self.ctx = ctx
        self.workspace = workspace
        self.prefill = prefill
        self.thread_id: str | None = None
        self.question = ""
        self.runner = CrewRunner(ctx, self, self.ask_about_tool)
        self._fresh = True
        self.setWindowTitle(TITLE)
        self.setObjectName("overlay")
        frame = QFrame(self)
        frame.setObjectName("overlayFrame")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(frame)
        layout = QVBoxLayout(frame)
        layout.setContentsMargins(14, 10, 14, 12)

        top = QHBoxLayout()
        self.copilot = QComboBox()
        self.copilot.setToolTip("Who answers (an @mention in the question overrides this)")
        hint = QLabel("Enter asks · Esc closes · Ctrl+C copies the answer")
        set_role(hint, "muted")
        top.addWidget(self.copilot)
        top.addStretch()
        top.addWidget(hint)
        layout.addLayout(top)

        self.prompt = PromptEdit()
        self.prompt.setPlaceholderText("Ask a copilot… (@name picks one; Shift+Enter for a new line)")
        self.prompt.setMaximumHeight(90)
        layout.addWidget(self.prompt)

        # the question, and the answer as data: Markdown without raw HTML or images, links only through our
        # handler with the target shown on hover (see reply_view); a streamed answer re-renders its open block only
        self.asked = QLabel()
        self.asked.setTextFormat(Qt.TextFormat.PlainText)
        set_role(self.asked, "muted")
        self.asked.setWordWrap(True)
        self.asked.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.answer_view = ReplyView()
        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(4, 4, 4, 4)
        content_layout.addWidget(self.asked)
        self.questions = QVBoxLayout()  # a tool call's question waits here, above the answer it comes before
        content_layout.addLayout(self.questions)
        content_layout.addWidget(self.answer_view)
        content_layout.addStretch()
        self.answer_area = QScrollArea()
        self.answer_area.setWidgetResizable(True)
        self.answer_area.setWidget(content)
        self.answer_area.setMinimumHeight(220)
        self.answer_area.hide()
        layout.addWidget(self.answer_area, 1)
        self._follow = True  # keep the end of the answer in view, until the user scrolls up
        bar = self.answer_area.verticalScrollBar()
        bar.valueChanged.connect(lambda value: setattr(self, "_follow", value >= bar.maximum() - 4))
        bar.rangeChanged.connect(lambda _low, high: bar.setValue(high) if self._follow else None)

        bottom = QHBoxLayout()
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # it quotes agents' status lines and errors
        set_role(self.status, "muted")
        self.status.setWordWrap(True)
        self.copy_button = QPushButton("Copy")
        self.open_button = QPushButton("Open in Roundtable")
        self.open_button.setToolTip("Move this exchange into a thread of the current workspace and show it there")
        for button in (self.copy_button, self.open_button):
            button.setEnabled(False)
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.copy_button)
        bottom.addWidget(self.open_button)
        layout.addLayout(bottom)

        self.keyboard = KeyboardTaker(self, self.prompt)
        self.render_timer = QTimer(self, interval=_RENDER_MS, singleShot=True)
        self.render_timer.timeout.connect(self._render)
        self.prompt.submitted.connect(self.ask)
        self.runner.run_event.connect(self._on_event)
        self.runner.failed.connect(self._show_problem)
        self.runner.finished.connect(self._finished)
        self.copy_button.clicked.connect(self.copy_answer)
        self.open_button.clicked.connect(self.open_in_roundtable)
        self.prompt.installEventFilter(self)
        self.answer_view.watch_pieces(self)
        self.resize(_WIDTH, 150)
        self.load_copilots()

    # -- showing and hiding -------------------------------------------------------------------------------

    @property
    def run_task(self) -> Operation | None:
        """The answer being generated, if any."""
        return self.runner.operation

    def toggle(self) -> None:
        if self.isVisible():
            self.dismiss()
        else:
            self.present()

    def present(self) -> None:
        """Show the box on the screen with the cursor, ready for a new question."""
        if self.isVisible():
            self.raise_()
            self.activateWindow()
            return
        if self.run_task is None:
            self._new_exchange()
        screen = QGuiApplication.screenAt(QCursor.pos()) or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        self.move(area.x() + (area.width() - self.width()) // 2, area.y() + area.height() // 4)
        self.show()
        self.keyboard.take()  # until the window manager has mapped it and handed it the keyboard
        if self._fresh and self.prefill():
            QTimer.singleShot(0, self._prefill)  # after the window is up: reading a selection may wait on its owner
        self.load_copilots()

    def dismiss(self) -> None:
        """Hide, stopping any answer being written (what was written is kept, marked interrupted)."""
        self.runner.stop()
        self.hide()

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        QTimer.singleShot(0, self.shown.emit)  # after the expose that this show queues

    def _new_exchange(self) -> None:
        self.thread_id = None
        self._fresh = True
        self.prompt.clear()
        self.asked.clear()
        self._clear_questions()
        self.answer_view.begin("")
        self.answer_area.hide()
        self.status.clear()
        set_role(self.status, "muted")
        self.copy_button.setEnabled(False)
        self.open_button.setEnabled(False)
        layout = self.layout()
        if layout is not None:
            layout.activate()
        self.resize(_WIDTH, self.minimumSizeHint().height())

    def _prefill(self) -> None:
        if self.prompt.toPlainText():
            return  # the user was quicker
        clipboard = QGuiApplication.clipboard()
        text = clipboard.text(clipboard.Mode.Selection) if clipboard.supportsSelection() else ""
        text = (text if text.strip() else clipboard.text()).strip()[:_PREFILL_LIMIT]
        if text:
            self.prompt.setPlainText(text)
            self.prompt.selectAll()  # typing replaces it; End keeps it and adds to it

    # -- the copilot picker ----------------------------------------------------------------------------------

    def load_copilots(self) -> None:
        ctx = self.ctx

        def load() -> tuple[list, str]:
            last = ctx.store.get_meta(LAST_COPILOT_KEY) or ctx.settings.default_copilot
            return [(c.id, c.name, c.color) for c in ctx.copilots()], last

        query(load, self._set_copilots, self._show_problem)

    def _set_copilots(self, result: tuple[list, str]) -> None:
        copilots, last = result
        chosen = self.copilot.currentData() or last
        self.copilot.clear()
        for copilot_id, name, colour in copilots:
            self.copilot.addItem(avatar_icon(name, colour, 20), name, copilot_id)
        self.copilot.setCurrentIndex(max(self.copilot.findData(chosen), 0))
        self.prompt.set_names(copilots)

    # -- asking ------------------------------------------------------------------------------------------------

    @property
    def answer(self) -> str:
        return self.answer_view.text

    def ask(self) -> None:
        text = self.prompt.toPlainText().strip()
        copilot_id = self.copilot.currentData()
        if not text or self.run_task is not None or copilot_id is None:
            return
        from app.core.crew.runs import ask

        ctx, thread_id = self.ctx, self.thread_id
        self._fresh = False
        self.prompt.clear()
        self.question = text
        self.asked.setText(text)
        self._clear_questions()
        self.answer_view.dark = bool(self.palette().window().color().lightness() < 128)
        self.answer_view.begin()
        self._follow = True
        self.answer_area.show()
        set_role(self.status, "muted")
        self.status.setText("Thinking…")
        self.copy_button.setEnabled(False)
        self.open_button.setEnabled(False)
        self.resize(_WIDTH, max(self.height(), 420))

        def run(approve: Approver, cancel: CancelToken) -> Iterable[Any]:
            ctx.store.set_meta(LAST_COPILOT_KEY, copilot_id)
            return ask(
                ctx,
                text,
                copilot_id=copilot_id,
                thread_id=thread_id,
                cancel=cancel,
                workspace_id=QUICK_ASK_WORKSPACE,
                approve=approve,
            )

        # an imported remote copilot is sent nothing until the user confirms its endpoint, as in the window
        self.runner.start(lambda: copilots_of_ask(ctx, copilot_id, text), run)

    def _on_event(self, event: Event) -> None:
        render(self, event)

    def ask_about_tool(self, question: Any) -> QWidget:
        """The quick answer's tool call waits for the user: the same card as in the window, above the answer."""
        from app.ui.tool_approval import ToolApprovalCard

        card = ToolApprovalCard(question)
        self.questions.addWidget(card)
        self.answer_area.show()
        self.status.setText(f"Waiting for your answer: may {question.copilot} use {question.tool}?")
        card.answered.connect(lambda _consent: self.prompt.setFocus())
        card.focus()
        return card

    def _clear_questions(self) -> None:
        while self.questions.count():
            item = self.questions.takeAt(0)
            card = item.widget() if item is not None else None
            if card is not None:
                card.deleteLater()

    # -- the Renderer contract: the quick answer shows its text, progress, problems and figures ---------------

    def on_text(self, event: CrewText) -> None:
        self.answer_view.append(event.delta)
        if not self.render_timer.isActive():
            self.render_timer.start()

    def on_status(self, event: CrewStatus) -> None:
        self.status.setText(f"{event.message}…")

    def on_message_started(self, event: MessageEvent) -> None:
        name = self.copilot.itemText(self.copilot.findData(event.author)) or event.author
        self.status.setText(f"{name} is writing…")

    def on_error(self, event: CrewError) -> None:
        self.thread_id = event.thread_id
        self._show_problem(event.message)

    def on_done(self, event: RunDone) -> None:
        self.thread_id = event.thread_id
        if event.status == "complete":
            figures = usage_text(event.usage)
            self.status.setText(f"Done{f' · {figures}' if figures else ''}. Ask a follow-up, or Esc.")
        elif event.status == "interrupted":
            self.status.setText("Stopped; what was written is kept.")

    def _finished(self) -> None:
        self.render_timer.stop()
        self._render(final=True)
        self.copy_button.setEnabled(bool(self.answer))
        self.open_button.setEnabled(self.thread_id is not None)

    def _render(self, final: bool = False) -> None:
        """Show what arrived since the last call (`final`: the answer is complete; close its last block)."""
        started = time.perf_counter()
        self.answer_view.render(final)
        # each render costs about the same at any length; should one be slow, the next waits longer
        took_ms = (time.perf_counter() - started) * 1000
        self.render_timer.setInterval(max(_RENDER_MS, int(took_ms * _RENDER_SHARE)))

    def _show_problem(self, message: str) -> None:
        set_role(self.status, "error")
        self.status.setText(message)

    # -- copying and moving -----------------------------------------------------------------------------

    def copy_answer(self) -> None:
        if self.answer:
            QGuiApplication.clipboard().setText(self.answer)
            self.status.setText("Answer copied.")

    def open_in_roundtable(self) -> None:
        """Move the exchange into the main window's workspace and show it there."""
        thread_id, workspace = self.thread_id, self.workspace()
        if thread_id is None or self.run_task is not None:
            return

        def moved(_result: Any) -> None:
            self.hide()
            self._new_exchange()
            self.open_in_window.emit(thread_id)

        store = self.ctx.store
        query(lambda: store.move_thread(thread_id, workspace), moved, self._show_problem)

    # -- keys ---------------------------------------------------------------------------------------------

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        if event.key() == Qt.Key.Key_Escape:
            self.dismiss()
            return
        super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        # Ctrl+C copies the answer, unless the user selected some text to copy instead
        if (
            isinstance(event, QKeyEvent)
            and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress)
            and event.matches(QKeySequence.StandardKey.Copy)
        ):
            selected = isinstance(watched, (QTextEdit, QPlainTextEdit)) and watched.textCursor().hasSelection()
            if not selected and self.answer:
                if event.type() == QEvent.Type.KeyPress:
                    self.copy_answer()
                event.accept()
                return True
        return super().eventFilter(watched, event)
