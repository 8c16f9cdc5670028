"""Copilots that are Agent2Agent (A2A) agents: the Agent Card, `message/stream` (or `message/send` when
the agent does not stream), task states and artifacts mapped to events, `tasks/cancel` on Stop.
Speaks A2A 0.3 (slash methods, `kind` fields) and 1.0 (PascalCase methods, `A2A-Version: 1.0`)."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from app.core.providers.base import CancelToken, ChatRequest, Done, Error, Event, Status, TextDelta
from app.core.providers.bounds import AGENT_REPLY_CHARS, guarded
from app.core.providers.http import (
    REPLY_DEADLINE_S,
    Remote,
    RemoteError,
    ReplyGuard,
    one_line,
    parse_event_json,
    reply_deadline,
    sse_events,
)
from app.core.providers.speakers import HUMAN, lines, sentence

CARD_PATHS = (".well-known/agent-card.json", ".well-known/agent.json")
_METHODS = {
    "0.3": {"stream": "message/stream", "send": "message/send", "cancel": "tasks/cancel"},
    "1.0": {"stream": "SendStreamingMessage", "send": "SendMessage", "cancel": "CancelTask"},
}
_DONE, _FAILED, _CANCELED, _NEEDS_INPUT = (
    "completed",
    ("failed", "rejected"),
    "canceled",
    ("input-required", "auth-required"),
)
_ids = itertools.count(1)


def read_card(remote: Remote, guard: ReplyGuard | None = None) -> dict[str, Any]:
    """The agent's card, from the current well-known path or the one before A2A 0.3."""
    for path in CARD_PATHS:
        try:
            card = remote.get_json(path, guard=guard)
            break
        except RemoteError as exc:
            if exc.kind != "not_found" or path == CARD_PATHS[-1]:
                raise
    if not isinstance(card, dict) or not card.get("name") or not isinstance(card["name"], str):
        raise RemoteError(
            f"The agent card at {remote.base_url} has no 'name': it is not an A2A agent card.", "protocol"
        )
    return card


def card_endpoint(card: dict[str, Any]) -> tuple[str, str]:
    """(JSON-RPC URL, protocol version) from a 0.3 or 1.0 card; RemoteError naming the missing field.

    A 1.0 card lists its interfaces in the agent's order of preference, each with its own `protocolVersion`:
    the first JSON-RPC one at a version Roundtable speaks is used, at that version."""
    interfaces = card.get("supportedInterfaces")
    if isinstance(interfaces, list):
        offered = []
        for interface in _dicts(interfaces):
            if interface.get("protocolBinding", "JSONRPC") != "JSONRPC" or not _is_http_url(interface.get("url")):
                continue
            version = _version(interface.get("protocolVersion", "1.0"))
            if version in _METHODS:
                return interface["url"], version
            offered.append(one_line(interface.get("protocolVersion"), 20))
        if offered:
            raise RemoteError(
                f"The agent card of '{card['name'][:80]}' offers JSON-RPC only at A2A {', '.join(offered)};"
                f" Roundtable speaks {' and '.join(_METHODS)}.",
                "protocol",
            )
        raise RemoteError(
            f"The agent card of '{card['name'][:80]}' lists no JSON-RPC interface with a 'url' (http or https).",
            "protocol",
        )
    if not _is_http_url(card.get("url")):
        raise RemoteError(
            f"The agent card of '{card['name'][:80]}' has no 'url' (http or https) to send messages to.", "protocol"
        )
    return card["url"], "0.3"


def _version(value: Any) -> str:
    """A protocol version as major.minor ("0.3.0" -> "0.3", "1.0.1" -> "1.0"): patch releases speak alike."""
    return ".".join(str(value).strip().split(".")[:2])


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a list an agent sent; anything else in their place is skipped."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _is_http_url(value: Any) -> bool:
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def _obj(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object; an agent's wrong type reads as an empty one."""
    return value if isinstance(value, dict) else {}


def _state(status: Any) -> str:
    state = str(_obj(status).get("state", ""))[:40]
    return state.removeprefix("TASK_STATE_").lower().replace("_", "-")


def _text(parts: Any) -> str:
    texts = []
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "".join(texts)


class A2AProvider:
    """An A2A agent as a copilot.

    Attributes:
        remote: where the agent card is served.
    """

    supports_tools = False
    supports_json_schema = False
    pins_named_tools = False
    replayable = False

    def __init__(
        self,
        endpoint: str,
        key_name: str | None = None,
        *,
        trust_card_origins: bool = False,
        deadline_s: float = REPLY_DEADLINE_S,
        copilot_id: str | None = None,
    ) -> None:
        self.remote = Remote.for_agent(
            endpoint, key_name, trust_card_origins=trust_card_origins, deadline_s=deadline_s, copilot_id=copilot_id
        )
        self.card: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any], services: Any) -> A2AProvider:
        if not config.get("endpoint"):
            raise RemoteError(f"Copilot '{config.get('id')}' has no endpoint: set one with --a2a URL.", "rejected")
        return cls(
            config["endpoint"],
            config.get("api_key_name"),
            trust_card_origins=bool(config.get("trust_card_origins")),
            deadline_s=reply_deadline(services),
            copilot_id=config.get("id"),
        )

    def provenance(self) -> dict[str, Any]:

        return {}  # a remote agent's model and files are its own


    def describe(self) -> dict[str, Any]:
        return {"provider": "a2a", "endpoint": self.remote.base_url, "agent": (self.card or {}).get("name")}

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Event]:
        guard = self.remote.guard(AGENT_REPLY_CHARS, " in one reply, the most Roundtable keeps from an agent")
        return guarded(self._stream(request, cancel, guard), cancel, guard, self.remote.secrets())

    def _stream(self, request: ChatRequest, cancel: CancelToken, guard: ReplyGuard) -> Iterator[Event]:
        if self.card is None:
            self.card = read_card(self.remote, guard)
        url, version = card_endpoint(self.card)
        # the card names where to send messages; nothing goes to another origin unless the user agreed
        rpc = self.remote.at(url, {"A2A-Version": "1.0"} if version == "1.0" else None)
        capabilities = self.card.get("capabilities")
        streaming = isinstance(capabilities, dict) and capabilities.get("streaming") is True
        params = {"message": self._message(request, version)}
        tracker = _Tracker()
        # Stop may be pressed on the GUI thread: the agent is told in the background
        cancel.on_cancel(
            lambda: threading.Thread(
                target=self._cancel_task, args=(rpc, version, tracker.task_id), daemon=True
            ).start()
        )
        if streaming:
            body = _envelope(_METHODS[version]["stream"], params)
            for _name, data in sse_events(rpc.stream_lines("", body, cancel, guard), url):
                yield from tracker.take(_result(parse_event_json(data, url)))
        else:
            body = _envelope(_METHODS[version]["send"], params)
            yield from tracker.take(_result(rpc.post_json("", body, cancel, guard)))
        if not cancel.cancelled:
            yield from tracker.finish()

    def _message(self, request: ChatRequest, version: str) -> dict[str, Any]:
        """The conversation as one user message, since A2A agents keep no transcript of ours: the question
        (the last line) as it was asked, in the last text part; the lines before it, each under its author's
        name once, in a text part ahead of it."""
        said = lines(request.messages)
        texts = [said[-1].text] if said else [""]
        if len(said) > 1:
            earlier = "\n\n".join(f"{line.author or HUMAN}: {line.text}" for line in said[:-1])
            texts.insert(0, f"Earlier in this conversation:\n\n{earlier}\n")
        if version == "1.0":
            return {"messageId": str(uuid.uuid4()), "role": "ROLE_USER", "parts": [{"text": t} for t in texts]}
        return {
            "kind": "message",
            "messageId": str(uuid.uuid4()),
            "role": "user",
            "parts": [{"kind": "text", "text": t} for t in texts],
        }

    def _cancel_task(self, rpc: Remote, version: str, task_id: str | None) -> None:
        if task_id is None:
            return
        try:
            rpc.post_json("", _envelope(_METHODS[version]["cancel"], {"id": task_id}))
        except RemoteError:
            pass  # best effort: the stream is closed on our side either way


class _Tracker:
    """Follows one task through its events: text to show, and how it ended."""

    def __init__(self) -> None:
        self.task_id: str | None = None
        self.state = ""
        self.final_message = ""
        self.streamed = False

    def take(self, result: dict[str, Any]) -> Iterator[Event]:
        kind = result.get("kind")
        if not isinstance(kind, str) or not kind:
            kind = next((k for k in ("task", "message", "statusUpdate", "artifactUpdate") if k in result), "")
        wrapped = kind in ("task", "message", "statusUpdate", "artifactUpdate")
        body = _obj(result.get(kind, result)) if wrapped else result
        if kind in ("task",):
            self._task(body.get("id"))
            self._status(body.get("status"))
            for artifact in _dicts(body.get("artifacts")):
                yield from self._text(_text(artifact.get("parts")))
        elif kind == "message":
            yield from self._text(_text(body.get("parts")))
            self.state = self.state or _DONE
        elif kind in ("status-update", "statusUpdate"):
            self._task(body.get("taskId"))
            message = self._status(body.get("status"))
            if message and self.state not in (_DONE, *_FAILED, *_NEEDS_INPUT):
                yield Status(message)
        elif kind in ("artifact-update", "artifactUpdate"):
            self._task(body.get("taskId"))
            yield from self._text(_text(_obj(body.get("artifact")).get("parts")))

    def _task(self, task_id: Any) -> None:
        if isinstance(task_id, str) and task_id:
            self.task_id = task_id

    def _status(self, status: Any) -> str:
        self.state = _state(status) or self.state
        message = _text(_obj(_obj(status).get("message")).get("parts"))
        if message:
            self.final_message = message
        return message

    def _text(self, text: str) -> Iterator[Event]:
        if text:
            self.streamed = True
            yield TextDelta(text)

    def finish(self) -> Iterator[Event]:
        if self.state in _FAILED:
            reason = one_line(self.final_message) or "no reason given"
            yield Error(sentence(f"The agent's task {self.state}: {reason}"), "remote")
            return
        if self.state == _CANCELED:
            yield Done("cancelled")
            return
        if self.state in _NEEDS_INPUT:
            yield Status(f"The agent needs more from you ({self.state}): answer in the thread.")
        elif self.state not in (_DONE, ""):
            yield Error(f"The agent's stream ended while its task was still '{self.state}'.", "network")
            return
        if not self.streamed and self.final_message:
            yield TextDelta(self.final_message)
        yield Done("stop")


def _envelope(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params}


def _result(envelope: Any) -> dict[str, Any]:
    if not isinstance(envelope, dict):
        raise RemoteError("The agent answered with something that is not a JSON-RPC object.", "protocol")
    if "error" in envelope:
        error = envelope["error"] if isinstance(envelope["error"], dict) else {"message": envelope["error"]}
        said = one_line(error.get("message", "error"))
        raise RemoteError(f"The agent refused the request: {said} (code {str(error.get('code'))[:20]}).", "remote")
    result = envelope.get("result")
    if not isinstance(result, dict):
        raise RemoteError("The agent's JSON-RPC answer has no result.", "protocol")
    return result
