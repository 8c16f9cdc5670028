"""Settings → Local API: `roundtable serve` inside the desktop app, started and stopped off the GUI thread."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.ui.operations import run_in_background
from app.ui.qt import (
    QApplication,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QObject,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    Qt,
    QWidget,
    Signal,
)

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.core.serve.server import ApiServer

_EXAMPLE = """curl {url}/chat/completions -H "Authorization: Bearer $(roundtable serve token)" \\
  -H "Content-Type: application/json" \\
  -d '{{"model": "copilot:generalist", "messages": [{{"role": "user", "content": "Hi"}}]}}'

from openai import OpenAI
client = OpenAI(base_url="{url}", api_key="<the token above>")
print([m.id for m in client.models.list()])
"""


class LocalApiService(QObject):
    """The local API of this app: one `ApiServer` on 127.0.0.1, stopped when the app quits.

    Keychain reads and the server's start and stop block: each runs as an `Operation` in its own thread.

    Signals:
        changed: the status changed; its text says how it stands now.
    """

    changed = Signal(str)

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(None)
        self.ctx = ctx
        self.server: ApiServer | None = None
        self.starting = False  # a start is under way: a second click must not start a second server
        self.status = "Stopped."
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)  # queued on the GUI thread as the app quits

    def _say(self, status: str) -> None:
        self.status = status
        self.changed.emit(status)

    @property
    def running(self) -> bool:
        return self.server is not None and self.server.running

    def start(self, port: int) -> None:
        """Start serving on `port` (token from the keychain, made on first use)."""
        from app.core.serve.server import LOOPBACK, ApiServer, api_token

        if self.server is not None or self.starting:
            return
        self.starting = True
        self._say("Starting…")
        ctx = self.ctx

        def begin() -> ApiServer:
            server = ApiServer(ctx, api_token(ctx.store), LOOPBACK, port)
            server.start()
            return server

        def started(server: ApiServer) -> None:
            self.starting = False
            self.server = server
            self._say(f"Serving at {server.url}")

        def failed(message: str) -> None:
            self.starting = False
            self._say(f"Not started: {message}")

        run_in_background(begin, started, failed)

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is None:
            return
        self._say("Stopping…")
        run_in_background(server.stop, lambda _result: self._say("Stopped."), self._say)

    def token(self, done: Any) -> None:
        """Read the token from the keychain (made if missing) and give it to `done`, on the GUI thread."""
        from app.core.serve.server import api_token

        store = self.ctx.store
        run_in_background(lambda: api_token(store), done, lambda message: self._say(f"No token: {message}"))

    def shutdown(self) -> None:
        """The app is quitting: stop serving now (open streams get the server's grace period)."""
        server, self.server = self.server, None
        if server is not None:
            server.stop()


class LocalApiPanel(QGroupBox):
    """Start/Stop, status, port, the token (hidden until Show; Copy), and a copy-paste example."""

    def __init__(self, service: LocalApiService, port: int, parent: QWidget | None = None) -> None:
        super().__init__("Local API (OpenAI-compatible)", parent)
        self.service = service
        form = QFormLayout(self)
        self.status = QLabel(service.status)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.port = QSpinBox(minimum=1, maximum=65_535)
        self.port.setAccessibleName("Local API port")
        self.port.setValue(port)
        self.toggle = QPushButton()
        self.token = QLineEdit()
        self.token.setAccessibleName("Local API token")
        self.token.setReadOnly(True)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("kept in the keychain")
        self.show_token = QPushButton("Show")
        self.copy_token = QPushButton("Copy")
        self.example = QPlainTextEdit()
        self.example.setReadOnly(True)
        self.example.setMaximumHeight(140)
        row = QHBoxLayout()
        row.addWidget(self.port)
        row.addWidget(self.toggle)
        tokens = QHBoxLayout()
        tokens.addWidget(self.token, 1)
        tokens.addWidget(self.show_token)
        tokens.addWidget(self.copy_token)
        form.addRow("Status", self.status)
        form.addRow("Port (127.0.0.1)", row)
        form.addRow("Token", tokens)
        form.addRow("Example", self.example)
        self.toggle.clicked.connect(self._toggle)
        self.show_token.clicked.connect(self._show)
        self.copy_token.clicked.connect(self._copy)
        service.changed.connect(self._changed)  # emitted on the GUI thread (from Operation callbacks)
        self._changed(service.status)

    def _toggle(self) -> None:
        if self.service.server is None:
            self.service.start(self.port.value())
        else:
            self.service.stop()

    def _changed(self, status: str) -> None:
        self.status.setText(status)
        serving = self.service.server is not None
        self.toggle.setText("Stop" if serving else "Start")
        self.port.setEnabled(not serving)
        url = self.service.server.url if self.service.server is not None else f"http://127.0.0.1:{self.port.value()}/v1"
        self.example.setPlainText(_EXAMPLE.format(url=url))

    def _show(self) -> None:
        def shown(token: str) -> None:
            self.token.setText(token)
            self.token.setEchoMode(QLineEdit.EchoMode.Normal)

        self.service.token(shown)

    def _copy(self) -> None:
        def copy(token: str) -> None:
            self.token.setText(token)
            clipboard = QApplication.clipboard()
            clipboard.setText(token)

        self.service.token(copy)
