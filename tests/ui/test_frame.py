"""The launch shows the window's frame first and builds the rest into it: what runs before the first paint stays
light, the frame takes the theme from the settings file, and the built window lives in the frame."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import PATIENCE_MS, REPO, write_settings

pytestmark = pytest.mark.gui

# what a launch must not import before the frame paints: each costs milliseconds a bare Qt window does not spend
HEAVY = ["app.core.context", "app.core.settings", "app.ui.qt", "pydantic", "_hashlib", "PySide6.QtNetwork"]


def _modules_after(code: str, home: Path) -> set[str]:
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    env = {"ROUNDTABLE_HOME": str(home), "QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_what_runs_before_the_frame_paints_stays_light(home: Path) -> None:
    loaded = _modules_after(
        """
        from app.core.instance import send_command
        from app.core.paths import Paths
        from PySide6.QtWidgets import QApplication
        from app.ui.frame import Frame, frame_is_dark, lighten_pyside_imports, theme_of
        import app.ui.app

        lighten_pyside_imports()
        paths = Paths.from_environment()
        assert send_command(paths, "show") is None
        app = QApplication([])
        frame = Frame(frame_is_dark(theme_of(paths.settings_file)))
        frame.show()
        app.processEvents()
        """,
        home,
    )
    assert not set(HEAVY) & loaded, f"imported before the first paint: {sorted(set(HEAVY) & loaded)}"


def test_the_window_starts_without_pydantic_or_openssl(home: Path) -> None:
    """Day to day (the welcome dismissed): the settings and the roster are Records (`app.core.fields`), so
    pydantic waits for the Hub's listings, an archive or the local API; OpenSSL waits for a download or a
    document's digest. (tests/test_imports.py checks the rest, on the first run's window.)"""
    loaded = _modules_after(
        """
        from PySide6.QtWidgets import QApplication
        from app.core.context import AppContext
        from app.ui.main_window import MainWindow

        app = QApplication([])
        ctx = AppContext()
        ctx.store.set_meta("welcome_dismissed", True)
        window = MainWindow(ctx)
        window.show()
        for _ in range(50):
            app.processEvents()
        ctx.copilots()
        """,
        home,
    )
    assert "app.ui.main_window" in loaded
    assert not {"pydantic", "_hashlib"} & loaded


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        (None, "system"),
        ('theme = "dark"\n', "dark"),
        ('theme = "light"\nthreads = "not checked here"\n', "light"),
        ('theme = "purple"\n', "system"),
        ("theme = [dark\n", "system"),
        ("[theme]\nname = 'dark'\n", "system"),
        (b"\xff\xfe".decode("latin-1") + 'theme = "dark"\n', "system"),
        ("# " + "x" * (1024 * 1024) + '\ntheme = "dark"\n', "system"),
    ],
    ids=["missing", "dark", "light", "unknown", "broken", "table", "not utf-8", "too big"],
)
def test_the_frame_takes_the_theme_from_the_settings_file_or_the_desktop(home: Path, text, theme) -> None:
    from app.ui.frame import theme_of

    path = home / "config" / "settings.toml"
    if text is not None:
        path = write_settings(home, "")
        path.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    assert theme_of(path) == theme


def test_modules_imported_after_the_fix_are_checked_but_not_kept(tmp_path: Path, monkeypatch) -> None:
    import linecache

    import PySide6.QtCore  # noqa: F401 (PySide6's import hook comes with it)

    from app.ui.frame import lighten_pyside_imports

    feature = sys.modules["PySide6.support.feature"]
    lighten_pyside_imports()
    (tmp_path / "uses_qt_mod.py").write_text("# from PySide6 import QtCore\nVALUE = 1\n")
    (tmp_path / "plain_mod.py").write_text("VALUE = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import plain_mod  # noqa: F401
    import uses_qt_mod  # noqa: F401

    assert feature.pyside_feature_dict["uses_qt_mod"] == 0  # may select features, as PySide6 would decide
    assert feature.pyside_feature_dict["plain_mod"] == -1
    assert not any(str(tmp_path) in name for name in linecache.cache)


def test_the_built_window_lives_in_the_frame_and_closing_asks_it(qtbot, ctx) -> None:
    from app.ui.app import Desktop

    desktop = Desktop(ctx)
    qtbot.addWidget(desktop.frame)
    qtbot.addWidget(desktop.overlay)
    try:
        desktop.show_window()
        qtbot.waitExposed(desktop.frame)
        window = desktop.window
        assert window.parent() is desktop.frame and not window.isWindow() and window.isVisible()
        assert desktop.frame.windowTitle() == "Roundtable"
        asked = []
        window.on_close = lambda event: (asked.append(True), event.ignore())  # as the tray keeps it running
        assert not desktop.frame.close()
        assert asked and desktop.frame.isVisible()
        window.on_close = None
        qtbot.waitUntil(lambda: window.composer.edit.hasFocus(), timeout=PATIENCE_MS)
        assert desktop.frame.close() and not desktop.frame.isVisible()
    finally:
        desktop.close()
