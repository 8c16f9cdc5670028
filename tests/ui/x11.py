"""A real X server for the desktop tests: Xvfb, optionally a window manager, xdotool and screenshots."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PATIENCE_S, REPO, cli_command

ARTIFACTS = REPO / "tests" / "artifacts"


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing: `./dev test` installs it (apt-get, as root)")
        pytest.skip(f"{tool} is not installed (`./dev test` installs it as root)")
    return path


def start_display(window_manager: bool = False, size: str = "1400x900") -> tuple[str, list[subprocess.Popen]]:
    """Start Xvfb with a screen of `size` pixels (and openbox, as a desktop has a window manager); the display
    and the processes to stop."""
    _need("Xvfb")
    _need("xdotool")
    number = next(n for n in range(91, 200) if not Path(f"/tmp/.X{n}-lock").exists())
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        assert time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.05)
    processes = [server]
    if window_manager:
        processes.insert(
            0,
            subprocess.Popen(
                [_need("openbox")],
                env=display_env(f":{number}"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        )
        time.sleep(0.5)  # it takes the screen over before the app maps its windows
    return f":{number}", processes


def stop_display(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
        process.wait(10)


def display_env(display: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    return {**env, "DISPLAY": display}


def xdotool(display: str, *args: str, timeout: float = 30) -> str:
    result = subprocess.run(
        ["xdotool", *args], env=display_env(display), capture_output=True, text=True, timeout=timeout
    )
    return result.stdout.strip()


def screenshot(display: str, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    subprocess.run(
        [sys.executable, str(REPO / "tests" / "screenshot.py"), str(target)],
        env=display_env(display),
        check=True,
        timeout=30,
    )
    return target


def looks_like_a_window(path: Path) -> bool:
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    colours = {image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 29)}
    return not image.isNull() and len(colours) > 8


def start_app(display: str) -> subprocess.Popen:
    app = subprocess.Popen(
        cli_command(), env=display_env(display), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    window = xdotool(display, "search", "--sync", "--onlyvisible", "--name", "^Roundtable$", timeout=PATIENCE_S)
    assert window, "the main window was not mapped"
    time.sleep(1.0)  # first paint and the first background loads
    return app


def quit_app(display: str, app: subprocess.Popen) -> None:
    xdotool(display, "mousemove", "600", "400", "click", "1")  # no window manager: a click gives focus
    xdotool(display, "key", "ctrl+q")
    output, _ = app.communicate(timeout=PATIENCE_S)
    assert app.returncode == 0, output
