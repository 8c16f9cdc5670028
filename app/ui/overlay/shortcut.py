"""The global shortcut that opens the overlay from anywhere, where the platform lets an app have one.

X11 (a key grab on the root window: `x11.KeyGrab`), Windows and macOS (pynput; macOS once the user grants the
accessibility permission) can; Wayland cannot, by design: there the user binds the `roundtable overlay`
command to a key in their desktop's settings instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from app.ui.qt import QObject, Signal

WAYLAND_HELP = (
    "Wayland does not let applications listen for global shortcuts. Bind the command `roundtable overlay` to "
    "a key in your desktop's keyboard settings instead."
)
_NAMED_KEYS = {"space", "enter", "tab", "esc", "backspace", "delete", "home", "end", "insert", "up", "down"}
_NAMED_KEYS |= {"left", "right", "page_up", "page_down", *(f"f{n}" for n in range(1, 25))}
_MODIFIERS = {"ctrl": "<ctrl>", "alt": "<alt>", "shift": "<shift>", "meta": "<cmd>", "super": "<cmd>"}
_MODIFIERS |= {"cmd": "<cmd>", "win": "<cmd>"}


def split_sequence(sequence: str) -> tuple[list[str], str]:
    """`Ctrl+Alt+Space` (Qt's portable text) as (["ctrl", "alt"], "space"); ValueError if unusable."""
    parts = [p.strip().lower().replace("pgup", "page_up").replace("pgdown", "page_down") for p in sequence.split("+")]
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"'{sequence}' is not a shortcut: give modifiers and a key, like Ctrl+Alt+Space")
    *modifiers, key = parts
    unknown = [m for m in modifiers if m not in _MODIFIERS]
    if unknown:
        raise ValueError(f"'{sequence}': {unknown[0]} is not a modifier (use Ctrl, Alt, Shift or Meta)")
    if key not in _NAMED_KEYS and len(key) != 1:
        raise ValueError(f"'{sequence}': {key} is not a key a global shortcut can use")
    return modifiers, key


def to_pynput(sequence: str) -> str:
    """`Ctrl+Alt+Space` (Qt's portable text) as pynput's `<ctrl>+<alt>+<space>`; ValueError if unusable."""
    modifiers, key = split_sequence(sequence)
    if key in _NAMED_KEYS:
        key = f"<{key}>"
    names = dict(_MODIFIERS)
    if sys.platform == "darwin":  # Qt's "Ctrl" is the Command key on macOS, and its "Meta" the Control key
        names |= {"ctrl": "<cmd>", "meta": "<ctrl>"}
    return "+".join([*(names[m] for m in modifiers), key])


def unavailable_reason(platform_name: str) -> str | None:
    """Why this session cannot have a global shortcut, or None when it can try."""
    if platform_name == "wayland" or os.environ.get("XDG_SESSION_TYPE") == "wayland":
        return WAYLAND_HELP
    if platform_name in ("offscreen", "minimal"):
        return "There is no desktop to listen on (Qt runs offscreen)."
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        return "No X11 display (DISPLAY is unset): bind `roundtable overlay` to a key instead."
    return None


class GlobalShortcut(QObject):
    """Owns one key combination system-wide: an X11 key grab (its own thread), or pynput's listener (its thread).

    Attributes:
        sequence: the shortcut as the user wrote it (`Ctrl+Alt+Space`).
        problem: why it is not active (None while it is).

    Signals:
        activated: the shortcut was pressed (queued: its slots run on the GUI thread). On X11 once its keys are
            released: the overlay then maps with no key down, and takes the keyboard.
    """

    activated = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.sequence = ""
        self.problem: str | None = "not started"
        self._listener: Any = None

    @property
    def active(self) -> bool:
        return self._listener is not None

    def start(self, sequence: str, platform_name: str) -> str | None:
        """Listen for `sequence`; returns None on success, else a message saying why not and what to do."""
        self.stop()
        self.sequence = sequence
        self.problem = self._start(sequence, platform_name)
        return self.problem

    def _start(self, sequence: str, platform_name: str) -> str | None:
        if not sequence:
            return "No overlay shortcut is set: choose one in Settings, or bind `roundtable overlay` to a key."
        reason = unavailable_reason(platform_name)
        if reason:
            return reason
        try:
            modifiers, key = split_sequence(sequence)
            combo = to_pynput(sequence)
        except ValueError as exc:
            return f"{exc}."
        if platform_name == "xcb":  # X11: a key grab of our own
            return self._grab_x11(sequence, modifiers, key)
        try:
            from pynput import keyboard  # loads a platform backend: only when needed
        except Exception as exc:  # ImportError, or a backend that cannot reach the desktop
            return f"Global shortcuts are not available here ({exc}); bind `roundtable overlay` to a key instead."
        try:
            listener = keyboard.GlobalHotKeys({combo: self.activated.emit})
            listener.start()
            listener.wait()
        except Exception as exc:
            return f"Could not listen for {sequence} ({exc}); bind `roundtable overlay` to a key instead."
        if sys.platform == "darwin" and not getattr(listener, "IS_TRUSTED", True):
            listener.stop()
            return (
                "macOS needs your permission first: System Settings → Privacy & Security → Accessibility → turn on "
                "Roundtable, then restart it."
            )
        self._listener = listener
        return None

    def _grab_x11(self, sequence: str, modifiers: list[str], key: str) -> str | None:
        from app.ui.overlay.x11 import KeyGrab, KeyTaken

        try:
            self._listener = KeyGrab(modifiers, key, self.activated.emit)
        except KeyTaken:
            return f"{sequence} is already taken by another program: choose another shortcut in Settings."
        except ValueError as exc:
            return f"'{sequence}': {exc}: choose another shortcut in Settings."
        except ImportError as exc:  # python-xlib comes with pynput
            return f"Global shortcuts are not available here ({exc}); bind `roundtable overlay` to a key instead."
        except Exception as exc:  # the display cannot be reached
            return f"Could not listen for {sequence} ({exc}); bind `roundtable overlay` to a key instead."
        return None

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        self.problem = "not started"
