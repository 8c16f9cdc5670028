"""A stand-in for a remote copilot with native tool calls (the far side of a network), scripted per test.

Each reply is a dict: `text`, and `calls`: handoff arguments (a dict, or with `"tool": "consult"` a consult's), or a
string for raw, malformed JSON. A copilot in `barriers` waits there for the others sharing it: requests made one
after another never get past it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar

from app.core.providers import register_provider
from app.core.providers.base import CancelToken, ChatRequest, Done, Event, TextDelta, ToolCall, Usage


class ScriptedRemote:
    """Answers from `scripts[copilot id]`, one entry per reply, the last one repeating."""

    supports_tools = True
    supports_json_schema = True  # as an OpenAI-compatible endpoint says; its script answers any schema
    pins_named_tools = False
    replayable = False
    scripts: ClassVar[dict[str, list[dict]]] = {}
    requests: ClassVar[list[tuple[str, ChatRequest]]] = []
    barriers: ClassVar[dict[str, threading.Barrier]] = {}  # copilot id -> where its requests wait for others

    def __init__(self, copilot_id: str) -> None:
        self.copilot_id = copilot_id

    @classmethod
    def from_config(cls, config: dict[str, Any], _services: Any) -> ScriptedRemote:
        return cls(config["id"])

    def provenance(self) -> dict[str, Any]:

        return {}  # a remote agent's model and files are its own


    def describe(self) -> dict[str, Any]:
        return {"provider": "scripted-remote", "endpoint": "https://agents.example.test"}

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Event]:
        self.requests.append((self.copilot_id, replace(request, messages=list(request.messages))))  # as it was sent
        if self.copilot_id in self.barriers:
            self.barriers[self.copilot_id].wait(timeout=60)  # BrokenBarrierError: the others never came
        script = self.scripts[self.copilot_id]
        reply = script.pop(0) if len(script) > 1 else script[0]
        for word in reply.get("text", "").split(" "):
            if cancel.cancelled:  # a real client closes the connection
                yield Done("cancelled")
                return
            yield TextDelta(word + " ")
        for index, call in enumerate(reply.get("calls", [])):
            if not request.tools:
                break  # offered no tools: a real endpoint could not call one
            arguments = None if isinstance(call, str) else {k: v for k, v in call.items() if k != "tool"}
            raw = call if isinstance(call, str) else json.dumps(arguments)
            name = "handoff" if isinstance(call, str) else call.get("tool", "handoff")
            yield ToolCall(f"call_{index}", name, arguments, raw)
        yield Usage(10, 5)
        yield Done("tool_calls" if reply.get("calls") else "stop")


register_provider("scripted-remote", ScriptedRemote)


def add_remote(ctx: Any, copilot_id: str, script: list[dict], handoff_to: list[str]) -> None:
    """Add a scripted remote copilot to the store and the default roster."""
    ScriptedRemote.scripts[copilot_id] = script
    manifest = {
        "id": copilot_id,
        "name": copilot_id.title(),
        "provider": "scripted-remote",
        "description": f"Remote {copilot_id}",
        "handoff_to": handoff_to,
    }
    ctx.store.save_copilot(copilot_id, manifest["name"], manifest)
