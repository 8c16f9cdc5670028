"""On a real X11 desktop (Xvfb with a window manager): the global shortcut opens the overlay over other
windows, a copilot answers in it, and Esc hides it. Screenshots go to tests/artifacts/."""

import json
import subprocess
import time

import pytest

from app.core.instance import send_command
from app.core.settings import Paths
from tests.conftest import PATIENCE_S, REPO, cli_command, wait_for
from tests.ui.x11 import display_env, looks_like_a_window, screenshot, xdotool

pytestmark = pytest.mark.gui
OVERLAY = "^Roundtable quick ask$"


def test_the_shortcut_opens_the_overlay_which_answers_and_hides(desktop_display, home) -> None:
    display = desktop_display
    paths = Paths.from_environment()
    app = subprocess.Popen(
        cli_command(), env=display_env(display), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert xdotool(display, "search", "--sync", "--onlyvisible", "--name", "^Roundtable$", timeout=PATIENCE_S)
        state = json.loads(wait_for(lambda: send_command(paths, "status")))
        assert state["shortcut"] == "Ctrl+Alt+Space opens the overlay from anywhere.", state
        time.sleep(1.0)  # first paint and the first background loads

        xdotool(display, "key", "ctrl+alt+space")
        assert xdotool(display, "search", "--sync", "--onlyvisible", "--name", OVERLAY, timeout=PATIENCE_S)
        if not _active_within(paths, 5):
            # Known issue (see the README): on a busy machine Qt can miss the focus-in that comes while the
            # shortcut's keys are still down; the overlay is up but the keyboard is not. Pressing the shortcut
            # twice more (close, open) gives it the keyboard, as it does for a person.
            for _ in range(2):
                xdotool(display, "key", "ctrl+alt+space")
                time.sleep(0.5)
            assert _active_within(paths, 10), "the overlay did not take the keyboard"
        assert looks_like_a_window(screenshot(display, "overlay-open.png"))

        xdotool(display, "type", "--delay", "5", "What is a bond? One sentence.")  # the picker: Generalist
        xdotool(display, "key", "Return")
        thread = wait_for(lambda: _answered_thread(), timeout=PATIENCE_S)
        assert [m["author"] for m in thread["messages"]] == ["user", "generalist"]
        assert thread["messages"][1]["status"] == "complete" and thread["messages"][1]["text"].strip()
        time.sleep(0.5)  # the last render
        assert looks_like_a_window(screenshot(display, "overlay-answer.png"))

        xdotool(display, "key", "Escape")
        wait_for(lambda: not xdotool(display, "search", "--onlyvisible", "--name", OVERLAY), timeout=PATIENCE_S)
        assert json.loads(send_command(paths, "status"))["overlay"] is False
    finally:
        send_command(paths, "quit")
        output, _ = app.communicate(timeout=PATIENCE_S)
    assert app.returncode == 0, output


def _answered_thread() -> dict | None:
    listed = subprocess.run(cli_command("threads", "ls", "--json"), capture_output=True, text=True, cwd=REPO)
    threads = json.loads(listed.stdout or "[]")
    if not threads or threads[0]["message_count"] < 2:
        return None
    shown = subprocess.run(cli_command("threads", "show", threads[0]["id"], "--json"), capture_output=True, text=True)
    thread = json.loads(shown.stdout)
    return thread if all(m["status"] != "streaming" for m in thread["messages"]) else None


def _active_within(paths: Paths, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if json.loads(send_command(paths, "status"))["active"] == "Roundtable quick ask":
            return True
        time.sleep(0.05)
    return False
