"""The main window: workspaces and threads on the left, the thread in the centre, the crew on the right."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from app.core.crew.tools import Approver
from app.core.providers.base import CancelToken, Event
from app.core.settings import Settings, save_settings
from app.ui.composer import Composer
from app.ui.crew_runner import CrewRunner
from app.ui.documents import DocumentsPanel
from app.ui.endpoint_dialog import copilots_of_run
from app.ui.menus import build_menus
from app.ui.message_card import show_trace
from app.ui.operations import Operation, query
from app.ui.qt import (
    QApplication,
    QCloseEvent,
    QMainWindow,
    QMenu,
    QPushButton,
    QSplitter,
    Qt,
    QTabWidget,
    QTextCursor,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.roster import RosterPanel
from app.ui.sidebar import Sidebar
from app.ui.tasks import TaskBoard
from app.ui.theme import apply_theme
from app.ui.thread_view import ThreadView

_UNDO_MS = 8000
_PASSAGES_FOUND = 5  # document passages a sidebar search lists under its threads


@dataclass
class ThreadOpened(Event):
    """A crew run made a new thread (so the sidebar can show it)."""

    type: ClassVar[str] = "thread"
    thread_id: str


class MainWindow(QMainWindow):
    """The workspace window. All core calls go through workers; their results arrive as queued signals.

    Attributes:
        on_close: decides what closing the window does (the desktop app keeps running in the tray); None = close.
        shortcut_status: what the Settings dialog says about the overlay's global shortcut.

    Signals:
        settings_applied: the user saved new settings (the Settings object).
    """

    settings_applied = Signal(object)

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.ctx = ctx
        self.on_close: Callable[[QCloseEvent], None] | None = None
        self.shortcut_status: Callable[[], str] = lambda: ""
        self.workspace_id = "default"
        self.thread_id: str | None = None
        self.runner = CrewRunner(ctx, self, lambda question: self.thread_view.ask_about_tool(question))
        self.models_panel: Any = None
        self.local_api: Any = None  # the LocalApiService, made when Settings first opens
        self.pending_delete: str | None = None
        self.pending_text = ""
        self._shown_once = False
        self.command_palette: Any = None  # the command palette opened last
        self.shortcuts_dialog: Any = None
        self.settings_dialog: Any = None  # the settings dialog opened last
        self.timeline_dialog: Any = None  # the run timeline opened last
        self.report_writer: Any = None  # the report being written, if any
        self.setWindowTitle("Roundtable")
        self.resize(1280, 820)
        self.copilots: dict[str, Any] = {}  # filled by refresh_roster, from the database worker

        self.sidebar = Sidebar()
        self.thread_view = ThreadView(self.copilots)
        self.composer = Composer()
        self.welcome: Any = None  # the first run's WelcomeView, made only when it shows: most launches need none
        centre = QWidget()
        self.centre_layout = centre_layout = QVBoxLayout(centre)
        centre_layout.addWidget(self.thread_view, 1)
        centre_layout.addWidget(self.composer)
        self.roster = RosterPanel(ctx, lambda: self.workspace_id, self.copilots)
        self.task_board = TaskBoard()
        right = QTabWidget()
        self.documents = DocumentsPanel(ctx, lambda: self.workspace_id)
        right.addTab(self.roster, "Copilots")
        right.addTab(self.task_board, "Tasks")
        right.addTab(self.documents, "Documents")
        splitter = QSplitter()
        for widget in (self.sidebar, centre, right):
            splitter.addWidget(widget)
        splitter.setSizes([240, 760, 300])
        self.setCentralWidget(splitter)
        self.undo_timer = QTimer(self, singleShot=True)
        self.undo_timer.timeout.connect(self._commit_delete)
        self.undo_button = QPushButton("Undo")
        self.undo_button.hide()
        self.statusBar().addPermanentWidget(self.undo_button)
        self.open_timeline_action, self.export_report_action = build_menus(self)
        self._connect()
        self._set_welcome(False)
        store = ctx.store
        # queued first on the database worker: the welcome is decided before the roster arrives
        query(
            lambda: len(store.models()) <= 1 and not store.get_meta("welcome_dismissed", False),
            lambda first_run: self._set_welcome(bool(first_run) and self.thread_id is None),
            self.error,
        )
        self.refresh_all()
        self.documents.start_watching()  # linked folders: scanned now, then watched while the window runs

    @property
    def run_task(self) -> Operation | None:
        """The crew run in flight, if any."""
        return self.runner.operation

    # -- wiring ---------------------------------------------------------------------------------------------

    def open_palette(self) -> None:
        """Ctrl+K: jump to a thread, workspace or copilot, or run a menu action."""
        from app.ui.palette import CommandPalette, window_entries

        self.command_palette = CommandPalette(window_entries(self), self)
        self.command_palette.open()

    def show_shortcuts(self) -> None:
        from app.ui.palette import ShortcutsDialog, shortcut_rows

        actions = [a for menu in self.menuBar().findChildren(QMenu) for a in menu.actions()]
        self.shortcuts_dialog = ShortcutsDialog(shortcut_rows(actions, self.ctx.settings.overlay_shortcut), self)
        self.shortcuts_dialog.open()

    def address(self, copilot_id: str) -> None:
        """Start a message to one copilot: `@id ` in the composer, which takes the keyboard."""
        edit = self.composer.edit
        if f"@{copilot_id}" not in edit.toPlainText():
            edit.setPlainText(f"@{copilot_id} {edit.toPlainText()}".rstrip() + " ")
        edit.moveCursor(QTextCursor.MoveOperation.End)
        edit.setFocus()

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if not self._shown_once:  # the composer has the keyboard on start
            self._shown_once = True
            QTimer.singleShot(0, self.composer.edit.setFocus)

    def _connect(self) -> None:
        self.composer.send.connect(self.send)
        self.runner.run_event.connect(self._on_event)
        self.runner.failed.connect(self.error)
        self.runner.finished.connect(self._run_finished)
        self.composer.stop.connect(self.stop)
        self.composer.edit.problem.connect(self.statusBar().showMessage)
        self.sidebar.workspace_changed.connect(self._workspace_changed)
        self.sidebar.thread_selected.connect(self.open_thread)
        self.sidebar.search_changed.connect(lambda _text: self.refresh_threads())
        self.sidebar.rename_requested.connect(self._rename)
        self.sidebar.delete_requested.connect(self._delete)
        self.sidebar.pin_requested.connect(self._pin)
        self.sidebar.passage_selected.connect(self._show_passage)
        self.undo_button.clicked.connect(self._undo_delete)
        self.thread_view.details_requested.connect(self.show_details)
        self.thread_view.confidence_requested.connect(self.show_confidence)
        self.thread_view.retry_requested.connect(self.retry)
        # a link's real target is shown before it is opened: the text of a link may say something else
        self.thread_view.link_hovered.connect(self._show_link_target)
        self.roster.changed.connect(self.refresh_roster)
        self.roster.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.task_board.open_task.connect(self._open_task)
        self.documents.open_message.connect(self._open_task)
        self.documents.message.connect(lambda text: self.statusBar().showMessage(text, 8000))

    def _set_welcome(self, visible: bool) -> None:
        """The first-run welcome takes the thread's place until a thread opens or it is dismissed."""
        if visible and self.welcome is None:
            from app.ui.welcome import WelcomeView  # imported when first shown: start-up time and memory

            self.welcome = WelcomeView(self.ctx)
            self.welcome.dismissed.connect(lambda: self._set_welcome(False))
            self.welcome.models_changed.connect(self._models_changed)
            self.welcome.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
            self.centre_layout.insertWidget(0, self.welcome, 1)
        if self.welcome is not None:
            self.welcome.setVisible(visible)
        self.thread_view.setVisible(not visible)

    def _models_changed(self) -> None:
        self.refresh_roster()
        if self.models_panel is not None:
            self.models_panel.installed.refresh()
            self.models_panel.recommended.show_crew()

    # -- loading from the store (in workers) ----------------------------------------------------------------

    def refresh_all(self) -> None:
        query(self.ctx.store.workspaces, lambda w: self.sidebar.set_workspaces(w, self.workspace_id), self.error)
        self.refresh_threads()
        self.refresh_roster()
        self.refresh_tasks()
        self.documents.refresh()

    def refresh_threads(self) -> None:
        text, workspace = self.sidebar.search.text().strip(), self.workspace_id
        store = self.ctx.store

        def load() -> tuple[list, list]:
            if not text:
                return store.list_threads(workspace), []
            return store.find_threads(text, workspace), store.search_chunks(
                text, workspace, _PASSAGES_FOUND, prefix=True
            )

        def show(found: tuple[list, list]) -> None:
            self.sidebar.set_threads(found[0], self.thread_id, found[1])

        query(load, show, self.error)

    def _pin(self, thread_id: str, pinned: bool) -> None:
        store = self.ctx.store
        query(lambda: store.pin_thread(thread_id, pinned), lambda _r: self.refresh_threads(), self.error)

    def _show_passage(self, hit: Any) -> None:
        from app.ui.passage import show_passage

        show_passage(self, hit.title, hit.location, hit.text, self.sidebar.search.text().strip())

    def refresh_roster(self) -> None:
        ctx, workspace = self.ctx, self.workspace_id

        def load() -> list:
            listed = ctx.copilot_list()  # a damaged row is skipped and reported, never fatal
            everyone = {c.id: c for c in listed.copilots}
            roster = ctx.store.roster(workspace) or list(everyone)
            shown = [everyone[i] for i in roster if i in everyone]
            return [everyone, shown, listed, {c.id: ctx.copilot_state(c) for c in shown}]

        def show(result: list) -> None:
            self.copilots.clear()
            self.copilots.update(result[0])
            self.roster.set_copilots(result[1], result[2].review, result[2].damaged, result[3])
            self.composer.edit.set_names([(c.id, c.name, c.color) for c in result[0].values()])

        query(load, show, self.error)

    def refresh_tasks(self) -> None:
        store, workspace = self.ctx.store, self.workspace_id
        query(lambda: store.tasks(workspace_id=workspace), self.task_board.set_tasks, self.error)

    def _workspace_changed(self, workspace_id: str) -> None:
        self.workspace_id = workspace_id
        self.open_thread(None)
        self.refresh_all()

    def open_thread(self, thread_id: str | None, then: Any = None) -> None:
        self.thread_id = thread_id
        if thread_id is None:
            self.thread_view.clear()
            return
        self._set_welcome(False)

        def show(read: tuple[list, dict[str, str]]) -> None:
            if self.thread_id == thread_id:
                self.thread_view.load(*read)
                if then:
                    then()

        store = self.ctx.store
        query(
            lambda: (store.timeline(thread_id), {m.id: m.created_at for m in store.messages(thread_id)}),
            show,
            self.error,
        )

    def _open_task(self, thread_id: str, message_id: str) -> None:
        self.open_thread(thread_id, then=lambda: self.thread_view.scroll_to_message(message_id))

    # -- talking to the crew ---------------------------------------------------------------------------------

    def _crew(self, thread_id: str, workspace: str, approve: Approver, cancel: CancelToken) -> Any:
        """A crew run in a workspace, with its roster and the settings' hop limit (called from a worker)."""
        from app.core.crew.engine import CrewRun
        from app.core.crew.runs import participants_for

        ctx = self.ctx
        return CrewRun(
            ctx,
            thread_id,
            participants_for(ctx, workspace, None),
            max_hops=ctx.settings.max_hops,
            cancel=cancel,
            workspace_id=workspace,
            approve=approve,
        )

    def send(self, text: str) -> None:
        ctx, workspace, thread_id = self.ctx, self.workspace_id, self.thread_id
        self._set_welcome(False)
        query(lambda: ctx.store.set_meta("welcome_dismissed", True), None, self.error)

        def run(approve: Approver, cancel: CancelToken) -> Iterable[Any]:
            current = thread_id
            if current is None:
                current = ctx.store.create_thread(text, workspace).id
                yield ThreadOpened(current)
            yield from self._crew(current, workspace, approve, cancel).handle(text)

        # an imported remote copilot is sent nothing until the user confirms its endpoint
        self._start_run(lambda: copilots_of_run(ctx, workspace, text), run, text)

    def retry(self, copilot_id: str) -> None:
        ctx, workspace, thread_id = self.ctx, self.workspace_id, self.thread_id
        if thread_id is None or self.runner.busy:
            return

        def run(approve: Approver, cancel: CancelToken) -> Iterable[Any]:
            crew = self._crew(thread_id, workspace, approve, cancel)
            return crew.answer(ctx.copilot(copilot_id), "asked again after a crash")

        self._start_run(lambda: [ctx.copilot(copilot_id)], run, None)

    def _start_run(
        self, reaches: Callable[[], list[Any]], run: Callable[[Approver, CancelToken], Iterable[Any]], text: str | None
    ) -> None:
        self.pending_text = text or ""
        if text is not None and self.thread_id is not None:
            self.thread_view.add_message("pending", "user", text)
        self.composer.set_busy(True)
        self.runner.start(reaches, run)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, ThreadOpened):
            self.thread_id = event.thread_id
            self.thread_view.clear()
            self.thread_view.add_message("pending", "user", self.pending_text)
            self.refresh_threads()
            return
        self.thread_view.handle(event)
        if event.type in ("task", "handoff"):
            self.refresh_tasks()
        if event.type == "message":  # a copilot starts or stops answering: its card says so
            self.refresh_roster()
        if event.type == "error":
            self.statusBar().showMessage(event.message, 10000)

    def _run_finished(self) -> None:
        self.composer.set_busy(False)
        self.refresh_roster()  # a copilot confirmed for this run is no longer marked
        self.refresh_threads()
        self.refresh_tasks()

    def stop(self) -> None:
        if self.runner.busy:
            self.runner.stop()
            self.statusBar().showMessage("Stopping…", 3000)

    def show_details(self, message_id: str) -> None:
        store = self.ctx.store
        query(lambda: store.get_message(message_id), lambda found: show_trace(self, found), self.error)

    def show_confidence(self, message_id: str) -> None:
        """Read a reply's token confidence on the database worker; its card switches to the confidence view."""
        from app.core.confidence import stored

        store = self.ctx.store

        def read() -> Any:
            return stored(store.confidence(message_id), store.get_message(message_id).data.get("trace"))

        query(read, lambda reply: self.thread_view.show_confidence(message_id, reply), self.error)

    # -- threads: rename, delete with undo -------------------------------------------------------------------

    def _rename(self, thread_id: str, title: str) -> None:
        store = self.ctx.store
        query(lambda: store.rename_thread(thread_id, title), lambda _r: self.refresh_threads(), self.error)

    def _delete(self, thread_id: str) -> None:
        """Hide the thread at once; it is deleted for good only if Undo is not pressed in time."""
        self._commit_delete()
        self.pending_delete = thread_id
        self.sidebar.take_thread(thread_id)
        if self.thread_id == thread_id:
            self.open_thread(None)
        self.statusBar().showMessage("Thread deleted.", _UNDO_MS)
        self.undo_button.show()
        self.undo_timer.start(_UNDO_MS)  # restarted by each delete: a later one gets its full time

    def _undo_delete(self) -> None:
        self.undo_timer.stop()
        self.pending_delete = None
        self.undo_button.hide()
        self.statusBar().showMessage("Thread restored.", 3000)
        self.refresh_threads()

    def _commit_delete(self) -> None:
        thread_id, self.pending_delete = self.pending_delete, None
        self.undo_button.hide()
        if thread_id:
            store = self.ctx.store
            query(lambda: store.delete_thread(thread_id), None, self.error)

    # -- model manager and settings --------------------------------------------------------------------------

    def open_models(self) -> None:
        from app.ui.models_panel import ModelsPanel

        if self.models_panel is None:
            self.models_panel = ModelsPanel(self.ctx, self)
            self.models_panel.models_changed.connect(self.refresh_roster)
            self.models_panel.models_changed.connect(lambda: self.welcome and self.welcome.recommended.show_crew())
            self.models_panel.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.models_panel.show()
        self.models_panel.raise_()
        self.models_panel.activateWindow()

    def open_settings(self) -> None:
        from app.core.hardware import llama_backend
        from app.ui.local_api import LocalApiService
        from app.ui.settings_dialog import SettingsDialog

        if self.local_api is None:
            self.local_api = LocalApiService(self.ctx)  # outlives the dialog: the server runs until stopped or quit
        dialog = SettingsDialog(
            self.ctx.settings,
            self.ctx.paths,
            [(c.id, c.name) for c in self.copilots.values()],
            llama_backend(),
            self.shortcut_status(),
            self,
            store=self.ctx.store,
            local_api=self.local_api,
        )
        self.settings_dialog = dialog
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.result_settings()))
        dialog.open()  # window-modal, without a nested event loop

    def apply_settings(self, settings: Settings) -> None:
        """Use new settings now; `settings_applied` follows once they are saved (on the database worker)."""
        ctx = self.ctx
        for field in type(settings).model_fields:
            setattr(ctx.settings, field, getattr(settings, field))
        app = QApplication.instance()
        assert isinstance(app, QApplication)  # typed as the base QCoreApplication: a window needs a QApplication
        apply_theme(app, settings.theme)

        def save() -> None:
            # the same worker as every other write the GUI asks for: two quick Saves land in order
            save_settings(settings, ctx.paths.settings_file)
            if settings.memory_budget_mb:
                ctx.pool.set_budget(settings.memory_budget_mb * 1024 * 1024)

        def saved(_result: Any) -> None:
            if self.thread_id:
                self.open_thread(self.thread_id)
            self.settings_applied.emit(settings)

        query(save, saved, self.error)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if self.on_close is not None:
            self.on_close(event)
        if event.isAccepted():
            self.documents.stop_watching()
            super().closeEvent(event)

    def _show_link_target(self, target: str) -> None:
        if target:
            self.statusBar().showMessage(f"Opens {target}")
        else:
            self.statusBar().clearMessage()

    def error(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)
