"""Every module of `app/` imports on a platform without `fcntl` and `termios` (Windows, which the installers target)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import PATIENCE_S, REPO

# Runs in a fresh interpreter: the modules are blocked before anything of `app` is imported, as on Windows.
_IMPORT_ALL = """
import importlib, pkgutil, sys, warnings
for name in ("fcntl", "termios"):
    sys.modules[name] = None  # `import fcntl` now raises ImportError, as it does on Windows
warnings.simplefilter("ignore")  # filelock warns that it falls back to soft locks: Windows has msvcrt instead
import app
failed, imported = [], 0
for info in pkgutil.walk_packages(app.__path__, "app.", onerror=lambda name: failed.append(name)):
    try:
        importlib.import_module(info.name)
        imported += 1
    except Exception as exc:
        failed.append(f"{info.name}: {type(exc).__name__}: {exc}")
print(imported)
print("\\n".join(failed))
"""


def test_every_module_of_app_imports_without_fcntl_and_termios() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL], capture_output=True, text=True, cwd=REPO, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    count, *failed = result.stdout.splitlines()
    assert [line for line in failed if line] == []
    assert int(count) > 80  # the walk reached the whole package (core, cli and every Qt module)


# What the desktop window must open without (issue 14: start-up time and idle memory): each is imported where it is
# first used. numpy comes with sqlite_utils, the store's vectors, the embedder and the GGUF reader; asyncio with the
# MCP sessions; multiprocessing with the model hosts; QtNetwork with the single-instance pipe (Windows only).
_NOT_AT_START = (
    "numpy",
    "llama_cpp",
    "huggingface_hub",
    "gguf",
    "sqlite_utils",
    "sqlite_vec",
    "markdown",
    "pygments",
    "keyring",
    "httpx",
    "mcp",
    "openai",
    "starlette",
    "uvicorn",
    "asyncio",
    "multiprocessing",
    "PySide6.QtNetwork",
    "app.core.runtime.worker",
    "app.core.tools.sessions",
    "app.core.knowledge.embedding",
    "app.core.crew.matching",
)

_OPEN_WINDOW = """
import sys, time
from app.core.context import AppContext
from app.ui.qt import QApplication
app = QApplication([])
from app.ui.main_window import MainWindow
ctx = AppContext()  # the second launch: the first one registered the starter model (reading its GGUF header)
if sys.argv[1] == "window":
    window = MainWindow(ctx)
    window.show()
    deadline = time.monotonic() + float(sys.argv[2])
    while not (window.copilots and window.sidebar.workspaces.count()) and time.monotonic() < deadline:
        app.processEvents()  # until the roster and the workspaces have come from the database worker
    assert window.copilots, "the roster never loaded"
    window.documents.stop_watching()
ctx.close()
print(sorted(m for m in sys.argv[3].split(",") if m in sys.modules))
"""


@pytest.mark.parametrize("what", ["imports", "window"])
def test_the_window_opens_without_heavy_libraries(what: str, tmp_path) -> None:
    """Importing the window and its context, and a window at rest once its roster has loaded, load none of
    `_NOT_AT_START` (run in fresh interpreters: the first launch sets up the data folder, the second is checked)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ROUNDTABLE_HOME": str(tmp_path / "home")}
    heavy = ",".join(_NOT_AT_START)
    for launch in ("first", "second"):
        result = subprocess.run(
            [sys.executable, "-c", _OPEN_WINDOW, what if launch == "second" else "imports", str(PATIENCE_S), heavy],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=PATIENCE_S,
        )
        assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
