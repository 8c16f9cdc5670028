"""Every module of `app/` imports on a platform without `fcntl` and `termios` (Windows, which the installers target)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

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
