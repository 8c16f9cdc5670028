"""One Roundtable per data folder: later launches, and `roundtable overlay`, talk to the running one."""

import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.core.instance import instance_address, send_command
from app.core.paths import Paths
from tests.conftest import PATIENCE_MS, PATIENCE_S, REPO, cli_command, run_cli, wait_for

pytestmark = pytest.mark.gui


def status(paths: Paths) -> dict:
    return json.loads(send_command(paths, "status") or "null")


def launch(*args: str) -> subprocess.Popen:
    return subprocess.Popen(cli_command(*args), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def quit_instance(paths: Paths, app: subprocess.Popen) -> None:
    assert send_command(paths, "quit") == "ok"
    output, _ = app.communicate(timeout=PATIENCE_S)
    assert app.returncode == 0, output
    assert send_command(paths, "status") is None  # nobody listens any more


def test_a_second_launch_hands_its_command_to_the_running_one(home) -> None:
    paths = Paths.from_environment()
    assert send_command(paths, "status") is None
    app = launch()
    try:
        first = wait_for(lambda: send_command(paths, "status"))
        assert json.loads(first)["window"] is True and json.loads(first)["overlay"] is False

        shown = run_cli("overlay", timeout=PATIENCE_S)
        assert shown.returncode == 0, shown.stderr
        assert status(paths)["overlay"] is True
        hidden = run_cli("overlay", timeout=PATIENCE_S)
        assert hidden.returncode == 0 and status(paths)["overlay"] is False

        second = run_cli(timeout=PATIENCE_S)
        assert second.returncode == 0 and "already running" in second.stdout
        assert status(paths)["pid"] == app.pid
        assert send_command(paths, "dance") == "unknown command 'dance'"
    finally:
        quit_instance(paths, app)


def test_the_overlay_command_starts_roundtable_in_the_background_when_none_runs(home) -> None:
    paths = Paths.from_environment()
    app = launch("overlay")
    try:
        wait_for(lambda: send_command(paths, "status"))
        state = status(paths)
        assert state["overlay"] is True and state["window"] is False
    finally:
        quit_instance(paths, app)


def test_a_socket_left_by_a_crashed_instance_is_taken_over(home) -> None:
    import socket

    paths = Paths.from_environment()
    from app.core.instance import instance_address

    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(instance_address(paths))  # bound, never listening: what a kill -9 leaves behind
    leftover.close()
    assert send_command(paths, "status") is None
    app = launch()
    try:
        assert json.loads(wait_for(lambda: send_command(paths, "status")))["window"] is True
    finally:
        quit_instance(paths, app)


# -- the socket's folder is private, and nothing found at the socket's path stops Roundtable from starting -----


@pytest.fixture
def runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private XDG_RUNTIME_DIR, and a temp folder of our own for the fallback (short: socket paths are)."""
    runtime = Path(tempfile.mkdtemp(prefix="rt-run-"))  # 0700, as the session manager makes it
    fallback = Path(tempfile.mkdtemp(prefix="rt-tmp-"))
    fallback.chmod(0o1777)  # shared by every user, as /tmp is
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setattr(tempfile, "tempdir", str(fallback))
    yield runtime
    shutil.rmtree(runtime, ignore_errors=True)
    shutil.rmtree(fallback, ignore_errors=True)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_socket_lives_in_a_private_folder_of_the_users_runtime_dir(home, runtime_dir) -> None:
    address = Path(instance_address(Paths.from_environment()))
    assert address.parent == runtime_dir / "roundtable" and _mode(address.parent) == 0o700


def _in_the_way(kind: str, address: Path) -> object:
    """Put what `kind` names at the socket's path; returns what must be closed afterwards."""
    if kind == "stale socket":  # bound, never listening: what a kill -9 leaves behind
        leftover = socket.socket(socket.AF_UNIX)
        leftover.bind(str(address))
        leftover.close()
    elif kind == "regular file":
        address.write_bytes(b"not a socket")
    elif kind == "folder":
        (address / "inside").mkdir(parents=True)
    elif kind == "garbage listener":
        return _GarbageListener(address)
    return None


class _GarbageListener:
    """A program of ours that is not Roundtable, listening at the socket's path and answering binary noise."""

    def __init__(self, address: Path) -> None:
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(address))
        self.listener.listen()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(256)
                connection.sendall(b"\x00\xff\x1b[2Jgarbage\r\nmore\n")

    def close(self) -> None:
        self.listener.close()


def _serve_and_ask(qtbot, paths: Paths, command: str) -> str | None:
    """Ask the instance (on a worker thread: the server answers on this, the GUI, thread)."""
    with ThreadPoolExecutor(1) as pool:
        reply = pool.submit(send_command, paths, command, 10.0)
        qtbot.waitUntil(reply.done, timeout=PATIENCE_MS)
        return reply.result()


@pytest.mark.parametrize("kind", ["stale socket", "regular file", "folder", "garbage listener"])
def test_whatever_is_at_the_socket_path_the_instance_server_starts(qtbot, home, runtime_dir, kind) -> None:
    from app.ui.single_instance import InstanceServer

    paths = Paths.from_environment()
    address = Path(instance_address(paths))
    squatter = _in_the_way(kind, address)
    server = None
    try:
        assert send_command(paths, "status", timeout=2.0) is None  # no Roundtable answers: the client says so
        server = InstanceServer(paths, lambda command: f"got {command}")
        assert server.listen(), f"could not listen at {address} with a {kind} there"
        assert _serve_and_ask(qtbot, paths, "status") == "got status"
        assert stat.S_ISSOCK(os.lstat(address).st_mode)
    finally:
        if server is not None:
            server.close()
        if squatter is not None:
            squatter.close()


def _closed(connection: socket.socket) -> bool:
    """Whether the other end closed `connection` (with nothing sent first); False while it is open."""
    try:
        return connection.recv(16) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:  # closed with our bytes unread
        return True


def test_a_silent_or_flooding_client_never_holds_up_the_next_command(qtbot, home, runtime_dir) -> None:
    """The server reads on the GUI thread without blocking: a client that says nothing stays waiting, one that
    sends a line longer than any command is cut off, and a later launch is answered all the same."""
    from app.ui.single_instance import _MAX_COMMAND, InstanceServer

    paths = Paths.from_environment()
    address = instance_address(paths)
    server = InstanceServer(paths, lambda command: f"got {command}")
    assert server.listen()
    silent, flooding = socket.socket(socket.AF_UNIX), socket.socket(socket.AF_UNIX)
    try:
        silent.connect(address)
        silent.sendall(b"sta")  # the start of a line, never finished
        flooding.connect(address)
        flooding.sendall(b"x" * (_MAX_COMMAND + 10))
        assert _serve_and_ask(qtbot, paths, "status") == "got status"
        flooding.setblocking(False)
        qtbot.waitUntil(lambda: _closed(flooding), timeout=PATIENCE_MS)  # dropped, with no answer
        assert len(server._open) == 1  # the silent one still waits for its line
    finally:
        silent.close()
        flooding.close()
        server.close()
    assert not os.path.exists(address)  # closing takes the socket away


def _loose_runtime_folder(runtime_dir: Path) -> Path:
    folder = runtime_dir / "roundtable"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)  # as an older version, or a careless script, left it
    return folder


def test_a_loose_runtime_folder_is_tightened_and_our_own_files_kept(home, runtime_dir) -> None:
    folder = _loose_runtime_folder(runtime_dir)
    ours = folder / "ours.sock"
    ours.write_bytes(b"")
    address = Path(instance_address(Paths.from_environment()))
    assert address.parent == folder and _mode(folder) == 0o700
    assert ours.exists()


def test_what_others_left_in_a_loose_runtime_folder_is_removed(home, runtime_dir) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root: only root can make a file another user owns, in a test")
    folder = _loose_runtime_folder(runtime_dir)
    planted = folder / "planted.sock"
    planted.write_bytes(b"")
    os.chown(planted, 65534, 65534)  # someone else's file, left while the folder was open to all
    address = Path(instance_address(Paths.from_environment()))
    assert address.parent == folder and _mode(folder) == 0o700
    assert not planted.exists()


def test_a_runtime_folder_that_is_a_link_or_someone_elses_is_never_used(home, runtime_dir) -> None:
    elsewhere = Path(tempfile.mkdtemp(prefix="rt-else-"))
    (runtime_dir / "roundtable").symlink_to(elsewhere)  # would put our socket where the link's maker chose
    fallback = Path(tempfile.gettempdir()) / f"roundtable-{os.getuid()}"
    fallback.mkdir(mode=0o700)
    if os.getuid() == 0:
        os.chown(fallback, 65534, 65534)
        expected = Paths.from_environment().data_dir / "run"  # the temp folder's name is squatted too
    else:
        expected = fallback
    address = instance_address(Paths.from_environment())
    assert address is not None and Path(address).parent == expected
    assert _mode(expected) == 0o700 and list(elsewhere.iterdir()) == []
    shutil.rmtree(elsewhere)


def test_a_garbage_listener_never_stops_the_app_from_starting(home, runtime_dir) -> None:
    paths = Paths.from_environment()
    squatter = _GarbageListener(Path(instance_address(paths)))
    try:
        assert send_command(paths, "status") is None
        app = launch()
        try:
            assert json.loads(wait_for(lambda: send_command(paths, "status")))["pid"] == app.pid
        finally:
            quit_instance(paths, app)
    finally:
        squatter.close()
