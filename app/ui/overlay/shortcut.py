"""The global shortcut that opens the overlay from anywhere: pynput where the platform lets an app listen.

X11, Windows and macOS (once the user grants the accessibility permission) can; Wayland cannot, by design:
there the user binds the `roundtable overlay` command to a key in their desktop's settings instead.
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


def to_pynput(sequence: str) -> str:
    """`Ctrl+Alt+Space` (Qt's portable text) as pynput's `<ctrl>+<alt>+<space>`; ValueError if unusable."""
    parts = [p.strip().lower().replace("pgup", "page_up").replace("pgdown", "page_down") for p in sequence.split("+")]
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"'{sequence}' is not a shortcut: give modifiers and a key, like Ctrl+Alt+Space")
    *modifiers, key = parts
    unknown = [m for m in modifiers if m not in _MODIFIERS]
    if unknown:
        raise ValueError(f"'{sequence}': {unknown[0]} is not a modifier (use Ctrl, Alt, Shift or Meta)")
    if key in _NAMED_KEYS:
        key = f"<{key}>"
    elif len(key) != 1:
        raise ValueError(f"'{sequence}': {key} is not a key a global shortcut can use")
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
    """Listens for one key combination system-wide, in pynput's own thread.

    Attributes:
        sequence: the shortcut as the user wrote it (`Ctrl+Alt+Space`).
        problem: why it is not active (None while it is).

    Signals:
        activated: the shortcut was pressed (queued: its slots run on the GUI thread).
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
            combo = to_pynput(sequence)
            from pynput import keyboard  # loads a platform backend: only when needed
        except ValueError as exc:
            return f"{exc}."
        except Exception as exc:  # ImportError, or a backend that cannot reach the display
            return f"Global shortcuts are not available here ({exc}); bind `roundtable overlay` to a key instead."
        if sys.platform.startswith("linux"):
            taken = _x11_taken_by(sequence)
            if taken:
                return taken
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

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        self.problem = "not started"


def _x11_taken_by(sequence: str) -> str | None:
    """On X11, whether another program has grabbed the combination (it would never reach us)."""
    try:
        from Xlib import XK, X, display, error  # pynput's own X11 dependency
    except ImportError:
        return None
    parts = [p.strip().lower() for p in sequence.split("+")]
    masks = {"ctrl": X.ControlMask, "alt": X.Mod1Mask, "shift": X.ShiftMask, "meta": X.Mod4Mask, "super": X.Mod4Mask}
    modifiers = 0
    for part in parts[:-1]:
        modifiers |= masks.get(part, 0)
    try:
        screen = display.Display()
    except Exception:
        return None
    try:
        keysym = XK.string_to_keysym(parts[-1]) or XK.string_to_keysym(parts[-1].capitalize())
        keycode = screen.keysym_to_keycode(keysym)
        if not keycode:
            return None
        caught = error.CatchError(error.BadAccess)
        root = screen.screen().root
        root.grab_key(keycode, modifiers, False, X.GrabModeAsync, X.GrabModeAsync, onerror=caught)
        screen.sync()
        if caught.get_error():
            return f"{sequence} is already taken by another program: choose another shortcut in Settings."
        root.ungrab_key(keycode, modifiers)
        screen.sync()
        return None
    finally:
        screen.close()


def x11_activate(window_id: int, refocus: bool = False) -> bool:
    """Ask the window manager to give `window_id` the keyboard as a user action would.

    WORKAROUND: Qt asks as an application (source 1) with the time of the last event it saw, which can be older
    than the shortcut's key press; focus-stealing prevention (openbox, KWin, Mutter) may then refuse. A pager's
    request (source 2) with the current time is honoured, and the overlay opens because the user pressed a key.
    With `refocus`, the X input focus is also moved away and back: on a loaded machine Qt (6.11) can miss the
    focus-in that came while the shortcut's modifiers were still down, and then sends the keys typed into the
    overlay to the main window; a fresh focus-in puts its state right.
    """
    try:
        from Xlib import X, display, protocol
    except ImportError:
        return False
    try:
        screen = display.Display()
    except Exception:
        return False
    try:
        root = screen.screen().root
        event = protocol.event.ClientMessage(
            window=screen.create_resource_object("window", window_id),
            client_type=screen.intern_atom("_NET_ACTIVE_WINDOW"),
            data=(32, [2, X.CurrentTime, 0, 0, 0]),
        )
        root.send_event(event, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask)
        if refocus:
            window = screen.create_resource_object("window", window_id)
            if screen.get_input_focus().focus == window:
                root.set_input_focus(X.RevertToParent, X.CurrentTime)
            window.set_input_focus(X.RevertToParent, X.CurrentTime)
        screen.flush()
        return True
    finally:
        screen.close()
