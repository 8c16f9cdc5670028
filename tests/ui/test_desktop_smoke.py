"""The real app in a real X server (Xvfb): it opens, answers, shows the model manager, and quits cleanly.

Screenshots land in tests/artifacts/ (git-ignored) for a person to look at.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_command, write_settings

pytestmark = pytest.mark.gui
ARTIFACTS = REPO / "tests" / "artifacts"


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing: `./dev test` installs it (apt-get, as root)")
        pytest.skip(f"{tool} is not installed (`./dev test` installs it as root)")
    return path


@pytest.fixture
def display():
    _need("Xvfb")
    _need("xdotool")
    number = next(n for n in range(91, 200) if not Path(f"/tmp/.X{n}-lock").exists())
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        assert time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.05)
    yield f":{number}"
    server.terminate()
    server.wait(10)


def _env(display: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    return {**env, "DISPLAY": display}


def xdotool(display: str, *args: str, timeout: float = 30) -> str:
    result = subprocess.run(["xdotool", *args], env=_env(display), capture_output=True, text=True, timeout=timeout)
    return result.stdout.strip()


def screenshot(display: str, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    subprocess.run(
        [sys.executable, str(REPO / "tests" / "screenshot.py"), str(target)], env=_env(display), check=True, timeout=30
    )
    return target


def looks_like_a_window(path: Path) -> bool:
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    colours = {image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 29)}
    return not image.isNull() and len(colours) > 8


def start_app(display: str) -> subprocess.Popen:
    app = subprocess.Popen(
        cli_command(), env=_env(display), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    window = xdotool(display, "search", "--sync", "--onlyvisible", "--name", "^Roundtable$", timeout=60)
    assert window, "the main window was not mapped"
    time.sleep(1.0)  # first paint and the first background loads
    return app


def quit_app(display: str, app: subprocess.Popen) -> None:
    xdotool(display, "mousemove", "600", "400", "click", "1")  # no window manager: a click gives focus
    xdotool(display, "key", "ctrl+q")
    output, _ = app.communicate(timeout=30)
    assert app.returncode == 0, output


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
