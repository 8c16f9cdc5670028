"""Grab the whole X screen into a PNG (run with DISPLAY set): `python tests/screenshot.py OUT.png`."""

import sys

from PySide6.QtGui import QGuiApplication

if __name__ == "__main__":
    app = QGuiApplication(sys.argv[:1] + ["-platform", "xcb"])
    image = app.primaryScreen().grabWindow(0)
    sys.exit(0 if image.save(sys.argv[1]) and not image.isNull() else 1)
