"""The frozen Linux bundle, smoke-tested: `./dev package` builds it and runs these with ROUNDTABLE_BUNDLE set
(the normal test run skips them). `--version`, an offline `ask` on the starter model, and the window under
Xvfb with a screenshot in tests/artifacts/."""

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.conftest import PATIENCE_S

BUNDLE = os.environ.get("ROUNDTABLE_BUNDLE")
pytestmark = pytest.mark.skipif(not BUNDLE, reason="set ROUNDTABLE_BUNDLE=dist/roundtable (`./dev package` does)")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without this venv's Python: the frozen program must stand on its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**env, **extra, "HF_HUB_OFFLINE": "1"}


def frozen(*args: str, timeout: float = 180, env: dict | None = None) -> subprocess.CompletedProcess:
    program = Path(BUNDLE or "") / "roundtable"
    return subprocess.run(
        [str(program), *args], capture_output=True, text=True, timeout=timeout, env=clean_env(**(env or {}))
    )


def test_the_frozen_program_reports_its_version_and_backend() -> None:
    from app import __version__

    version = frozen("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"roundtable {__version__}"
    hardware = json.loads(frozen("hardware", "--json").stdout)
    assert hardware["backend"] in ("cpu", "cuda", "metal", "vulkan")


def test_the_frozen_program_answers_offline_on_the_starter_model(home) -> None:
    asked = frozen("ask", "--json", "What is a bond? One sentence.", env={"ROUNDTABLE_HOME": str(home)})
    assert asked.returncode == 0, asked.stderr
    events = [json.loads(line) for line in asked.stdout.splitlines()]
    text = "".join(e["delta"] for e in events if e["type"] == "text")
    assert len(text.split()) >= 3 and events[-1]["type"] == "done"
    shown = json.loads(
        frozen("threads", "show", events[-1]["thread_id"], "--json", env={"ROUNDTABLE_HOME": str(home)}).stdout
    )
    assert shown["messages"][1]["text"] == text and shown["messages"][1]["data"]["trace"]["provider"] == "local"


def test_the_frozen_window_opens_under_xvfb(display, home) -> None:
    from tests.ui.x11 import display_env, looks_like_a_window, screenshot, xdotool

    env = clean_env(**{**display_env(display), "ROUNDTABLE_HOME": str(home)})
    app = subprocess.Popen(
        [str(Path(BUNDLE or "") / "roundtable")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert xdotool(display, "search", "--sync", "--onlyvisible", "--name", "^Roundtable$", timeout=PATIENCE_S)
        import time

        time.sleep(2)
        assert looks_like_a_window(screenshot(display, "bundle-main-window.png"))
    finally:
        quit = frozen("quit", env={"ROUNDTABLE_HOME": str(home), "DISPLAY": display})
        assert quit.returncode == 0
        output, _ = app.communicate(timeout=PATIENCE_S)
    assert app.returncode == 0, output


def test_the_linux_tarball_holds_the_bundle_the_installer_and_the_desktop_files() -> None:
    tarballs = sorted((Path(BUNDLE or "").parent).glob("roundtable-*-linux-*.tar.gz"))
    assert tarballs, "no tarball beside the bundle"
    with tarfile.open(tarballs[-1]) as tar:
        names = tar.getnames()
    top = names[0].split("/")[0]
    for expected in (
        "install.sh",
        "roundtable.desktop",
        "io.github.roundtable.Roundtable.metainfo.xml",
        "roundtable/roundtable",
        "icons/hicolor/256x256/apps/roundtable.png",
        "icons/hicolor/scalable/apps/roundtable.svg",
    ):
        assert f"{top}/{expected}" in names, expected


def test_install_sh_installs_for_the_user_and_removes_cleanly(tmp_path) -> None:
    import shutil

    (tarball,) = sorted((Path(BUNDLE or "").parent).glob("roundtable-*-linux-*.tar.gz"))[-1:]
    archive = tmp_path / "archive"  # a folder of its own: tmp_path also holds the test's home
    with tarfile.open(tarball) as tar:
        tar.extractall(archive, filter="tar")
    (unpacked,) = [p for p in archive.iterdir() if p.is_dir()]
    env = {**os.environ, "PREFIX": str(tmp_path / "prefix"), "XDG_DATA_HOME": str(tmp_path / "share")}
    installed = subprocess.run([str(unpacked / "install.sh")], env=env, capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stderr
    program = tmp_path / "prefix" / "bin" / "roundtable"
    assert subprocess.run([str(program), "--version"], env=clean_env(), capture_output=True).returncode == 0
    desktop = tmp_path / "share" / "applications" / "roundtable.desktop"
    assert f"Exec={program}" in desktop.read_text()
    assert (tmp_path / "share" / "icons" / "hicolor" / "48x48" / "apps" / "roundtable.png").is_file()
    for tool, args in (
        ("desktop-file-validate", [str(desktop)]),
        ("appstreamcli", ["validate", "--no-net", str(unpacked / "io.github.roundtable.Roundtable.metainfo.xml")]),
    ):
        if shutil.which(tool):
            checked = subprocess.run([tool, *args], capture_output=True, text=True)
            assert checked.returncode == 0, checked.stdout + checked.stderr
    removed = subprocess.run([str(unpacked / "install.sh"), "--remove"], env=env, capture_output=True, text=True)
    assert removed.returncode == 0 and not program.exists() and not desktop.exists()
