"""The real app in a real X server (Xvfb): it opens, answers, shows the model manager, and quits cleanly.

Screenshots land in tests/artifacts/ (git-ignored) for a person to look at.
"""

import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_command, write_settings
from tests.ui.x11 import looks_like_a_window, quit_app, screenshot, start_app, xdotool

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
    assert xdotool(display, "search", "--sync", "--onlyvisible", "--name", "^Model manager$", timeout=30)
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
