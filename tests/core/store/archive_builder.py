"""Workspace archives built by hand, as someone else's Roundtable (or an attacker) would write them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

STAMP = "2024-05-01T10:00:00.000+00:00"


def content(copilots: list[dict] | None = None, roster: list[str] | None = None, messages: int = 1) -> dict[str, Any]:
    """A valid workspace.json: one thread with `messages` messages, and the given copilots on the roster."""
    copilots = copilots or []
    thread = {"id": "t1", "title": "Bonds", "created_at": STAMP, "updated_at": STAMP}
    rows = [
        {
            "id": f"m{i}",
            "thread_id": "t1",
            "author": "user" if i % 2 == 0 else "analyst",
            "role": "user" if i % 2 == 0 else "assistant",
            "status": "complete",
            "text": f"message {i} about the Zephyr bond",
            "created_at": STAMP,
            "updated_at": STAMP,
            "data": "{}",
        }
        for i in range(messages)
    ]
    events = [
        {"thread_id": "t1", "type": "message.start", "message_id": m["id"], "author": m["author"], "created_at": STAMP}
        for m in rows
    ]
    return {
        "workspace": {"id": "finance", "name": "Finance", "created_at": STAMP},
        "roster": roster if roster is not None else [c["id"] for c in copilots],
        "copilots": copilots,
        "threads": [thread],
        "messages": rows,
        "events": events,
        "tasks": [],
        "documents": [],
        "chunks": [],
    }


def manifest(version: int = 1) -> dict[str, Any]:
    return {"format": "roundtable-workspace", "version": version, "roundtable": "0.1.0", "exported_at": STAMP}


def write_archive(path: Path, workspace: Any = None, meta: Any = None, extra: dict[str, bytes] | None = None) -> Path:
    """A zip with manifest.json and workspace.json (JSON values, or raw bytes as given), plus `extra` members."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, value in (("manifest.json", manifest() if meta is None else meta), ("workspace.json", workspace)):
            if value is not None:
                archive.writestr(name, value if isinstance(value, bytes) else json.dumps(value))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def remote_copilot(copilot_id: str, endpoint: str, **fields: Any) -> dict[str, Any]:
    """An OpenAI-compatible copilot as an archive would carry it, with a key name and tools."""
    return {
        "id": copilot_id,
        "name": copilot_id.title(),
        "provider": "openai",
        "endpoint": endpoint,
        "model": "q",
        "api_key_name": "env:ROUNDTABLE_TEST_SECRET",
        "tools": ["bonds"],
        "description": "Answers about bonds.",
        **fields,
    }
