"""X11's side of the overlay shortcut: the key combination grabbed on the root window, and window activation.

python-xlib (pynput's own X11 dependency) speaks the protocol; nothing here imports Qt.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

HOLD_S = 2.0  # the longest the keyboard is kept after a press: a stuck key must not hold it for good
_POLL_S = 0.01
_KEYSYMS = {"enter": "Return", "tab": "Tab", "esc": "Escape", "backspace": "BackSpace", "delete": "Delete"}
_KEYSYMS |= {"home": "Home", "end": "End", "insert": "Insert", "up": "Up", "down": "Down", "left": "Left"}
_KEYSYMS |= {"right": "Right", "page_up": "Prior", "page_down": "Next", "space": "space"}
_KEYSYMS |= {f"f{n}": f"F{n}" for n in range(1, 25)}


class KeyTaken(Exception):
    """Another program has grabbed the combination: it would never reach us."""


class KeyGrab:
    """One key combination grabbed on the root window, for as long as this object is not stopped.

    The X server hands each press of it to this connection alone, with the keyboard: the passive grab turns
    into an active one. Its thread keeps the keyboard until the combination's keys are all up (at most
    `HOLD_S`), lets it go, and only then calls `on_press`. So the window it opens is mapped and focused with no
    key down and no grab held: the window manager and the toolkit see a plain focus change, and the programs
    underneath never see the shortcut's releases (no menu bar opened by a lone Alt release).

    The combination is grabbed with every lock (Caps Lock, Num Lock, Scroll Lock) on or off.
    """

    def __init__(self, modifiers: Iterable[str], key: str, on_press: Callable[[], None]) -> None:
        """Grab `modifiers` (`ctrl`, `alt`, `shift`, `meta`) + `key` (`space`, `k`, `f12`) on the display.

        Raises:
            KeyTaken: another program holds it.
            ValueError: the key is not on this keyboard.
            Exception: python-xlib's own, when the display cannot be reached.
        """
        from Xlib import XK, X, display, error

        self._on_press = on_press
        self.keycode, self.variants = 0, list[int]()
        self._connection = display.Display()
        try:
            mapping = self._connection.get_modifier_mapping()
            keysym = _keysym(XK, key)
            self.keycode = self._connection.keysym_to_keycode(keysym) if keysym else 0
            if not self.keycode:
                raise ValueError(f"{key} is not on this keyboard")
            self.modifiers = 0
            for name in modifiers:
                self.modifiers |= self._mask(X, XK, mapping, name)
            locks = [X.LockMask, *self._masks_of(XK, mapping, ("Num_Lock", "Scroll_Lock"))]
            self.variants = sorted({self.modifiers | _combined(locks, n) for n in range(1 << len(locks))})
            # the keys to wait for: the key itself, and every key that gives one of the combination's modifiers
            self.held = {self.keycode} | {
                code for index, codes in enumerate(mapping) if self.modifiers & (1 << index) for code in codes if code
            }
            root = self._connection.screen().root
            caught = error.CatchError(error.BadAccess)
            for variant in self.variants:
                root.grab_key(self.keycode, variant, False, X.GrabModeAsync, X.GrabModeAsync, onerror=caught)
            self._connection.sync()
            if caught.get_error():
                raise KeyTaken()
        except BaseException:
            self._ungrab()
            raise
        self._wake, self._waker = os.pipe()
        self._thread: threading.Thread | None = threading.Thread(target=self._run, name="overlay-shortcut", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Give the combination back (from any thread but this object's own); waits for its thread to end."""
        if self._thread is None:
            return
        os.write(self._waker, b"x")
        self._thread.join(timeout=5)
        self._thread = None
        os.close(self._waker)
        os.close(self._wake)

    # -- the grab's thread ----------------------------------------------------------------------------------

    def _run(self) -> None:
        from Xlib import X
        from Xlib.error import ConnectionClosedError

        try:
            while True:
                event = self._next_event()
                if event is None:
                    return
                if event.type != X.KeyPress or event.detail != self.keycode:
                    continue
                if not self._hold():
                    return
                self._on_press()
                if not self._settle():  # held past HOLD_S: its key's repeats are the same press
                    return
        except ConnectionClosedError:
            pass  # the X server is gone: there is nothing left to give back
        finally:
            self._ungrab()

    def _hold(self) -> bool:
        """Keep the keyboard until the combination is released (or `HOLD_S`); False when asked to stop."""
        from Xlib import X

        root = self._connection.screen().root
        deadline = time.monotonic() + HOLD_S
        grabbed = stopping = False
        while not stopping:
            if not grabbed:  # grabbing it makes the passive grab an explicit one, which outlasts the key's release
                grabbed = root.grab_keyboard(False, X.GrabModeAsync, X.GrabModeAsync, X.CurrentTime) == X.GrabSuccess
            if not self._any_down() or time.monotonic() >= deadline:
                break
            stopping = self._drain_and_wait()
        if grabbed:
            self._connection.ungrab_keyboard(X.CurrentTime)
            self._connection.sync()
        return not stopping

    def _settle(self) -> bool:
        """Wait, without the keyboard, until the combination's keys are up; False when asked to stop."""
        while self._any_down():
            if self._drain_and_wait():
                return False
        return True

    def _any_down(self) -> bool:
        keys = self._connection.query_keymap()
        return any(keys[code >> 3] & (1 << (code & 7)) for code in self.held)

    def _drain_and_wait(self) -> bool:
        """Drop the events that came (keys pressed while the combination is held), then wait a little."""
        while self._connection.pending_events():
            self._connection.next_event()
        return self._wait(_POLL_S)

    def _next_event(self) -> Any:
        """The next event, or None when asked to stop."""
        while not self._connection.pending_events():
            if self._wait(None):
                return None
        return self._connection.next_event()

    def _wait(self, timeout: float | None) -> bool:
        """Wait for the server or `stop`; True when asked to stop."""
        ready, _, _ = select.select([self._connection.fileno(), self._wake], [], [], timeout)
        return self._wake in ready

    def _ungrab(self) -> None:
        """Give the combination back and close the connection (which would also give it back)."""
        from Xlib.error import ConnectionClosedError

        try:
            root = self._connection.screen().root
            for variant in self.variants:
                root.ungrab_key(self.keycode, variant)
            self._connection.close()
        except ConnectionClosedError:
            pass

    # -- the keyboard's modifiers ------------------------------------------------------------------------------

    def _mask(self, X: Any, XK: Any, mapping: list, name: str) -> int:  # noqa: N803 (Xlib's module names)
        if name == "ctrl":
            return int(X.ControlMask)
        if name == "shift":
            return int(X.ShiftMask)
        if name == "alt":
            return next(iter(self._masks_of(XK, mapping, ("Alt_L", "Alt_R", "Meta_L"))), int(X.Mod1Mask))
        # Qt's Meta is the Super (Windows) key on X11
        return next(iter(self._masks_of(XK, mapping, ("Super_L", "Super_R"))), int(X.Mod4Mask))

    def _masks_of(self, XK: Any, mapping: list, names: Iterable[str]) -> list[int]:  # noqa: N803
        """The modifier masks that any of the keys `names` give, as the keyboard's modifier mapping has it."""
        wanted = {XK.string_to_keysym(name) for name in names}
        masks = []
        for index, codes in enumerate(mapping):
            if index > 2 and any(code and self._connection.keycode_to_keysym(code, 0) in wanted for code in codes):
                masks.append(1 << index)  # Mod1 to Mod5 only: Shift, Lock and Control are never Alt or Num Lock
        return masks


def _keysym(XK: Any, key: str) -> int:  # noqa: N803
    if key in _KEYSYMS:
        return int(XK.string_to_keysym(_KEYSYMS[key]))
    if len(key) == 1 and 0x20 < ord(key) < 0x100:
        return ord(key)  # Latin-1 characters are their own keysyms
    return int(XK.string_to_keysym(key))


def _combined(masks: list[int], chosen: int) -> int:
    """The masks whose bits are set in `chosen`, or'ed together."""
    return sum(mask for bit, mask in enumerate(masks) if chosen & (1 << bit))


def activate(window_id: int, refocus: bool = False) -> bool:
    """Ask the window manager to give `window_id` the keyboard as a user action would.

    WORKAROUND: Qt asks as an application (source 1) with the time of the last event it saw, which can be older
    than the shortcut's key press (the grab's connection saw that one, not Qt's); focus-stealing prevention
    (openbox, KWin, Mutter) may then refuse. A pager's request (source 2) with the current time is honoured, and
    the overlay opens because the user pressed a key. With `refocus`, the X input focus is also moved away and
    back: Qt (6.11) can miss a focus-in that comes while keys are still down (`roundtable overlay` run by a
    desktop's key binding on the key's press), and then sends what is typed to the main window; a fresh
    focus-in puts its state right.
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
