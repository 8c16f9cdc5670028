"""What a crew run reports as it goes, and what its thread's event log reads back as.

Every event names its author; `type` is the JSON event type (`--json` prints `to_dict()` per line). The same
classes are written to the store and rebuilt from it (`from_row`, `events_from_row`), so the live view, the
reloaded view, the CLI and the Markdown export all draw one shape (see `crew/transcript.py`).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, TypeVar

from app.core.providers.base import Citation, Event, FieldError, Status, Usage

# The stored `events.type` of a message's first and last rows. Stored on disk: never change or reuse values.
MESSAGE_START = "message.start"
MESSAGE_END = "message.end"


@dataclass
class CrewEvent(Event):
    """An event of a crew run; `author` is the copilot it concerns (`router` for routing and `done`).

    A logged one (route, handoff, tool) is one row of the thread's event log: `stored_data` is its JSON
    `data`, and `from_row` rebuilds the same object from the row.
    """

    author: str
    # JSON name -> its key in the stored `data`, where the two differ (stored on disk: never change)
    stored_names: ClassVar[dict[str, str]] = {}
    # stored keys an older or hand-made row may leave out, and what they read as
    stored_defaults: ClassVar[dict[str, Any]] = {}

    def stored_data(self) -> dict[str, Any]:
        """The row's JSON `data`: every field but `author`, which has its own column."""
        data = self.fields()
        del data["author"]
        return {self.stored_names.get(key, key): value for key, value in data.items()}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        """The event an event-log row (`type`, `author`, `data`) was written from; FieldError if it is malformed."""
        data: dict[str, Any] = row.get("data") or {}
        if not isinstance(data, dict):
            raise FieldError("data", "not an object")
        renamed = {cls.stored_names.get(k, k): k for k in cls.fields_json_names()}
        fields = {renamed.get(key, key): value for key, value in data.items() if key != "author"}
        # the author column may be empty in a hand-made archive: an event without an author still shows
        return cls.from_dict({**cls.stored_defaults, **fields, "author": row.get("author") or ""})

    @classmethod
    def fields_json_names(cls) -> list[str]:
        """The JSON names of this event's fields."""
        return [cls.json_names.get(name, name) for name in cls.__dataclass_fields__]


@dataclass
class RouteDecision(CrewEvent):
    """Who answers the user's message, and why (`by`: mention, router, fallback, only, asked)."""

    type: ClassVar[str] = "route"
    stored_defaults: ClassVar[dict[str, Any]] = {"by": ""}
    copilot: str
    reason: str
    by: str


@dataclass
class PlanEvent(CrewEvent):
    """The steps a request was cut into, in order, before work starts: each `{copilot, task, by}` (`by`: mention,
    named, router, fallback, only) with the board's task for it (`task_id`)."""

    type: ClassVar[str] = "plan"
    steps: list[dict[str, Any]]


@dataclass
class RoundtableEvent(CrewEvent):
    """Roundtable mode: every one of `copilots` answers the question on its own, then `moderator` sums up."""

    type: ClassVar[str] = "roundtable"
    copilots: list[str]
    moderator: str


@dataclass
class LimitEvent(CrewEvent):
    """A run limit ended the run: `limit` is max_turns, max_hops or token_budget; `value` the limit, `used` what
    the run had used when it stopped."""

    type: ClassVar[str] = "limit"
    limit: str
    value: int
    used: int
    message: str


@dataclass
class MessageEvent(CrewEvent):
    """A message started (`status` streaming) or was stored with its final status, usage and citations."""

    type: ClassVar[str] = "message"
    message_id: str
    status: str
    usage: Usage | None = None
    citations: list[Citation] = field(default_factory=list)


@dataclass
class CrewText(CrewEvent):
    """Text of a message as it streams (a stored message reads back as one per checkpoint)."""

    type: ClassVar[str] = "text"
    message_id: str
    delta: str


@dataclass
class CrewStatus(CrewEvent):
    """Progress worth showing while nothing else arrives ("Choosing a copilot")."""

    type: ClassVar[str] = "status"
    message: str


@dataclass
class HandoffEvent(CrewEvent):
    """A handoff a copilot asked for: `accepted` (a task was made) or `rejected` with the reason.

    `refusal` says what kind of rejection (`rejected`, `hop_limit`); `raw` is the call as the model wrote it.
    """

    type: ClassVar[str] = "handoff"
    json_names: ClassVar[dict[str, str]] = {"from_": "from"}
    stored_names: ClassVar[dict[str, str]] = {"refusal": "kind"}
    from_: str
    to: str
    task: str
    status: str
    reason: str | None = None
    task_id: str | None = None
    context: str | None = None
    refusal: str | None = None
    raw: str | None = None

    def __post_init__(self) -> None:
        if self.status != "accepted" and not isinstance(self.reason, str):  # a handoff not followed says why
            raise FieldError("reason", "missing or not text")


@dataclass
class ConsultEvent(CrewEvent):
    """A copilot consulted another: `asked` (the question went out), `answered` (the reply `message_id` went back
    to the asker as a tool result; the asker keeps its turn) or `rejected` with the reason.

    `refusal` says what kind of rejection (`rejected`, `hop_limit`, `max_turns`); `raw` is the call as written.
    """

    type: ClassVar[str] = "consult"
    json_names: ClassVar[dict[str, str]] = {"from_": "from"}
    stored_names: ClassVar[dict[str, str]] = {"refusal": "kind"}
    from_: str
    to: str
    question: str
    status: str
    reason: str | None = None
    message_id: str | None = None
    refusal: str | None = None
    raw: str | None = None

    def __post_init__(self) -> None:
        if self.status == "rejected" and not isinstance(self.reason, str):  # a consult not made says why
            raise FieldError("reason", "missing or not text")


@dataclass
class TaskEvent(CrewEvent):
    """A task on the board changed: `pending` when handed off, `working`, then `done` or `failed`."""

    type: ClassVar[str] = "task"
    json_names: ClassVar[dict[str, str]] = {"from_": "from"}
    task_id: str
    status: str
    from_: str
    to: str


@dataclass
class CrewError(CrewEvent):
    """A reply failed or was cut off; what arrived is stored with the reason."""

    type: ClassVar[str] = "error"
    message: str
    kind: str
    thread_id: str
    message_id: str | None
    status: str


@dataclass
class RunDone(CrewEvent):
    """The crew has nothing more to do for this message. Ids and usage are those of the last reply."""

    type: ClassVar[str] = "done"
    thread_id: str
    message_id: str | None
    status: str
    usage: Usage | None
    messages: list[str] = field(default_factory=list)
    hops: int = 0
    stopped_by: str | None = None  # the run limit that ended the run, if one did


@dataclass
class ToolEvent(CrewEvent):
    """A copilot's call of an MCP tool: `called`, then `done`, `failed` (with the reason) or `refused`."""

    type: ClassVar[str] = "tool"
    stored_defaults: ClassVar[dict[str, Any]] = {"call_id": "", "arguments": None}
    tool: str
    call_id: str
    status: str
    arguments: dict[str, Any] | None
    result: str | None = None


# the run events a thread's log holds under their own type
LOGGED: dict[str, type[CrewEvent]] = {
    cls.type: cls
    for cls in (RouteDecision, PlanEvent, RoundtableEvent, HandoffEvent, ConsultEvent, ToolEvent, LimitEvent)
}


def message_end_data(event: MessageEvent, trace: dict[str, Any], error: CrewError | None = None) -> dict[str, Any]:
    """The `data` of a reply's `message.end` row: its trace (with the usage in it), citations, and error."""
    data: dict[str, Any] = {"trace": {**trace, **(event.usage.fields() if event.usage else {})}}
    if error is not None:
        data["error"] = error.message
        data["error_kind"] = error.kind
    if event.citations:
        data["citations"] = [citation.fields() for citation in event.citations]
    return data


def events_from_row(row: Mapping[str, Any]) -> list[CrewEvent]:
    """The run events one event-log row stands for, as a live run reported them; [] for other rows.

    A logged row reads as its event; a `message.end` row as the reply's error (if it failed) then its final
    status. Raises FieldError when a row is malformed (an imported archive).
    """
    type_, data = row.get("type"), row.get("data") or {}
    if not isinstance(data, dict):
        raise FieldError("data", "not an object")
    if type_ in LOGGED:
        return [LOGGED[type_].from_row(row)]
    if type_ != MESSAGE_END:
        return []
    author, message_id, thread_id = row.get("author") or "", row.get("message_id"), row.get("thread_id")
    return message_events(author, message_id, thread_id, "", data.get("status"), data)[2:]


def message_events(
    author: str, message_id: Any, thread_id: Any, text: str, status: Any, data: Mapping[str, Any]
) -> list[CrewEvent]:
    """A stored message as the events a live run reported for it: started, its text, its error, its end.

    `data` is what `message.end` stored (`message_end_data`): the trace holds the usage. Raises FieldError
    when something in it is malformed (an imported archive).
    """
    trace = data.get("trace") or {}
    if not isinstance(trace, dict):
        raise FieldError("trace", "not an object")
    figures = {key: trace[key] for key in Usage.__dataclass_fields__ if key in trace}
    usage = figures if "prompt_tokens" in figures else None
    where = {"author": author, "message_id": message_id}
    events: list[CrewEvent] = [
        MessageEvent.from_dict({**where, "status": "streaming"}),
        CrewText.from_dict({**where, "delta": text}),
    ]
    if data.get("error") is not None:
        error = {"message": data["error"], "kind": data.get("error_kind", "error"), "status": status}
        events.append(CrewError.from_dict({**error, **where, "thread_id": thread_id}))
    final = {**where, "status": status, "usage": usage, "citations": data.get("citations") or []}
    events.append(MessageEvent.from_dict(final))
    return events


T = TypeVar("T")


def statuses_as(author: str, steps: Generator[Event, None, T]) -> Generator[Event, None, T]:
    """Run `steps` (a decision a model makes), its statuses shown as `author`'s; returns what it returns."""
    while True:
        try:
            event = next(steps)
        except StopIteration as stop:
            value: T = stop.value
            return value
        yield CrewStatus(author, event.message) if isinstance(event, Status) else event
