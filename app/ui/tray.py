"""The tray icon: Show window, Overlay, Quit; Roundtable keeps running there when the window is closed."""

from __future__ import annotations

from collections.abc import Callable

from app.core.context import resources_dir
from app.ui.qt import QIcon, QMenu, QObject, QSystemTrayIcon


def app_icon() -> QIcon:
    return QIcon(str(resources_dir() / "icons" / "roundtable.svg"))


class Tray(QObject):
    """A tray icon where the desktop has a tray; `available` says whether it does.

    Attributes:
        icon: the QSystemTrayIcon, or None without a tray.
    """

    def __init__(
        self, show_window: Callable[[], None], toggle_overlay: Callable[[], None], quit_app: Callable[[], None]
    ) -> None:
        super().__init__()
        self.icon: QSystemTrayIcon | None = None
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        self.menu = QMenu()
        for label, slot in (("Show window", show_window), ("Overlay", toggle_overlay), ("Quit", quit_app)):
            self.menu.addAction(label).triggered.connect(slot)
        self.icon = QSystemTrayIcon(app_icon())
        self.icon.setToolTip("Roundtable")
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(
            lambda reason: show_window() if reason == QSystemTrayIcon.ActivationReason.Trigger else None
        )
        self.icon.show()

    @property
    def available(self) -> bool:
        return self.icon is not None

    def notify(self, title: str, text: str) -> None:
        if self.icon is not None:
            self.icon.showMessage(title, text, app_icon(), 8000)

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()
