"""Light and dark themes from the design tokens (`ui/design.py`); `system` follows the desktop's colour scheme,
live: when the desktop switches, so does Roundtable."""

from __future__ import annotations

from app.ui.design import stylesheet
from app.ui.qt import QApplication, QColor, QPalette, QStyleFactory, Qt
from app.ui.tokens import Colours, colours

_MODE = "roundtable_theme_mode"  # the application property that holds the mode the user chose


def is_dark(mode: str) -> bool:
    if mode == "system":
        return QApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    return mode == "dark"


def palette(c: Colours) -> QPalette:
    """A palette from the tokens, for what the stylesheet does not reach (native dialogs, item views' text)."""
    roles = QPalette.ColorRole
    pal = QPalette()
    for role, colour in (
        (roles.Window, c.window),
        (roles.WindowText, c.text),
        (roles.Base, c.surface),
        (roles.AlternateBase, c.surface_alt),
        (roles.Text, c.text),
        (roles.Button, c.surface),
        (roles.ButtonText, c.text),
        (roles.Highlight, c.accent),
        (roles.HighlightedText, c.accent_text),
        (roles.ToolTipBase, c.surface),
        (roles.ToolTipText, c.text),
        (roles.PlaceholderText, c.muted),
        (roles.Link, c.link),
        (roles.Mid, c.border),
    ):
        pal.setColor(role, QColor(colour))
    return pal


def apply_theme(app: QApplication, mode: str) -> bool:
    """Apply `system`, `light` or `dark`; returns whether the result is dark. With `system`, a later change of
    the desktop's scheme is applied as it happens."""
    app.setStyle(QStyleFactory.create("Fusion"))
    dark = is_dark(mode)
    c = colours(dark)
    app.setPalette(palette(c))
    app.setStyleSheet(stylesheet(c, app.font().pointSizeF() if app.font().pointSizeF() > 0 else 10.0))
    app.setProperty("roundtable_dark", dark)
    if app.property(_MODE) is None:  # connected once: the handler reads the mode chosen last
        app.styleHints().colorSchemeChanged.connect(lambda _scheme: _follow_desktop(app))
    app.setProperty(_MODE, mode)
    return dark


def _follow_desktop(app: QApplication) -> None:
    if app.property(_MODE) == "system":
        apply_theme(app, "system")
