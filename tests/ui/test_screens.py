"""The real window on a real X desktop (Xvfb and openbox), screen by screen, in light and dark, at 1440×900 and
1024×640, and at scale factor 2: a PNG of each state goes to `screenshots/` (git-ignored; the run prints where),
and no label, button, tab or list row may be elided or clipped, no window larger than the screen, and neither
the sidebar nor the crew panel may show a horizontal scroll bar."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.ui.x11 import display_env, start_display, stop_display

pytestmark = pytest.mark.gui
SCREENSHOTS = REPO / "screenshots"
RUNS = {  # screen (pixels), scale factor, themes
    "1440x900": ("1440x900", "1", "light,dark"),
    "1024x640": ("1024x640", "1", "light,dark"),
    "1024x640@2x": ("2048x1280", "2", "light"),
}
STATES = ["first-run", "thread", "models", "copilot-form-remote", "settings", "palette", "overlay"]


@pytest.mark.parametrize("run", list(RUNS))
def test_every_screen_shows_its_text_whole(home, run) -> None:
    screen, scale, themes = RUNS[run]
    display, processes = start_display(window_manager=True, size=screen)
    try:
        env = display_env(display) | {
            "QT_SCALE_FACTOR": scale,
            "HF_ENDPOINT": "http://127.0.0.1:9",  # nothing listens: the Hub is unreachable, as offline
            "HF_HUB_OFFLINE": "0",
        }
        result = subprocess.run(
            [sys.executable, "-m", "tests.ui.screens", str(SCREENSHOTS), "--size", run, "--themes", themes],
            env=env | {"PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", "")},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        stop_display(processes)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    expected = {f"{state}-{theme}-{run}.png" for state in STATES for theme in themes.split(",")}
    assert set(report["shots"]) == expected
    assert all((SCREENSHOTS / name).stat().st_size > 4_000 for name in report["shots"])
    assert report["problems"] == {}, json.dumps(report["problems"], indent=1, ensure_ascii=False)
