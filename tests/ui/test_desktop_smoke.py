"""The real app in a real X server (Xvfb): it opens, answers, shows the model manager, and quits cleanly.

Screenshots land in tests/artifacts/ (git-ignored) for a person to look at.
"""

import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PATIENCE_S, REPO, cli_command, write_settings
from tests.ui.x11 import display_env, looks_like_a_window, quit_app, screenshot, start_app, xdotool

pytestmark = pytest.mark.gui


def test_the_app_opens_answers_and_shows_the_model_manager(display, home: Path, fake_hub) -> None:
    write_settings(home, 'theme = "light"\nmax_hops = 0\n')
    app = start_app(display)
    assert looks_like_a_window(screenshot(display, "main-welcome-light.png"))

    xdotool(display, "mousemove", "600", "720", "click", "1")
    xdotool(display, "type", "--delay", "5", "@generalist What is a bond? Answer in two sentences.")
    xdotool(display, "key", "Return")
    time.sleep(8)
    assert looks_like_a_window(screenshot(display, "main-light.png"))

    xdotool(display, "key", "ctrl+m")
    assert xdotool(display, "search", "--sync", "--onlyvisible", "--name", "^Model manager$", timeout=PATIENCE_S)
    time.sleep(0.5)
    xdotool(display, "mousemove", "600", "88", "click", "1")  # the search box
    xdotool(display, "type", "--delay", "5", "smollm")
    xdotool(display, "key", "Return")
    time.sleep(2)
    xdotool(display, "mousemove", "430", "136", "click", "1")  # the first repo: its files load
    time.sleep(3)
    assert looks_like_a_window(screenshot(display, "model-manager.png"))
    quit_app(display, app)

    threads = subprocess.run(cli_command("threads", "ls", "--json"), capture_output=True, text=True, cwd=REPO)
    assert '"message_count": 2' in threads.stdout  # the question and the reply, stored


def test_the_dark_theme(display, home: Path) -> None:
    write_settings(home, 'theme = "dark"\n')
    app = start_app(display)
    shot = screenshot(display, "main-dark.png")
    assert looks_like_a_window(shot)
    from PySide6.QtGui import QColor, QImage

    image = QImage(str(shot))
    assert QColor(image.pixel(700, 450)).lightness() < 100  # the window is dark, not just the black screen
    quit_app(display, app)


def test_a_damaged_database_is_named_in_a_dialog_and_left_untouched(display, home: Path) -> None:
    """Launched from a menu there is no terminal: the reason Roundtable cannot open must be on screen."""
    from app.core.paths import Paths
    from tests.conftest import file_digest

    database = Paths.from_environment().database
    database.parent.mkdir(parents=True, exist_ok=True)
    database.write_bytes(b"this is not sqlite at all" * 100)
    before = file_digest(database)
    app = subprocess.Popen(
        cli_command(), env=display_env(display), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        dialog = xdotool(
            display, "search", "--sync", "--onlyvisible", "--name", "^Roundtable could not start$", timeout=PATIENCE_S
        )
        assert dialog, "no dialog said why Roundtable could not start"
        xdotool(display, "windowfocus", "--sync", dialog.split()[0])
        xdotool(display, "key", "Return")
        output, _ = app.communicate(timeout=PATIENCE_S)
    finally:
        if app.poll() is None:
            app.kill()
    assert app.returncode == 3 and "damaged" in output  # ExitCode.STORE, with the same words on stderr
    assert file_digest(database) == before
