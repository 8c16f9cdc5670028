"""The `roundtable` command end to end, as a user runs it: real subprocesses, the real starter model."""

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from app import __version__
from tests.conftest import LONG_PROMPT, PATIENCE_S, REPO, cli_command, file_digest, run_cli, wait_for, write_settings


def threads(home: Path) -> list[dict]:
    return json.loads(run_cli("threads", "ls", "--json").stdout)


def show(thread_id: str) -> dict:
    result = run_cli("threads", "show", thread_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"roundtable {__version__}"


def test_help_lists_the_commands() -> None:
    # `roundtable` alone opens the desktop app: tests/ui/test_desktop_smoke.py starts it under Xvfb
    result = run_cli("--help")
    assert result.returncode == 0
    assert all(word in result.stdout for word in ("ask", "run", "threads", "models", "copilots", "tasks"))


def test_ask_answers_offline_and_the_exchange_is_stored(home: Path) -> None:
    result = run_cli("ask", "What is a bond?")
    assert result.returncode == 0, result.stderr
    answer = result.stdout.strip()
    assert len(answer.split()) > 3

    (thread,) = threads(home)
    shown = show(thread["id"])
    assert [(m["author"], m["status"]) for m in shown["messages"]] == [("user", "complete"), ("generalist", "complete")]
    assert shown["messages"][1]["text"].strip() == answer

    text = run_cli("threads", "show", thread["id"][:4], "--trace").stdout
    assert "What is a bond?" in text and "tokens_per_s" in text and "Q4_1" in text


def test_ask_json_events_and_continuing_a_thread(home: Path) -> None:
    result = run_cli("ask", "--json", "Name a fruit.")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert {e["type"] for e in events[:-1]} <= {"text", "status", "message"}
    assert [e["status"] for e in events if e["type"] == "message"] == ["streaming", "complete"]
    done = events[-1]
    assert done["type"] == "done" and done["usage"]["completion_tokens"] > 0
    assert set(done) >= {"thread_id", "message_id", "usage"}

    again = run_cli("ask", "--json", "--thread", done["thread_id"], "And a vegetable?")
    assert json.loads(again.stdout.splitlines()[-1])["thread_id"] == done["thread_id"]
    assert len(show(done["thread_id"])["messages"]) == 4


def test_prompt_from_stdin(home: Path) -> None:
    result = run_cli("ask", input="What is two plus two?\n")
    assert result.returncode == 0 and result.stdout.strip()
    assert show(threads(home)[0]["id"])["messages"][0]["text"].strip() == "What is two plus two?"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--copilot", "nobody"], "No copilot 'nobody'"),
        (["--thread", "0000ffff"], "No thread '0000ffff'"),
        (["--model", "not-installed"], "No installed model 'not-installed'"),
    ],
)
def test_unknown_ids_exit_2_and_store_nothing(home: Path, args: list[str], expected: str) -> None:
    run_cli("threads", "ls")  # creates the database
    before = file_digest(home / "data" / "roundtable.db")
    result = run_cli("ask", *args, "Hello")
    assert result.returncode == 2
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert threads(home) == [] and file_digest(home / "data" / "roundtable.db") == before


def _bad_model(tmp_path: Path, starter: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.gguf"
    if kind == "truncated":
        path.write_bytes(starter.read_bytes()[:40_000_000])
    elif kind == "not-gguf":
        path.write_text("<html>404 Not Found</html>\n")
    return path  # "missing": never written


@pytest.mark.parametrize(
    ("kind", "words"), [("missing", "is missing"), ("truncated", "is truncated"), ("not-gguf", "not a usable GGUF")]
)
def test_bad_model_file_fails_clearly_and_keeps_the_question(home, tmp_path, starter_model, kind, words) -> None:
    model = _bad_model(tmp_path, starter_model, kind)
    result = run_cli("ask", "--model", str(model), "Hello there")
    assert result.returncode == 4
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    messages = show(threads(home)[0]["id"])["messages"]
    assert messages[0]["text"] == "Hello there"
    assert messages[1]["status"] == "failed" and words in messages[1]["data"]["error"]


def test_prompt_longer_than_the_context(home: Path) -> None:
    write_settings(home, "context_size = 256\n")
    result = run_cli("ask", "Summarise: " + "words and more words " * 200)
    assert result.returncode == 2 and "too long for this model's context of 256" in result.stderr
    assert show(threads(home)[0]["id"])["messages"][1]["status"] == "failed"


def test_settings_file_with_a_wrong_type(home: Path) -> None:
    path = write_settings(home, 'context_size = "large"\n')
    result = run_cli("ask", "Hello")
    assert result.returncode == 2
    assert "'context_size'" in result.stderr and str(path) in result.stderr
    assert not (home / "data" / "roundtable.db").exists()


def test_corrupt_database_is_refused_and_left_as_it_was(home: Path) -> None:
    database = home / "data" / "roundtable.db"
    database.parent.mkdir(parents=True, exist_ok=True)  # the home fixture made it
    database.write_bytes(os.urandom(8192))
    before = file_digest(database)
    result = run_cli("ask", "Hello")
    assert result.returncode == 3 and "damaged" in result.stderr and "move it aside" in result.stderr
    assert file_digest(database) == before


def test_read_only_database_is_refused_and_left_as_it_was(home: Path) -> None:
    assert run_cli("threads", "ls").returncode == 0
    database = home / "data" / "roundtable.db"
    folders = [home / "data", home / "config", home / "cache"]
    for folder in folders:
        folder.chmod(0o555)
    database.chmod(0o444)
    before = file_digest(database)
    # Root ignores file modes; without CAP_DAC_OVERRIDE it is held to them like any user.
    prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
    try:
        result = subprocess.run(
            prefix + cli_command("ask", "Hello"), cwd=REPO, capture_output=True, text=True, timeout=120
        )
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert result.returncode == 3, result.stderr
    assert "read-only" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert file_digest(database) == before


def _start_streaming(*extra: str) -> tuple[subprocess.Popen, list[dict]]:
    """Start `ask --json LONG_PROMPT` and read until a few text events arrived."""
    process = subprocess.Popen(
        cli_command("ask", "--json", *extra, LONG_PROMPT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    events: list[dict] = []
    while sum(e["type"] == "text" for e in events) < 5:
        line = process.stdout.readline()
        assert line, process.stderr.read()
        events.append(json.loads(line))
    return process, events


def _model_host(process: subprocess.Popen) -> psutil.Process:
    def find():
        children = psutil.Process(process.pid).children(recursive=True)
        return next((c for c in children if "spawn_main" in " ".join(c.cmdline())), None)

    return wait_for(find, timeout=PATIENCE_S)


def test_ctrl_c_stops_and_keeps_the_partial_reply(home: Path) -> None:
    process, events = _start_streaming()
    os.killpg(process.pid, signal.SIGINT)  # as a terminal does: the whole process group
    out, err = process.communicate(timeout=PATIENCE_S)
    events += [json.loads(line) for line in out.splitlines()]
    assert process.returncode == 130
    assert events[-1]["type"] == "done" and events[-1]["status"] == "interrupted"
    reply = show(events[-1]["thread_id"])["messages"][1]
    streamed = "".join(e["delta"] for e in events if e["type"] == "text")
    assert reply["status"] == "interrupted" and reply["text"] == streamed


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV])
def test_model_host_killed_mid_answer(home: Path, sig) -> None:
    process, events = _start_streaming()
    _model_host(process).send_signal(sig)
    out, err = process.communicate(timeout=PATIENCE_S)
    assert process.returncode == 5
    assert signal.Signals(sig).name in err and "ask again" in err
    events = [json.loads(line) for line in out.splitlines()]
    error = next(e for e in events if e["type"] == "error")
    assert error["author"] == "generalist" and events[-1]["type"] == "done"
    reply = show(error["thread_id"])["messages"][1]
    assert reply["status"] == "interrupted" and reply["text"]
    assert run_cli("ask", "--thread", error["thread_id"], "Say hello.").returncode == 0


def test_kill_9_of_roundtable_itself_keeps_the_partial_reply(home: Path) -> None:
    process, events = _start_streaming()
    host = _model_host(process)
    time.sleep(0.6)  # past a checkpoint or two
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    wait_for(lambda: not host.is_running() or host.status() == psutil.STATUS_ZOMBIE, timeout=PATIENCE_S)

    (thread,) = threads(home)  # opening the store marks the orphaned reply
    reply = show(thread["id"])["messages"][1]
    assert reply["status"] == "interrupted" and reply["text"]
    database = home / "data" / "roundtable.db"
    assert sqlite3.connect(database).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_interactive_session_on_a_terminal(home: Path) -> None:
    """`./dev run` starts this: each line is a question in the same thread; Ctrl+D quits."""
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen(cli_command("ask"), stdin=follower, stdout=follower, stderr=follower, cwd=REPO)
    os.close(follower)
    seen = b""

    def read_until(marker: bytes, count: int = 1) -> None:
        nonlocal seen
        while seen.count(marker) < count:
            chunk = os.read(leader, 4096)
            assert chunk, seen
            seen += chunk

    try:
        read_until(b"you> ")
        os.write(leader, b"What is a bond?\n")
        read_until(b"you> ", 2)
        os.write(leader, b"Say it shorter.\n")
        read_until(b"you> ", 3)
        os.write(leader, b"\x04")  # Ctrl+D
        assert process.wait(30) == 0
    finally:
        process.kill()
        os.close(leader)
    assert b"Generalist> " in seen
    (thread,) = threads(home)
    assert [m["author"] for m in show(thread["id"])["messages"]] == ["user", "generalist"] * 2


def test_the_command_line_starts_without_loading_heavy_libraries() -> None:
    """`roundtable overlay` (bound to a key) and `--version` must start fast: nothing heavy at import."""
    import sys

    heavy = ("sqlite_utils", "PySide6", "llama_cpp", "huggingface_hub", "pydantic", "mcp")
    probe = f"import sys, app.cli; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    assert loaded.stdout.strip() == "[]"
