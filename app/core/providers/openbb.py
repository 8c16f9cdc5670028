"""Copilots that are OpenBB Workspace custom agents (`agents.json`), or legacy Terminal Pro copilots
(`copilots.json`). Roundtable plays the part of Workspace: it sends the whole conversation, reads the SSE
events, and answers the agent's `get_widget_data` calls with the workspace data the user shares."""

from __future__ import annotations

import json
import uuid
from collections.abc import Generator, Iterator
from typing import Any

from app.core.providers.base import (
    CancelToken,
    ChatMessage,
    ChatRequest,
    Citation,
    Done,
    Error,
    Event,
    Status,
    TextDelta,
)
from app.core.providers.bounds import AGENT_REPLY_CHARS, guarded
from app.core.providers.http import (
    REPLY_DEADLINE_S,
    Remote,
    RemoteError,
    ReplyGuard,
    parse_event_json,
    reply_deadline,
    sse_events,
)
from app.core.providers.speakers import HUMAN, Line, lines

MAX_FUNCTION_CALLS = 4  # round trips per reply; the protocol sets no cap
THREAD_WIDGET = "roundtable-thread"
DOCUMENTS_WIDGET = "roundtable-documents"
_EXCERPT_CHARS = 12_000


def discover(remote: Remote, guard: ReplyGuard | None = None) -> tuple[dict[str, Any], bool]:
    """The agents the server offers (`agents.json`, else legacy `copilots.json`), and whether legacy."""
    try:
        return _agents(remote.get_json("agents.json", guard=guard)), False
    except RemoteError as exc:
        if exc.kind != "not_found":
            raise
    return _agents(remote.get_json("copilots.json", guard=guard)), True


def _agents(listing: Any) -> dict[str, Any]:
    if not isinstance(listing, dict) or not all(isinstance(v, dict) for v in listing.values()) or not listing:
        raise RemoteError("The agent list is not an object of agents keyed by id.", "protocol")
    return listing


class OpenBBProvider:
    """An OpenBB agent as a copilot.

    Attributes:
        remote: the agent's server.
        agent_id: which agent of the server's `agents.json` answers (the first one when unset).
    """

    supports_tools = False
    supports_json_schema = False
    pins_named_tools = False
    replayable = False

    def __init__(
        self,
        endpoint: str,
        agent_id: str | None = None,
        key_name: str | None = None,
        *,
        trust_card_origins: bool = False,
        deadline_s: float = REPLY_DEADLINE_S,
        copilot_id: str | None = None,
    ) -> None:
        self.remote = Remote.for_agent(
            endpoint, key_name, trust_card_origins=trust_card_origins, deadline_s=deadline_s, copilot_id=copilot_id
        )
        self.agent_id = agent_id
        self._answering: str | None = None  # the agent that answers: agent_id, or the server's first one
        self._query: str | None = None
        self._legacy = False

    @classmethod
    def from_config(cls, config: dict[str, Any], services: Any) -> OpenBBProvider:
        if not config.get("endpoint"):
            raise RemoteError(f"Copilot '{config.get('id')}' has no endpoint: set one with --openbb URL.", "rejected")
        return cls(
            config["endpoint"],
            config.get("agent"),
            config.get("api_key_name"),
            trust_card_origins=bool(config.get("trust_card_origins")),
            deadline_s=reply_deadline(services),
            copilot_id=config.get("id"),
        )

    def provenance(self) -> dict[str, Any]:

        return {}  # a remote agent's model and files are its own


    def describe(self) -> dict[str, Any]:
        return {"provider": "openbb", "endpoint": self.remote.base_url, "agent": self.agent_id}

    def agent(self, guard: ReplyGuard | None = None) -> tuple[str, dict[str, Any]]:
        """This copilot's agent id and descriptor, read from the server."""
        agents, self._legacy = discover(self.remote, guard)
        agent_id = self.agent_id or next(iter(agents))
        if agent_id not in agents:
            raise RemoteError(f"The server has no agent '{agent_id}' (it has: {', '.join(agents)}).", "not_found")
        descriptor = agents[agent_id]
        endpoints = descriptor.get("endpoints")
        query = endpoints.get("query") if isinstance(endpoints, dict) else None
        if not isinstance(query, str) or not query:
            raise RemoteError(f"Agent '{agent_id}' names no query endpoint in its descriptor.", "protocol")
        self._query = query
        self._answering = agent_id
        return agent_id, descriptor

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Event]:
        guard = self.remote.guard(AGENT_REPLY_CHARS, " in one reply, the most Roundtable keeps from an agent")
        return guarded(self._stream(request, cancel, guard), cancel, guard, self.remote.secrets())

    def _stream(self, request: ChatRequest, cancel: CancelToken, guard: ReplyGuard) -> Iterator[Event]:
        if self._query is None or self._answering is None:
            self.agent(guard)
        assert self._answering is not None
        messages = [_wire(line, self._answering) for line in lines(request.messages)]
        widgets = [_widget(THREAD_WIDGET, "Roundtable thread", "The conversation so far, with every message's author.")]
        if request.documents:
            about = "Passages of the workspace's documents that match the question, with where each is from."
            widgets.append(_widget(DOCUMENTS_WIDGET, "Workspace documents", about))
        for _ in range(MAX_FUNCTION_CALLS + 1):
            call = yield from self._one_query(messages, widgets, cancel, guard)
            if cancel.cancelled:
                return
            if call is None:
                yield Done("stop")
                return
            messages += _answer_call(call, request, self._legacy)
            yield Status(f"Sharing {call.get('function')} with the agent")
        yield Error(f"The agent asked for data more than {MAX_FUNCTION_CALLS} times in one reply.", "protocol")

    def _one_query(
        self, messages: list[dict[str, Any]], widgets: list[dict[str, Any]], cancel: CancelToken, guard: ReplyGuard
    ) -> Generator[Event, None, dict[str, Any] | None]:
        """POST the conversation; yield its events; return a function call the agent asked for, if any."""
        assert self._query is not None
        body: dict[str, Any] = {"messages": messages}
        if self._legacy:
            body["widgets"] = [{k: w[k] for k in ("uuid", "name", "description", "metadata")} for w in widgets]
        else:
            body["widgets"] = {"primary": widgets, "secondary": [], "extra": []}
            body["timezone"] = "UTC"
        call = None
        lines = self.remote.stream_lines(self._query, body, cancel, guard)
        for name, data in sse_events(lines, self.remote.base_url):
            if name not in _KNOWN:
                continue  # newer event types are ignored, as the protocol allows
            payload = parse_event_json(data, self.remote.base_url)
            if not isinstance(payload, dict):
                continue
            if name == "copilotMessageChunk":
                yield TextDelta(str(payload.get("delta", "")))
            elif name == "copilotStatusUpdate" and payload.get("message"):
                yield Status(str(payload["message"]))
            elif name == "copilotCitationCollection":
                for citation in _dicts(payload.get("citations")):
                    yield _citation(citation)
            elif name == "copilotMessageArtifact":
                yield TextDelta(_artifact_text(payload))
            elif name == "copilotFunctionCall":
                call = payload  # the agent closes the stream next and waits for a new query
        return call


_KNOWN = {
    "copilotMessageChunk",
    "copilotStatusUpdate",
    "copilotCitationCollection",
    "copilotMessageArtifact",
    "copilotFunctionCall",
}


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a list an agent sent; anything else in their place is skipped."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _wire(line: Line, agent_id: str) -> dict[str, Any]:
    """A transcript line as OpenBB's `LlmClientMessage`: copilots' replies are `ai` messages with their author's
    agent id (the agent's own earlier replies with its own id, as Workspace sends them); the rest is `human`."""
    if line.speaker == "self":
        return {"role": "ai", "content": line.text, "agent_id": agent_id}
    if line.speaker == "copilot":
        return {"role": "ai", "content": line.text, "agent_id": line.author}
    return {"role": "human", "content": line.text}


_OUR_WIDGETS = {THREAD_WIDGET: "Roundtable thread", DOCUMENTS_WIDGET: "Workspace documents"}


def _citation(citation: dict[str, Any]) -> Citation:
    """A citation labelled from what it names: its source's name, else the widget it cites (ours by their
    names, others by id or origin), else its kind of source."""
    info = _obj(citation.get("source_info"))
    widget_id = info.get("widget_id") if isinstance(info.get("widget_id"), str) else None
    ours = _OUR_WIDGETS.get(widget_id or "") or _OUR_WIDGETS.get(_widget_ids().get(str(info.get("uuid")), ""))
    label = next(
        (str(v) for v in (info.get("name"), ours, widget_id, info.get("origin"), info.get("type")) if v),
        "source",
    )
    return Citation(label[:200], json.dumps(citation.get("details") or []), widget_id)


def _obj(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object; an agent's wrong type reads as an empty one."""
    return value if isinstance(value, dict) else {}


def _widget_ids() -> dict[str, str]:
    """Our widgets' ids by the uuid we give them."""
    return {_uuid(w): w for w in _OUR_WIDGETS}


def _uuid(widget_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, widget_id))


def _widget(widget_id: str, name: str, description: str) -> dict[str, Any]:
    return {
        "uuid": _uuid(widget_id),
        "origin": "Roundtable",
        "widget_id": widget_id,
        "name": name,
        "description": description,
        "params": [],
        "metadata": {},
    }


def _excerpt(messages: list[ChatMessage]) -> str:
    """The thread as the thread widget's data: each line once under its author's name."""
    return "\n\n".join(f"{line.author or HUMAN}: {line.text}" for line in lines(messages))[-_EXCERPT_CHARS:]


def _shared(widget_id: Any, request: ChatRequest) -> tuple[str, bool]:
    """What Roundtable shares for a widget the agent asked for, and whether it may be cited."""
    widget_id = _widget_ids().get(str(widget_id), widget_id)
    if widget_id in (THREAD_WIDGET, None):
        return _excerpt(request.messages), True
    if widget_id == DOCUMENTS_WIDGET and request.documents:
        passages = [
            f"[{n}] {d['source']}{', ' + d['location'] if d.get('location') else ''}:\n{d['text']}"
            for n, d in enumerate(request.documents, 1)
        ]
        return "\n\n".join(passages), True
    return f"No widget '{widget_id}' is shared by Roundtable.", False


def _answer_call(call: dict[str, Any], request: ChatRequest, legacy: bool) -> list[dict[str, Any]]:
    """The `ai` message echoing the agent's call and the `tool` message with its result."""
    function = call.get("function")
    arguments = call.get("input_arguments")
    arguments = arguments if isinstance(arguments, dict) else {}
    echo = {"role": "ai", "content": json.dumps({"function": function, "input_arguments": arguments})}
    if function != "get_widget_data":
        error = {"error_type": "unsupported", "content": f"Roundtable does not offer '{function}'."}
        return [echo, {"role": "tool", "function": function, "input_arguments": arguments, "data": [error]}]
    if legacy:
        content, _citable = _shared(arguments.get("widget_uuid"), request)
        return [echo, {"role": "tool", "function": function, "data": {"content": content}}]
    items = []
    for source in _dicts(arguments.get("data_sources")) or [{}]:
        content, citable = _shared(source.get("widget_id") or source.get("id") or source.get("widget_uuid"), request)
        items.append(
            {"content": content, "data_format": {"data_type": "object", "parse_as": "text"}, "citable": citable}
        )
    result = {"role": "tool", "function": function, "input_arguments": arguments, "data": [{"items": items}]}
    return [echo, {**result, "extra_state": call.get("extra_state") or {}}]


def _artifact_text(artifact: dict[str, Any]) -> str:
    """A table, chart or text artifact as Markdown, so every view can show it: rows as a table (a chart says
    what it plots above its data), text as it is; an artifact of another shape is named only."""
    name = _cell(artifact.get("name") or "Artifact")
    content = artifact.get("content")
    rows = _dicts(content)
    if isinstance(content, list) and rows:
        plots = _plots(_obj(artifact.get("chart_params"))) if artifact.get("type") == "chart" else ""
        return f"\n\n**{name}**{plots}\n\n{_table(rows)}\n"
    if isinstance(content, str) and content:
        return f"\n\n**{name}**\n\n{content}\n"
    return ""


def _plots(params: dict[str, Any]) -> str:
    """What a chart plots, in words: "line chart of coupon by bond"."""
    kind = _cell(params.get("chartType") or "")
    measures = params.get("yKey")
    measured = ", ".join(_cell(m) for m in (measures if isinstance(measures, list) else [params.get("angleKey")]) if m)
    against = params.get("xKey") or params.get("calloutLabelKey")
    if not kind:
        return " (chart)"
    of = f" of {measured}" if measured else ""
    by = f" by {_cell(against)}" if against else ""
    return f" ({kind} chart{of}{by})"


def _table(rows: list[dict[str, Any]]) -> str:
    """Rows as a Markdown table, with every column any row has."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    """A value on one line of a Markdown table: line breaks collapsed, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")
