"""Starting the desktop app: one instance per user, the main window, the overlay, the tray and the shortcut."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from app import __version__
from app.core.errors import ExitCode, RoundtableError
from app.core.instance import send_command
from app.core.paths import Paths

TRAY_NOTICE_KEY = "tray_notice_shown"  # stored on disk: never change
FREEZE_AFTER_MS = 3000  # start-up's objects are moved out of the cycle collector's way this long after the window


def run_app(argv: list[str] | None = None, *, command: str = "show") -> int:
    """Hand `command` (`show` or `overlay`) to the running Roundtable, or start one that carries it out.

    Started with `overlay`, Roundtable opens in the tray with only the overlay showing.
    """
    paths = Paths.from_environment()
    reply = send_command(paths, command)
    if reply is not None:
        if reply != "ok":
            sys.stderr.write(f"roundtable: the running Roundtable answered: {reply}\n")
            return ExitCode.FAILED
        if command == "show":
            print("Roundtable is already running: its window is in front now.")
        return ExitCode.OK

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.ui.collector import MainThreadCollector
    from app.ui.frame import Frame, frame_is_dark, lighten_pyside_imports, theme_of

    lighten_pyside_imports()
    app = QApplication.instance() or QApplication([sys.argv[0], *(argv or [])])
    # `instance()` is typed as the base QCoreApplication; in this process it is only ever the QApplication above
    assert isinstance(app, QApplication)
    app.setApplicationName("Roundtable")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("roundtable")
    app.setQuitOnLastWindowClosed(False)  # the overlay, the tray and the shortcut outlive the window
    collector = MainThreadCollector(app)  # before any worker thread starts: Qt garbage is freed on this thread
    frame = Frame(frame_is_dark(theme_of(paths.settings_file)))
    started: list[Desktop] = []

    def build() -> int | None:
        """The rest of the app; the exit code when it cannot start (the dialog has said why)."""
        try:
            desktop = start_desktop(app, paths, frame)
        except RoundtableError as exc:  # a damaged database or settings file: launched from a menu, stderr is lost
            frame.hide()
            _cannot_start(exc)
            app.exit(exc.exit_code)  # from the event loop; before it, the caller returns the code
            return int(exc.exit_code)
        started.append(desktop)
        if command == "overlay":
            desktop.overlay.present()
        else:
            desktop.show_window()
        # once the window is up, what start-up made is out of the collector's way: it lives as long as the app,
        # and a full collection on the GUI thread then looks only at what came since
        QTimer.singleShot(FREEZE_AFTER_MS, collector.freeze)
        return None

    if command == "overlay":  # the tray and the overlay: no window to show first
        failed = build()
        if failed is not None:
            return failed
    else:
        frame.painted.connect(build)  # the frame first, then the rest once it is on screen
        frame.show()
    try:
        return app.exec()
    finally:
        for desktop in started:
            desktop.close()
            desktop.ctx.close()
        collector.collect_all()


def start_desktop(app: Any, paths: Paths, frame: Any) -> Desktop:
    """Everything behind the frame: logging, the context, the theme, the window in the frame, the overlay, the
    tray and the shortcut. RoundtableError when the data or the settings cannot be opened."""
    from app.core.context import AppContext
    from app.core.logs import configure_logging, install_excepthook
    from app.ui.theme import apply_theme
    from app.ui.tray import app_icon

    configure_logging(paths)  # a desktop launch has no terminal: warnings and tracebacks go to the log file
    install_excepthook(paths, "the desktop app")
    app.setWindowIcon(app_icon())
    ctx = AppContext(paths)
    apply_theme(app, ctx.settings.theme)
    return Desktop(ctx, frame)


def _cannot_start(exc: RoundtableError) -> None:
    """Say why Roundtable cannot open, in a dialog (a desktop launch has no terminal) and on stderr."""
    from app.ui.qt import QMessageBox, Qt

    sys.stderr.write(f"roundtable: {exc}\n")
    box = QMessageBox(QMessageBox.Icon.Critical, "Roundtable could not start", str(exc))
    box.setTextFormat(Qt.TextFormat.PlainText)  # the message may quote a file name or a settings value
    box.exec()


class Desktop:
    """The running app's parts and how they reach each other; answers commands from later launches.

    Attributes:
        frame: the top-level window (`app.ui.frame.Frame`), shown before the rest was built.
        window: the main window, the frame's contents.
        overlay: the quick-ask overlay.
        tray: the tray icon (`tray.available` is False where the desktop has no tray).
        shortcut: the global shortcut that toggles the overlay.
        server: where later launches send their commands.
    """

    def __init__(self, ctx: Any, frame: Any = None) -> None:
        from app.ui.frame import Frame
        from app.ui.main_window import MainWindow
        from app.ui.overlay import Overlay
        from app.ui.overlay.shortcut import GlobalShortcut
        from app.ui.qt import QApplication
        from app.ui.single_instance import InstanceServer
        from app.ui.theme import is_dark
        from app.ui.tray import Tray

        self.ctx = ctx
        self.frame = frame or Frame(is_dark(ctx.settings.theme))
        self.window = MainWindow(ctx)
        self.frame.set_content(self.window)
        self.overlay = Overlay(ctx, lambda: self.window.workspace_id, lambda: ctx.settings.overlay_prefill)
        self.tray = Tray(self.show_window, self.overlay.toggle, QApplication.quit)
        self.shortcut = GlobalShortcut()
        self.server = InstanceServer(ctx.paths, self.handle)
        self.window.on_close = self._window_closing
        self.window.shortcut_status = self.shortcut_status
        self.window.settings_applied.connect(self._settings_applied)
        self.overlay.open_in_window.connect(self._open_in_window)
        self.shortcut.activated.connect(self.overlay.toggle)  # queued: emitted on pynput's thread
        if os.environ.get("ROUNDTABLE_OVERLAY_TIMING"):  # for bench/overlay_latency.py: when it is on screen
            self.overlay.shown.connect(lambda: print(f"overlay-shown {time.time()}", flush=True))
        if not self.server.listen():
            self.window.statusBar().showMessage(
                f"Could not open {self.server.address or 'a private folder for the instance socket'}: later "
                "launches and `roundtable overlay` will start another Roundtable instead of using this one.",
                15000,
            )
        self._register_shortcut()

    def _register_shortcut(self) -> None:
        from app.ui.qt import QGuiApplication

        problem = self.shortcut.start(self.ctx.settings.overlay_shortcut, QGuiApplication.platformName())
        if problem and self.ctx.settings.overlay_shortcut:
            sys.stderr.write(f"roundtable: overlay shortcut: {problem}\n")

    def shortcut_status(self) -> str:
        if self.shortcut.active:
            return f"{self.shortcut.sequence} opens the overlay from anywhere."
        return self.shortcut.problem or ""

    def show_window(self) -> None:
        self.frame.show()
        self.frame.showNormal()
        self.frame.raise_()
        self.frame.activateWindow()

    def handle(self, command: str) -> str:
        """A command from a later launch (`app.core.instance.COMMANDS`)."""
        from app.ui.qt import QApplication, QTimer, QWidget

        if command == "show":
            self.show_window()
        elif command == "overlay":
            self.overlay.toggle()
        elif command == "status":
            return json.dumps(
                {
                    "pid": os.getpid(),
                    "window": self.frame.isVisible(),
                    "overlay": self.overlay.isVisible(),
                    "question": self.overlay.prompt.toPlainText() if self.overlay.isVisible() else "",
                    "active": (QApplication.activeWindow() or QWidget()).windowTitle(),
                    "tray": self.tray.available,
                    "shortcut": self.shortcut_status(),
                }
            )
        elif command == "quit":
            QTimer.singleShot(0, QApplication.quit)  # after this answer is sent
        else:
            return f"unknown command '{command}'"
        return "ok"

    def _window_closing(self, event: Any) -> None:
        from app.ui.qt import QApplication

        if not (self.ctx.settings.close_to_tray and self.tray.available):
            QApplication.quit()
            return
        from app.ui.operations import query

        event.ignore()
        self.frame.hide()
        store = self.ctx.store

        def first_time() -> bool:
            """Whether the notice is due, marking it shown (one job on the database worker: never twice)."""
            if store.get_meta(TRAY_NOTICE_KEY, False):
                return False
            store.set_meta(TRAY_NOTICE_KEY, True)
            return True

        query(first_time, self._tray_notice, self.window.error)

    def _tray_notice(self, due: bool) -> None:
        if due:
            self.tray.notify(
                "Roundtable is still running",
                "It waits in the tray for the overlay shortcut. Quit from the tray menu, or turn this off in Settings.",
            )

    def _settings_applied(self, settings: Any) -> None:
        if settings.overlay_shortcut != self.shortcut.sequence or not self.shortcut.active:
            self._register_shortcut()

    def _open_in_window(self, thread_id: str) -> None:
        self.show_window()
        self.window.refresh_threads()
        self.window.open_thread(thread_id)

    def close(self) -> None:
        self.window.documents.stop_watching()
        self.shortcut.stop()
        self.server.close()
        self.tray.hide()
