"""API keys live in a real Secret Service (GNOME Keyring on a private D-Bus) and nowhere else."""

import json
import os
from pathlib import Path

from tests.conftest import run_cli
from tests.loopback import Response, sse

PLANTED = "sk-PLANTED-5f0c1e9a7b3d4c2e8f6a"


def files_containing(folder: Path, needle: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_key_is_used_from_the_keychain_and_never_written_anywhere_else(
    home, tmp_path, server, secret_service
) -> None:
    chunks = [sse(None, {"choices": [{"index": 0, "delta": {"content": "Hello."}, "finish_reason": "stop"}]})]
    answers = [Response(401, {"error": {"message": f"Incorrect API key provided: {PLANTED}"}})]
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: answers.pop(0) if answers else Response(chunks=chunks)

    saved = run_cli("keys", "set", "quant-key", input=PLANTED + "\n")
    assert saved.returncode == 0, saved.stderr
    assert run_cli("copilots", "add", "quant", "--openai", server.url, "--api-key-name", "quant-key").returncode == 0

    refused = run_cli("ask", "--copilot", "quant", "--json", "Hi")
    assert refused.returncode == 8 and "refused the key 'quant-key'" in refused.stderr
    assert "roundtable keys set quant-key" in refused.stderr
    answered = run_cli("ask", "--copilot", "quant", "Hi again")
    assert answered.returncode == 0 and "Hello." in answered.stdout
    assert server.requests[-1].headers["Authorization"] == f"Bearer {PLANTED}"

    listed = run_cli("keys", "ls", "--json")
    assert json.loads(listed.stdout) == [{"name": "quant-key", "used_by": ["quant"]}]
    exported = run_cli("copilots", "export", "quant", "-o", str(tmp_path / "quant.toml"))
    assert exported.returncode == 0 and 'api_key_name = "quant-key"' in (tmp_path / "quant.toml").read_text()
    run_cli("threads", "show", json.loads(run_cli("threads", "ls", "--json").stdout)[0]["id"], "--trace")

    outputs = [saved, refused, answered, listed, exported]
    assert not [r for r in outputs if PLANTED in r.stdout + r.stderr]
    assert files_containing(home, PLANTED.encode()) == []  # database, WAL, settings, cache
    assert files_containing(tmp_path, PLANTED.encode()) == []

    assert run_cli("keys", "rm", "quant-key").returncode == 0
    gone = run_cli("ask", "--copilot", "quant", "Hi")
    assert gone.returncode == 7 and "No key named 'quant-key'" in gone.stderr


def test_without_a_keychain_nothing_is_stored_and_the_message_offers_an_environment_variable(home, server) -> None:
    environment = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"}
    refused = run_cli("keys", "set", "quant-key", input=PLANTED + "\n", env=environment)
    assert refused.returncode == 7
    assert "No usable keychain" in refused.stderr and "env:" in refused.stderr
    assert not files_containing(home, PLANTED.encode())

    chunks = [sse(None, {"choices": [{"index": 0, "delta": {"content": "Hi."}, "finish_reason": "stop"}]})]
    server.routes[("POST", "/v1/chat/completions")] = lambda _r: Response(chunks=chunks)
    run_cli("copilots", "add", "quant", "--openai", server.url, "--api-key-name", "env:QUANT_KEY")
    missing = run_cli("ask", "--copilot", "quant", "Hi", env=environment)
    assert missing.returncode == 7 and "QUANT_KEY is not set" in missing.stderr
    answered = run_cli("ask", "--copilot", "quant", "Hi", env={**environment, "QUANT_KEY": PLANTED})
    assert answered.returncode == 0 and server.requests[-1].headers["Authorization"] == f"Bearer {PLANTED}"
    assert not files_containing(home, PLANTED.encode())


def test_bad_key_names_are_refused() -> None:
    for bad in ("has space", "env:1BAD", "x" * 65):
        result = run_cli("copilots", "add", "quant", "--openai", "http://127.0.0.1:9", "--api-key-name", bad)
        assert result.returncode == 2 and ("key name" in result.stderr or "environment variable" in result.stderr)
