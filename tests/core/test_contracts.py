"""Declared contracts: the capabilities the crew reads, and the one table of exit codes."""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from app.core import errors
from app.core.errors import ExitCode, RoundtableError, exit_code_for_kind
from app.core.hub.client import HubError
from app.core.hub.download import DownloadCancelled
from app.core.providers.base import Provider
from app.core.providers.http import RemoteError
from app.core.secrets import KeychainError
from app.core.tools.mcp import ToolError

REPO = Path(__file__).resolve().parents[2]
CAPABILITIES = [name for name, kind in Provider.__annotations__.items() if kind in ("bool", bool)]


def test_the_protocol_declares_every_capability_the_crew_reads() -> None:
    assert set(CAPABILITIES) >= {"supports_tools", "supports_json_schema"}
    crew = "\n".join(p.read_text() for p in (REPO / "app/core/crew").glob("*.py"))
    read = set(re.findall(r"provider\.(supports_\w+)", crew))
    assert read <= set(CAPABILITIES)  # a capability the crew reads is a member of the protocol
    assert "getattr(provider" not in crew  # read directly: a missing one fails loudly, never a silent default


@pytest.mark.parametrize("entry", entry_points(group="roundtable.providers"), ids=lambda e: e.name)
def test_every_provider_declares_every_capability(entry) -> None:
    provider_class = entry.load()
    for capability in CAPABILITIES:
        assert isinstance(getattr(provider_class, capability, None), bool), f"{entry.name} lacks {capability}"


def test_every_error_class_takes_its_code_from_the_table() -> None:
    classes = [RoundtableError, HubError, DownloadCancelled, KeychainError, RemoteError, ToolError]
    classes += [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, RoundtableError)]
    for error_class in classes:
        assert isinstance(error_class.exit_code, ExitCode), error_class
    assert (HubError.exit_code, KeychainError.exit_code, RemoteError.exit_code) == (6, 7, 8)
    assert (ToolError.exit_code, DownloadCancelled.exit_code) == (9, 130)


def test_the_codes_users_and_scripts_know_never_change() -> None:
    # stored in scripts and documented in the README: never change or reuse a value
    assert {c.name: c.value for c in ExitCode} == {
        "OK": 0, "FAILED": 1, "USAGE": 2, "STORE": 3, "MODEL_FILE": 4, "MODEL_CRASHED": 5, "HUB": 6,
        "KEYCHAIN": 7, "REMOTE": 8, "TOOL": 9, "INTERNAL": 70, "INTERRUPTED": 130,
    }  # fmt: skip
    assert exit_code_for_kind("crashed") == 5 and exit_code_for_kind("context") == 2
    assert exit_code_for_kind("rate_limit") == 8 and exit_code_for_kind("something new") == ExitCode.FAILED


def test_the_cli_keeps_no_table_of_its_own() -> None:
    for module in (REPO / "app/cli").glob("*.py"):
        source = module.read_text()
        assert not re.search(r"^_?[A-Z_]*EXIT[A-Z_]* *[:=]", source, re.MULTILINE), module.name  # no constants
        assert not re.search(r"return (1[0-9]{2}|[1-9])\b", source), module.name  # no bare numbers


def test_the_architecture_map_lists_the_same_codes() -> None:
    text = (REPO / "docs/architecture.md").read_text()
    section = text[text.index("## 6. Exit codes") : text.index("## 7.")]
    listed = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}
    assert listed == {c.value for c in ExitCode}
