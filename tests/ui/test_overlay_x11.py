"""On a real X11 desktop (Xvfb with a window manager): the global shortcut opens the overlay over other
windows with the keyboard, every time, also on a busy machine; a copilot answers in it, and Esc hides it.
The shortcut's key grab on its own, on a bare X server. Screenshots go to tests/artifacts/."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from app.core.instance import send_command
from app.core.paths import Paths
from tests.conftest import PATIENCE_MS, PATIENCE_S, REPO, cli_command, wait_for
from tests.ui.x11 import display_env, looks_like_a_window, screenshot, xdotool

pytestmark = pytest.mark.gui
OVERLAY = "^Roundtable quick ask$"
TITLE = "Roundtable quick ask"
PRESSES = 5  # open, type, close: each one with the machine busy
MAX_BURNERS = 8
BURN_S = 300


def test_the_shortcut_gives_the_overlay_the_keyboard_every_time_on_a_busy_machine(desktop_display, home) -> None:
    display = desktop_display
    paths = Paths.from_environment()
    app = subprocess.Popen(
        cli_command(), env=display_env(display), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert xdotool(display, "search", "--sync", "--onlyvisible", "--name", "^Roundtable$", timeout=PATIENCE_S)
        assert _status(paths)["shortcut"] == "Ctrl+Alt+Space opens the overlay from anywhere."
        time.sleep(1.0)  # first paint and the first background loads

        with _busy_machine():
            for press in range(1, PRESSES + 1):
                # one press, no retry: the overlay is up, active, and what is typed lands in its question box
                if press % 2:
                    xdotool(display, "key", "ctrl+alt+space")
                else:  # as a person presses it: the modifiers let go a moment after the key
                    xdotool(display, "keydown", "ctrl", "keydown", "alt", "keydown", "space", "keyup", "space")
                    time.sleep(0.3)
                    xdotool(display, "keyup", "alt", "keyup", "ctrl")
                wait_for(lambda: _status(paths)["active"] == TITLE)
                typed = f"press {press} of {PRESSES}"
                xdotool(display, "type", "--delay", "5", typed)
                wait_for(lambda: _status(paths)["question"] == typed)  # noqa: B023 (used within the iteration)
                xdotool(display, "key", "Escape")
                wait_for(lambda: _status(paths)["overlay"] is False)

        xdotool(display, "key", "ctrl+alt+space")
        assert xdotool(display, "search", "--sync", "--onlyvisible", "--name", OVERLAY, timeout=PATIENCE_S)
        wait_for(lambda: _status(paths)["active"] == TITLE)
        assert looks_like_a_window(screenshot(display, "overlay-open.png"))
        xdotool(display, "type", "--delay", "5", "What is a bond? One sentence.")  # the picker: Generalist
        xdotool(display, "key", "Return")
        thread = wait_for(lambda: _answered_thread(), timeout=PATIENCE_S)
        assert [m["author"] for m in thread["messages"]] == ["user", "generalist"]
        assert thread["messages"][0]["text"] == "What is a bond? One sentence."
        assert thread["messages"][1]["status"] == "complete" and thread["messages"][1]["text"].strip()
        time.sleep(0.5)  # the last render
        assert looks_like_a_window(screenshot(display, "overlay-answer.png"))

        xdotool(display, "key", "Escape")
        wait_for(lambda: not xdotool(display, "search", "--onlyvisible", "--name", OVERLAY), timeout=PATIENCE_S)
        assert _status(paths)["overlay"] is False
    finally:
        send_command(paths, "quit")
        output, _ = app.communicate(timeout=PATIENCE_S)
    assert app.returncode == 0, output


def test_the_shortcut_holds_its_keys_until_stopped_and_fires_once_they_are_up(display, monkeypatch, qtbot) -> None:
    from Xlib import display as xdisplay

    from app.ui.overlay.shortcut import GlobalShortcut

    monkeypatch.setenv("DISPLAY", display)
    desktop = xdisplay.Display(display)  # another client, as on a desktop: the last one to leave resets the server
    first, second = GlobalShortcut(), GlobalShortcut()
    fired: list[float] = []
    first.activated.connect(lambda: fired.append(time.monotonic()))
    try:
        assert first.start("Ctrl+Alt+Space", "xcb") is None and first.active
        taken = second.start("Ctrl+Alt+Space", "xcb")
        assert taken == "Ctrl+Alt+Space is already taken by another program: choose another shortcut in Settings."
        assert not second.active

        with qtbot.waitSignal(first.activated, timeout=PATIENCE_MS):
            xdotool(display, "key", "ctrl+alt+space")
        xdotool(display, "key", "Num_Lock")  # on: the grab holds with any lock on
        with qtbot.waitSignal(first.activated, timeout=PATIENCE_MS):
            xdotool(display, "key", "ctrl+alt+space")
        xdotool(display, "key", "Num_Lock")

        # the key up, its modifiers still down: the keyboard stays with the grab, and the overlay waits
        count = len(fired)
        xdotool(display, "keydown", "ctrl", "keydown", "alt", "keydown", "space", "keyup", "space")
        wait_for(lambda: not _keyboard_free(display))
        assert len(fired) == count
        with qtbot.waitSignal(first.activated, timeout=PATIENCE_MS):
            xdotool(display, "keyup", "alt", "keyup", "ctrl")
        assert _keyboard_free(display)

        first.stop()
        assert not first.active
        assert second.start("Ctrl+Alt+Space", "xcb") is None  # given back: free for another program
        assert "already taken" in (first.start("Ctrl+Alt+Space", "xcb") or "")
    finally:
        first.stop()
        second.stop()
        desktop.close()


def _status(paths: Paths) -> dict:
    return json.loads(wait_for(lambda: send_command(paths, "status")))


def _answered_thread() -> dict | None:
    listed = subprocess.run(cli_command("threads", "ls", "--json"), capture_output=True, text=True, cwd=REPO)
    threads = json.loads(listed.stdout or "[]")
    if not threads or threads[0]["message_count"] < 2:
        return None
    shown = subprocess.run(cli_command("threads", "show", threads[0]["id"], "--json"), capture_output=True, text=True)
    thread = json.loads(shown.stdout)
    return thread if all(m["status"] != "streaming" for m in thread["messages"]) else None


@contextmanager
def _busy_machine() -> Iterator[None]:
    """The machine busy for the duration: a process spinning on each core the test may use (up to MAX_BURNERS),
    each stopping by itself after BURN_S should the test not stop it."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    spin = f"import time\nend = time.monotonic() + {BURN_S}\nwhile time.monotonic() < end:\n    pass\n"
    burners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(min(cores, MAX_BURNERS))]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def _keyboard_free(display: str) -> bool:
    """Whether another client could grab the keyboard now."""
    from Xlib import X
    from Xlib import display as xdisplay

    connection = xdisplay.Display(display)
    try:
        root = connection.screen().root
        status = root.grab_keyboard(False, X.GrabModeAsync, X.GrabModeAsync, X.CurrentTime)
        if status == X.GrabSuccess:
            connection.ungrab_keyboard(X.CurrentTime)
            connection.sync()
        return status == X.GrabSuccess
    finally:
        connection.close()
