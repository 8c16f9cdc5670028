"""What a crew run reports as it goes: every event names its author. `type` is the JSON event type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from app.core.providers.base import Event


@dataclass
class RouteDecision(Event):
    """Who answers the user's message, and why (`by`: mention, router, only, asked)."""

    type: ClassVar[str] = "route"
    author: str
    copilot: str
    reason: str
    by: str


@dataclass
class MessageEvent(Event):
    """A message started (`status` streaming) or was stored with its final status."""

    type: ClassVar[str] = "message"
    author: str
    message_id: str
    status: str
    usage: dict[str, Any] | None = None


@dataclass
class CrewText(Event):
    type: ClassVar[str] = "text"
    author: str
    message_id: str
    delta: str


@dataclass
class CrewStatus(Event):
    type: ClassVar[str] = "status"
    author: str
    message: str


class _FromField:
    """`from` is a Python keyword: the field is `from_` here and `from` in JSON."""

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()  # type: ignore[misc]
        data["from"] = data.pop("from_")
        return data


@dataclass
class HandoffEvent(_FromField, Event):
    """A handoff a copilot asked for: `accepted` (a task was made) or `rejected` with the reason."""

    type: ClassVar[str] = "handoff"
    author: str
    from_: str
    to: str
    task: str
    status: str
    reason: str | None = None
    task_id: str | None = None


@dataclass
class TaskEvent(_FromField, Event):
    type: ClassVar[str] = "task"
    author: str
    task_id: str
    status: str
    from_: str
    to: str


@dataclass
class CrewError(Event):
    """A reply failed or was cut off; what arrived is stored with the reason."""

    type: ClassVar[str] = "error"
    author: str
    message: str
    kind: str
    thread_id: str
    message_id: str | None
    status: str


@dataclass
class RunDone(Event):
    """The crew has nothing more to do for this message. Ids and usage are those of the last reply."""

    type: ClassVar[str] = "done"
    author: str
    thread_id: str
    message_id: str | None
    status: str
    usage: dict[str, Any] | None
    messages: list[str] = field(default_factory=list)
    hops: int = 0


@dataclass
class ToolEvent(Event):
    """A copilot's call of an MCP tool: `called`, then `done`, `failed` (with the reason) or `refused`."""

    type: ClassVar[str] = "tool"
    author: str
    tool: str
    call_id: str
    status: str
    arguments: dict[str, Any] | None
    result: str | None = None
