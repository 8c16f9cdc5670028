"""Persistent MCP sessions: one per server, kept between calls, restarted after a crash, the tool list refreshed
when the server says it changed, ended at shutdown; remote servers over Streamable HTTP with a keychain token."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from app.core.tools.mcp import McpServer, RemoteServer, ToolError, check_remote
from app.core.tools.sessions import SessionPool
from tests.conftest import PATIENCE_S, REPO, run_cli

SERVER = [sys.executable, str(REPO / "tests" / "core" / "tools" / "session_server.py")]


@pytest.fixture
def sessions(home):
    pool = SessionPool()
    yield pool
    pool.shutdown()


def server_pid(server: McpServer) -> int:
    return int(server.call("pid", {}).text)


def test_calls_share_one_session_and_a_crashed_server_is_started_again(sessions) -> None:
    server = McpServer("s", SERVER, timeout=PATIENCE_S, sessions=sessions)
    first = server_pid(server)
    assert server_pid(server) == first and psutil.pid_exists(first)  # the same process answered twice
    # another McpServer object for the same registration uses the same session (the crew makes one per run)
    assert server_pid(McpServer("s", SERVER, timeout=PATIENCE_S, sessions=sessions)) == first

    with pytest.raises(ToolError, match="failed to run 'crash'"):
        server.call("crash", {})
    again = server_pid(server)  # started afresh (after the back-off)
    assert again != first and not psutil.pid_exists(first)


def test_the_tool_list_is_cached_and_refreshed_when_the_server_says_it_changed(sessions) -> None:
    server = McpServer("s", SERVER, timeout=PATIENCE_S, sessions=sessions)
    assert [t.name for t in server.list_tools()] == ["pid", "learn", "crash"]
    assert server.call("learn", {"name": "echo"}).text == "learned echo"

    def names() -> list[str]:
        return [t.name for t in server.list_tools()]

    from tests.conftest import wait_for

    assert wait_for(lambda: "echo" in names())  # the notification dropped the cached list
    assert server.call("echo", {}).text == "echo works"


def test_shutdown_ends_every_server_and_a_changed_command_is_a_new_session(sessions) -> None:
    one = server_pid(McpServer("s", SERVER, timeout=PATIENCE_S, sessions=sessions))
    # the same name registered with another command line: a new session, and stop() ends the old one
    other = McpServer("s", [*SERVER, "--unused"], timeout=PATIENCE_S, sessions=sessions)
    assert server_pid(other) != one
    other.stop()
    assert sessions.keys() == []
    assert not psutil.pid_exists(one) or psutil.Process(one).status() == psutil.STATUS_ZOMBIE
    two = server_pid(McpServer("s", SERVER, timeout=PATIENCE_S, sessions=sessions))
    sessions.shutdown()
    assert not psutil.pid_exists(two) or psutil.Process(two).status() == psutil.STATUS_ZOMBIE


@pytest.fixture
def http_server():
    token = "s3cret-token"
    process = subprocess.Popen([*SERVER, "--http", token], stdout=subprocess.PIPE, text=True)
    port = int(process.stdout.readline())
    yield f"http://127.0.0.1:{port}/mcp", token
    process.terminate()  # open streams get a second to close (the server's graceful shutdown), then it ends
    process.wait(PATIENCE_S)


def test_a_remote_server_is_called_with_its_token_from_the_keychain(sessions, http_server, monkeypatch) -> None:
    url, token = http_server
    monkeypatch.setenv("MCP_TOKEN", token)  # an env: key name is read like a keychain entry, at connect time
    server = McpServer("remote", RemoteServer(url, token_key="env:MCP_TOKEN"), timeout=PATIENCE_S, sessions=sessions)
    assert [t.name for t in server.list_tools()] == ["pid", "learn", "crash"]
    assert server_pid(server) == server_pid(server)

    wrong = McpServer("nokey", RemoteServer(url), timeout=PATIENCE_S, sessions=sessions)
    with pytest.raises(ToolError, match="Tool server 'nokey' failed to list its tools.*Check its URL and token"):
        wrong.list_tools()


def test_remote_servers_are_registered_by_url_and_listed(home, http_server) -> None:
    url, token = http_server
    env = {**os.environ, "MCP_TOKEN": token}
    added = run_cli("tools", "add", "remote", "--url", url, "--token-key", "env:MCP_TOKEN", env=env)
    assert added.returncode == 0, added.stderr
    assert "Registered 'remote' with 3 tools: pid, learn, crash." in added.stdout
    listed = run_cli("tools", "ls", env=env).stdout
    assert f"remote: {url}  (running; granted to: nobody)" in listed and "remote.learn" in listed

    refused = run_cli("tools", "add", "leaky", "--url", "http://192.0.2.1/mcp", "--token-key", "env:MCP_TOKEN")
    assert refused.returncode == 9 and "unencrypted" in refused.stderr
    neither = run_cli("tools", "add", "neither")
    assert neither.returncode == 2 and "one of the two" in neither.stderr
    bad = run_cli("tools", "add", "bad", "--url", url, "--header", "no colon")
    assert bad.returncode == 2 and "is not a header" in bad.stderr


def test_a_plain_http_token_is_refused_off_this_machine() -> None:
    with pytest.raises(ToolError, match="unencrypted to example.com"):
        check_remote("x", RemoteServer("http://example.com/mcp", token_key="k"))
    assert check_remote("x", RemoteServer("http://localhost:9/mcp", token_key="k")).url.startswith("http://")
    with pytest.raises(ToolError, match="is not an http"):
        check_remote("x", RemoteServer("file:///etc/passwd"))


def test_a_server_nobody_here_wrote_is_registered_and_called(home) -> None:
    """`mcp-server-time` from PyPI (a test dependency), over stdio, through the CLI and a kept session."""
    time_server = str(Path(sys.executable).with_name("mcp-server-time"))
    added = run_cli("tools", "add", "time", "--", time_server, "--local-timezone", "UTC")
    assert added.returncode == 0, added.stderr
    assert "get_current_time" in added.stdout and "convert_time" in added.stdout
    server = McpServer("time", [time_server, "--local-timezone", "UTC"], timeout=PATIENCE_S)
    try:
        result = server.call("get_current_time", {"timezone": "Asia/Tokyo"})
        assert not result.is_error and json.loads(result.text)["timezone"] == "Asia/Tokyo"
        converted = server.call(
            "convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
        )
        assert json.loads(converted.text)["target"]["datetime"].startswith(time.strftime("%Y-"))
        assert "T21:00:00" in json.loads(converted.text)["target"]["datetime"]
    finally:
        server.stop()
