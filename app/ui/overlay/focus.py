"""Giving a just-shown window the keyboard: asked again every 100 ms until the window manager has mapped it and
handed it the focus (a loaded machine's may take seconds), with an X11 refocus where Qt alone falls short."""

from __future__ import annotations

from app.ui.qt import QGuiApplication, QObject, QTimer, QWidget

EVERY_MS = 100
TRIES = 50


class KeyboardTaker(QObject):
    """Takes the keyboard for `window`, then puts the text cursor in `focus`, each time `take` is called."""

    def __init__(self, window: QWidget, focus: QWidget) -> None:
        super().__init__(window)
        self.window = window
        self.focus = focus
        self.tries = 0
        self.timer = QTimer(self, interval=EVERY_MS)
        self.timer.timeout.connect(self._try)

    def take(self) -> None:
        """Start asking, once now and again until the window has the keyboard."""
        self.tries = 0
        self._try()
        self.timer.start()

    def _try(self) -> None:
        window = self.window
        self.tries += 1
        if self.tries >= TRIES:
            self.timer.stop()
        if not window.isVisible() or (window.isActiveWindow() and window.focusWidget() is not None):
            self.timer.stop()
            return
        if not window.isActiveWindow():
            window.raise_()
            window.activateWindow()
            if QGuiApplication.platformName() == "xcb":
                from app.ui.overlay.x11 import activate as x11_activate

                # a refocus once it is on screen, then at most every second (each is a focus-out and -in): our own
                # shortcut opens it with no key down, but `roundtable overlay` bound to a desktop key may run while
                # that key's modifiers are still held, and Qt can then miss the focus-in
                settled = self.tries > 3 and self.tries % 10 == 4
                handle = window.windowHandle()
                x11_activate(int(window.winId()), refocus=settled and handle is not None and handle.isExposed())
        self.focus.setFocus()
