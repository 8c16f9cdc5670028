"""Light and dark themes; `system` follows the desktop's colour scheme."""

from __future__ import annotations

from app.ui.qt import QApplication, QColor, QPalette, QStyleFactory, Qt

_DARK = {
    QPalette.ColorRole.Window: "#202124",
    QPalette.ColorRole.WindowText: "#e8eaed",
    QPalette.ColorRole.Base: "#17181a",
    QPalette.ColorRole.AlternateBase: "#26282b",
    QPalette.ColorRole.Text: "#e8eaed",
    QPalette.ColorRole.Button: "#2d2f33",
    QPalette.ColorRole.ButtonText: "#e8eaed",
    QPalette.ColorRole.Highlight: "#5b7cfa",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.ToolTipBase: "#2d2f33",
    QPalette.ColorRole.ToolTipText: "#e8eaed",
    QPalette.ColorRole.PlaceholderText: "#9aa0a6",
    QPalette.ColorRole.Link: "#8ab4f8",
}


def is_dark(mode: str) -> bool:
    if mode == "system":
        return QApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    return mode == "dark"


def apply_theme(app: QApplication, mode: str) -> bool:
    """Apply `system`, `light` or `dark`; returns whether the result is dark."""
    app.setStyle(QStyleFactory.create("Fusion"))
    dark = is_dark(mode)
    if dark:
        palette = QPalette()
        for role, colour in _DARK.items():
            palette.setColor(role, QColor(colour))
        app.setPalette(palette)
    else:
        app.setPalette(app.style().standardPalette())
    app.setProperty("roundtable_dark", dark)
    return dark
