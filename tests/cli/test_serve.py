"""`roundtable serve` as a user runs it: the token in a real keychain, the URL printed, curl, Ctrl+C, a taken
port, and a remote address refused without --allow-remote."""

from __future__ import annotations

import json
import signal
import socket
import subprocess

from app.core.errors import ExitCode
from tests.conftest import PATIENCE_S, REPO, cli_command, run_cli


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_token_is_made_once_kept_and_replaced_on_request(secret_service) -> None:
    first = run_cli("serve", "token")
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert len(token) >= 40
    assert run_cli("serve", "token").stdout.strip() == token
    replaced = run_cli("serve", "token", "--new").stdout.strip()
    assert replaced and replaced != token
    assert run_cli("serve", "token").stdout.strip() == replaced


def test_serve_prints_its_url_answers_curl_and_stops_on_ctrl_c(secret_service) -> None:
    token = run_cli("serve", "token").stdout.strip()
    port = _free_port()
    server = subprocess.Popen(
        cli_command("serve", "--port", str(port)), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        first = server.stdout.readline()
        assert f"http://127.0.0.1:{port}/v1" in first
        health = subprocess.run(
            ["curl", "-s", "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}/health"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert json.loads(health.stdout)["status"] == "ok"

        taken = run_cli("serve", "--port", str(port))
        assert taken.returncode == ExitCode.USAGE
        assert taken.stderr.count("\n") == 1 and f"Port {port} on 127.0.0.1 is in use" in taken.stderr
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=PATIENCE_S)
    assert server.returncode == 0, err
    assert "Stopped." in out


def test_another_interface_needs_allow_remote(home) -> None:
    refused = run_cli("serve", "--host", "0.0.0.0")
    assert refused.returncode == ExitCode.USAGE and "--allow-remote" in refused.stderr
