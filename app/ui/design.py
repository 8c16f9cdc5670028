"""The design system in one place: tokens (spacing, radii, type scale, colours for light and dark) and the one
stylesheet made from them, plus the copilots' avatars.

Widgets never write colours of their own: they take an object name or a `role` property (`muted`, `error`,
`warning`, `card`, `banner`) that the stylesheet styles. Every text colour on its background meets WCAG AA
(contrast at least 4.5:1; `tests/ui/test_design.py` checks them all).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from app.core.hub.quants import model_and_quant
from app.ui.qt import (
    QColor,
    QFont,
    QFormLayout,
    QFrame,
    QIcon,
    QPainter,
    QPixmap,
    QScrollArea,
    QSize,
    Qt,
    QVBoxLayout,
    QWidget,
)
from app.ui.tokens import DARK, LIGHT, Colours

SPACE = {"xs": 4, "s": 8, "m": 12, "l": 16, "xl": 24}  # px
RADIUS = {"s": 4, "m": 8, "l": 12}  # px
TYPE_SCALE = {"small": 0.9, "body": 1.0, "title": 1.2, "heading": 1.45}  # of the system font's size
AA = 4.5  # WCAG AA contrast for body text


def luminance(colour: str) -> float:
    """WCAG relative luminance of `#rrggbb`."""
    channels = []
    for i in (1, 3, 5):
        c = int(colour[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two `#rrggbb` colours (1 to 21)."""
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_on(background: str) -> str:
    """Black or white, whichever reads better on `background` (one of them always reaches 4.5:1)."""
    return "#000000" if contrast("#000000", background) >= contrast("#ffffff", background) else "#ffffff"


def readable(colour: str, background: str) -> str:
    """`colour` (a copilot's), darkened or lightened just enough to read as text on `background`."""
    base = QColor(colour)
    dark_background = luminance(background) < 0.2
    shade = base
    for step in range(20):
        if contrast(shade.name(), background) >= AA:
            return shade.name()
        factor = 100 + 8 * (step + 1)
        shade = base.lighter(factor) if dark_background else base.darker(factor)
    return text_on(background)


def stylesheet(c: Colours, base_pt: float = 10.0) -> str:
    """The application's stylesheet for one theme."""
    s, r = SPACE, RADIUS
    small, title = base_pt * TYPE_SCALE["small"], base_pt * TYPE_SCALE["title"]
    return f"""
QMainWindow, QDialog {{ background: {c.window}; }}
QWidget {{ color: {c.text}; }}
QToolTip {{ background: {c.surface}; color: {c.text}; border: 1px solid {c.border}; padding: {s["xs"]}px; }}
/* spin boxes keep Fusion's own frame and arrows (drawn from the palette): a styled box loses its arrows */
QLineEdit, QPlainTextEdit, QTextEdit, QComboBox {{
    background: {c.surface}; border: 1px solid {c.border}; border-radius: {r["s"]}px; padding: {s["xs"]}px;
    selection-background-color: {c.accent}; selection-color: {c.accent_text};
}}
QLineEdit:focus, QPlainTextEdit:focus, QTextEdit:focus, QComboBox:focus {{ border: 1px solid {c.accent}; }}
QPushButton {{
    background: {c.surface}; border: 1px solid {c.border}; border-radius: {r["s"]}px;
    padding: {s["xs"]}px {s["m"]}px;
}}
QPushButton:hover {{ border-color: {c.accent}; }}
QPushButton:default, QPushButton[role="primary"] {{
    background: {c.accent}; color: {c.accent_text}; border-color: {c.accent};
}}
QPushButton:disabled, QPushButton[role="primary"]:disabled {{
    background: {c.surface_alt}; color: {c.muted}; border-color: {c.border};
}}
QListWidget, QTreeWidget {{ background: {c.surface}; border: 1px solid {c.border}; border-radius: {r["m"]}px; }}
QListWidget::item, QTreeWidget::item {{ padding: {s["xs"]}px {s["s"]}px; }}
QListWidget::item:selected, QTreeWidget::item:selected {{ background: {c.accent}; color: {c.accent_text}; }}
QTabWidget::pane {{ border: 1px solid {c.border}; border-radius: {r["m"]}px; background: {c.window}; }}
QTabBar::tab {{ padding: {s["xs"]}px {s["m"]}px; }}
QTabBar::tab:selected {{ color: {c.accent if c is LIGHT else c.text}; border-bottom: 2px solid {c.accent}; }}
QScrollArea {{ border: none; background: {c.window}; }}
QFrame#message {{ background: {c.surface}; border: 1px solid {c.border}; border-radius: {r["l"]}px; }}
QFrame#message[author="user"] {{ background: {c.surface_alt}; }}
QTextBrowser#replyPiece {{ border: none; background: transparent; padding: 0px; }}
QFrame#welcome {{
    background: {c.surface}; border: 1px solid {c.border}; border-radius: {r["l"]}px; padding: {s["m"]}px;
}}
QFrame#recommended {{ background: {c.surface}; border: 1px solid {c.border}; border-radius: {r["m"]}px; }}
QLabel#card {{ color: {c.muted}; font-style: italic; padding: {s["xs"] // 2}px {s["m"]}px; }}
QFrame#link {{ border: 1px dashed {c.border}; border-radius: {r["m"]}px; margin: 0 {s["xl"]}px; }}
QLabel#linkHeading {{ font-weight: 600; }}
QLabel#linkArrow {{ color: {c.muted}; }}
QFrame#overlayFrame {{
    background: {c.window}; border: 1px solid {c.accent}; border-radius: {r["l"]}px;
}}
QLabel#heading {{ font-size: {title:.1f}pt; font-weight: 600; }}
*[role="muted"] {{ color: {c.muted}; font-size: {small:.1f}pt; }}
*[role="error"] {{ color: {c.error}; }}
QLabel[role="chip"] {{
    color: {c.muted}; background: {c.surface_alt}; border: 1px solid {c.border}; border-radius: {r["s"]}px;
    padding: 0px {s["xs"]}px; font-size: {small:.1f}pt;
}}
*[role="warning"] {{ color: {c.warning}; }}
QFrame[role="banner"] {{ background: {c.banner}; border-radius: {r["s"]}px; }}
QFrame[role="banner"] QLabel {{ color: {c.banner_text}; }}
"""


def set_role(widget: QWidget, role: str) -> None:
    """Style `widget` as `role` (muted, error, warning, banner, primary), now: a changed property is re-read."""
    widget.setProperty("role", role)
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)


def avatar(name: str, colour: str, size: int = 28, scale: float = 1.0) -> QPixmap:
    """A round avatar with the copilot's initials in its colour (drawn at `scale` for HiDPI screens)."""
    pixels = max(1, round(size * scale))
    pixmap = QPixmap(pixels, pixels)
    pixmap.setDevicePixelRatio(scale)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(colour))
    painter.drawEllipse(0, 0, size, size)
    painter.setPen(QColor(text_on(colour)))
    font = QFont()
    font.setPixelSize(max(8, int(size * 0.42)))
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(0, 0, size, size, Qt.AlignmentFlag.AlignCenter, initials(name))
    painter.end()
    return pixmap


def avatar_icon(name: str, colour: str, size: int = 28) -> QIcon:
    icon = QIcon()
    for scale in (1.0, 2.0):
        icon.addPixmap(avatar(name, colour, size, scale))
    return icon


def model_chip(copilot: Any) -> str:
    """What a reply's chip says wrote it: the local model and its quant (the starter where none is bound), or the
    remote host."""
    if copilot.provider == "local":
        if not copilot.model:
            return "starter model"
        model, quant = model_and_quant(copilot.model)
        return f"{model} · {quant}" if quant else model
    host = urlsplit(copilot.endpoint or "").hostname
    return f"{copilot.provider} · {host}" if host else copilot.provider


def initials(name: str) -> str:
    """One or two letters for an avatar: "Tax Expert" -> TE, "writer" -> W."""
    words = [w for w in name.replace("-", " ").replace("_", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    letters = words[0][0] + (words[1][0] if len(words) > 1 else "")
    return letters.upper()


def tokens() -> dict[str, object]:
    """Every token, for documentation and tests."""
    return {"space": SPACE, "radius": RADIUS, "type": TYPE_SCALE, "light": asdict(LIGHT), "dark": asdict(DARK)}


def scrolling_form(dialog: QWidget) -> tuple[QFormLayout, QVBoxLayout]:
    """A dialog's form that scrolls where the screen is too short for it, its buttons staying in view: the form,
    and the dialog's own layout (put the buttons there, under the form)."""
    outer = QVBoxLayout(dialog)
    area = QScrollArea()
    area.setObjectName("formArea")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    body = QWidget()
    form = QFormLayout(body)
    form.setContentsMargins(0, 0, SPACE["s"], 0)  # room for the scroll bar, when it shows
    area.setWidget(body)
    outer.addWidget(area, 1)
    return form, outer


def fit_to_screen(window: QWidget, preferred: QSize | None = None) -> None:
    """Size `window` as it would like (`preferred`, else what its layout asks, a form's whole height included),
    but never larger than the screen it opens on, less room for the window manager's frame."""
    wanted = preferred or window.sizeHint()
    area = window.findChild(QScrollArea, "formArea")
    body = area.widget() if area is not None else None
    if preferred is None and area is not None and body is not None:
        extra = window.sizeHint().height() - area.sizeHint().height()  # the buttons and margins
        wanted = QSize(max(wanted.width(), body.sizeHint().width() + 2 * SPACE["xl"]), body.sizeHint().height() + extra)
    parent = window.parentWidget()
    screen = (parent.screen() if parent is not None else window.screen()).availableGeometry()
    window.resize(min(wanted.width(), screen.width() - 2 * SPACE["l"]), min(wanted.height(), screen.height() - 48))
