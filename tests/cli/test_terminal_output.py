"""Text from models, agents, tools and documents reaches a terminal without its control characters.

The real CLI runs on a real pseudo-terminal (raw mode, so the bytes read are exactly the bytes written).
"""

import json
import os
import pty
import re
import subprocess
import sys
import tomllib
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w

from app.cli.output import inert_toml, terminal_safe
from tests.conftest import PATIENCE_S, REPO, cli_command, run_cli
from tests.loopback import LoopbackServer, Response, sse

# clear screen, CSI via C1, bell, a window-title OSC, NUL, DEL, NEL, a carriage return that would overwrite
HOSTILE = "clear\x1b[2Jscreen \x9b31m csi \x07bell \x1b]0;pwned\x07 \x00nul\x7f\x85 over\rwrite keep\ttab\nnext é ✓"
UNSAFE_BYTES = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")  # C0 but \t \n, DEL, C1 in UTF-8
HOSTILE_SERVER = REPO / "tests" / "core" / "tools" / "hostile_server.py"


def run_on_pty(*args: str) -> tuple[int, bytes]:
    """Run `roundtable ARGS` with stdin, stdout and stderr on a raw pty; its exit code and every byte it wrote."""
    master, slave = pty.openpty()
    tty.setraw(slave)  # no \n -> \r\n translation: what we read is what the program wrote
    process = subprocess.Popen(
        cli_command(*args), stdin=slave, stdout=slave, stderr=slave, cwd=REPO, env={**os.environ, "TERM": "xterm"}
    )
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    return process.wait(timeout=PATIENCE_S), output


def store_hostile_thread() -> str:
    from app.core.context import AppContext

    with AppContext() as ctx:
        thread = ctx.store.create_thread(f"title {HOSTILE}")
        ctx.store.add_message(thread.id, "user", "user", "what now?")
        data = {"error": f"server said {HOSTILE}", "citations": [{"number": 1, "source": f"doc {HOSTILE}"}]}
        ctx.store.add_message(thread.id, "writer", "assistant", HOSTILE, status="failed", data=data)
        return thread.id


def test_terminal_safe_keeps_text_newlines_and_tabs_only() -> None:
    assert terminal_safe(HOSTILE) == "clear[2Jscreen 31m csi bell ]0;pwned nul overwrite keep\ttab\nnext é ✓"
    assert terminal_safe("a\r\nb") == "a\nb"
    assert all(terminal_safe(chr(c)) == "" for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\t\n")


def test_threads_show_on_a_terminal_prints_no_control_characters(home) -> None:
    thread_id = store_hostile_thread()
    code, output = run_on_pty("threads", "show", thread_id)
    assert code == 0, output
    assert UNSAFE_BYTES.search(output) is None, output
    assert terminal_safe(HOSTILE).encode() in output  # the text itself, newline and tab included, is all there
    assert b"# title clear[2Jscreen 31m csi" in output  # (the store shortens titles)


def test_threads_show_json_keeps_the_text_exactly(home) -> None:
    thread_id = store_hostile_thread()
    code, output = run_on_pty("threads", "show", thread_id, "--json")
    assert code == 0, output
    assert UNSAFE_BYTES.search(output) is None  # escaped as \\u001b, \\u009b...: the same text, still
    shown = json.loads(output)
    assert f"title {HOSTILE}".startswith(shown["thread"]["title"]) and "\x1b" in shown["thread"]["title"]
    assert [m["text"] for m in shown["messages"] if m["role"] == "assistant"][-1] == HOSTILE


def test_an_error_quoting_input_prints_no_control_characters(home) -> None:
    code, output = run_on_pty("threads", "show", "nope\x1b[2J\x9bX")
    assert code != 0
    assert b"nope[2JX" in output and UNSAFE_BYTES.search(output) is None, output


# -- streamed replies, remote servers and tool servers: their words reach the terminal inert -----------------------


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.close()


def _delta(text: str | None, finish: str | None = None) -> str:
    delta = {"content": text} if text is not None else {}
    return sse(
        None, {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    )


def hostile_openai(server: LoopbackServer, copilot: str = "mirror") -> None:
    """An OpenAI-compatible server that streams HOSTILE three characters a delta (escapes split across deltas too),
    lists hostile model names, and an `--openai` copilot `copilot` that answers from it."""
    stream = [_delta(HOSTILE[i : i + 3]) for i in range(0, len(HOSTILE), 3)] + [
        _delta(None, "stop"),
        sse(None, "[DONE]"),
    ]
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=stream)
    models = {"data": [{"id": "m\x1b]0;title\x07\x9b2J"}, {"id": "m"}]}
    server.routes[("GET", "/v1/models")] = lambda _r: Response(body=models)
    added = run_cli("copilots", "add", copilot, "--openai", server.url, "--model", "m")
    assert added.returncode == 0, added.stderr


def test_a_streamed_reply_reaches_the_terminal_without_control_characters(loopback) -> None:
    hostile_openai(loopback)
    code, output = run_on_pty("ask", "--copilot", "mirror", "Say something")
    assert code == 0, output
    assert loopback.requests, "the reply did not come from the loopback server"
    assert UNSAFE_BYTES.search(output) is None, output
    assert terminal_safe(HOSTILE).encode() in output  # every printable character, and \t and \n, came through
    assert b"keep\ttab\nnext" in output


def test_a_streamed_reply_with_json_is_the_exact_text(loopback) -> None:
    hostile_openai(loopback)
    code, output = run_on_pty("ask", "--copilot", "mirror", "--json", "Say something")
    assert code == 0, output
    assert UNSAFE_BYTES.search(output) is None, output  # JSON escapes them: still the same text
    events = [json.loads(line) for line in output.decode().splitlines() if line.startswith("{")]
    assert "".join(e["delta"] for e in events if e["type"] == "text") == HOSTILE


def test_copilots_test_prints_the_servers_reply_and_models_inertly(loopback) -> None:
    hostile_openai(loopback)
    code, output = run_on_pty("copilots", "test", "mirror")
    assert code == 0, output
    assert UNSAFE_BYTES.search(output) is None, output
    assert terminal_safe(HOSTILE).encode() in output  # the reply
    assert b"m]0;title2J, m" in output  # the model list


def test_copilots_test_prints_the_servers_error_inertly(loopback) -> None:
    hostile_openai(loopback)
    loopback.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(500, {"error": {"message": HOSTILE}})
    code, output = run_on_pty("copilots", "test", "mirror")
    assert code == 8, output
    assert UNSAFE_BYTES.search(output) is None, output
    assert b"answered: False" in output


def store_hostile_copilot(review: str | None = None) -> dict:
    from app.core.context import AppContext

    manifest = {"id": "mimic", "name": "Mimic", "description": HOSTILE, "system_prompt": HOSTILE, "skills": [HOSTILE]}
    with AppContext() as ctx:
        ctx.store.save_copilot("mimic", "Mimic", manifest)
        if review:
            ctx.store.set_copilot_review("mimic", review)
        return ctx.copilot("mimic").model_dump(exclude_none=True)


def test_copilots_show_on_a_terminal_is_inert_toml_of_the_same_data(home) -> None:
    stored = store_hostile_copilot(review="imported from evil\x1b]0;pwned\x07\x9b2J.zip, needs review")
    code, output = run_on_pty("copilots", "show", "mimic")
    assert code == 0, output
    assert UNSAFE_BYTES.search(output) is None, output
    assert b"imported from evil]0;pwned2J.zip" in output  # the review note names the archive's file, inert
    manifest = output[output.index(b"id = ") :].decode()
    assert tomllib.loads(manifest) == stored  # \\u001b, \\u009b...: the exact text, as TOML escapes


def test_copilots_export_is_the_same_data_in_a_file_and_on_a_pipe(home, tmp_path: Path) -> None:
    stored = store_hostile_copilot()
    target = tmp_path / "mimic.toml"
    assert run_cli("copilots", "export", "mimic", "-o", str(target)).returncode == 0
    piped = run_cli("copilots", "export", "mimic")
    assert piped.returncode == 0
    for text in (target.read_text(encoding="utf-8"), piped.stdout):
        assert tomllib.loads(text) == stored
        assert re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text) is None


def test_inert_toml_parses_back_to_the_same_values() -> None:
    every = "".join(map(chr, range(0x100))) + "é ✓ \u2028 \U0001f600"
    data = {"name": every, "list": [every, "plain"], "nested": {"key": every, "n": 3}, every: "as a key"}
    text = inert_toml(tomli_w.dumps(data))
    assert tomllib.loads(text) == data
    assert re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", text.replace("\t", "")) is None


def test_tools_add_and_ls_print_a_hostile_servers_names_descriptions_and_errors_inertly(home) -> None:
    from app.core.context import AppContext

    code, output = run_on_pty("tools", "add", "evil", "--", sys.executable, str(HOSTILE_SERVER))
    assert code == 0, output
    assert UNSAFE_BYTES.search(output) is None, output
    assert b"with 1 tools: look[2J31mup." in output
    with AppContext() as ctx:  # a server whose command no longer starts: its error quotes the command
        ctx.store.add_tool_server("gone", ["/nonexistent/srv\x1b[2J\x9b31m\x07", "--flag"])
    code, output = run_on_pty("tools", "ls")
    assert code == 0, output
    assert UNSAFE_BYTES.search(output) is None, output
    assert b"evil.look[2J31mup: clear[2Jscreen 31m csi bell ]0;pwned del overwrite keep\ttab\nnext" in output
    assert b"/nonexistent/srv[2J31m was not found" in output


@pytest.mark.parametrize(
    "name",
    [
        "evil\x1b[2J-Q4_K_M.gguf",
        "csi\x9b31m-Q4_K_M.gguf",
        "bell\x07-Q4_K_M.gguf",
        "del\x7f-Q4_K_M.gguf",
        "tab\t-Q4_K_M.gguf",
        "line\n-Q4_K_M.gguf",
        "nul\x00-Q4_K_M.gguf",
        "sub/osc\x9d0;t\x9c-Q4_K_M.gguf",
    ],
)
def test_a_hub_file_name_with_control_characters_is_refused(name: str) -> None:
    from app.core.hub import client
    from app.core.hub.catalog import check_filename

    with pytest.raises(client.HubError, match="unsafe file name") as caught:
        check_filename("someone/model-GGUF", name)
    message = str(caught.value)
    assert "control characters" in message and terminal_safe(message) == message  # one line, inert


def test_a_plain_hub_file_name_is_kept() -> None:
    from app.core.hub.catalog import check_filename

    for name in ("Model-Q4_K_M.gguf", "sub/dir/Modèle ✓-Q8_0.gguf"):
        assert check_filename("someone/model-GGUF", name) == name


def test_threads_ls_lines_up_with_long_ids(home) -> None:
    from app.core.context import AppContext

    with AppContext() as ctx:
        for title in ("first", "second"):
            ctx.store.create_thread(title)
        ids = [t.id for t in ctx.store.list_threads()]
    listed = run_cli("threads", "ls")
    assert listed.returncode == 0, listed.stderr
    header, *lines = listed.stdout.splitlines()
    column = header.index("UPDATED")
    assert column > max(map(len, ids))
    for line, thread_id in zip(lines, ids, strict=True):
        assert line.startswith(thread_id) and line[column - 1] == " " and line[column].isdigit(), line


def test_a_progress_bar_label_is_inert() -> None:
    import io

    from app.cli.output import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(f"Model{HOSTILE}.gguf", stream=stream)
    bar.update(50, 100, 10.0, 5.0, force=True)
    assert re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", stream.getvalue()) is None
    assert stream.getvalue().startswith(terminal_safe(f"Model{HOSTILE}.gguf") + " [")
