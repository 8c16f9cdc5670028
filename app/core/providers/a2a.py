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
from app.core.providers.http import Remote, RemoteError, guarded, parse_event_json, sse_events
from app.core.secrets import auth_headers

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


def read_card(remote: Remote) -> dict[str, Any]:
    """The agent's card, from the current well-known path or the one before A2A 0.3."""
    for path in CARD_PATHS:
        try:
            card = remote.get_json(path)
            break
        except RemoteError as exc:
            if exc.kind != "not_found" or path == CARD_PATHS[-1]:
                raise
    if not isinstance(card, dict) or not card.get("name"):
        raise RemoteError(
            f"The agent card at {remote.base_url} has no 'name': it is not an A2A agent card.", "protocol"
        )
    return card


def card_endpoint(card: dict[str, Any]) -> tuple[str, str]:
    """(JSON-RPC URL, protocol version) from a 0.3 or 1.0 card; RemoteError naming the missing field."""
    interfaces = card.get("supportedInterfaces")
    if isinstance(interfaces, list):
        for interface in interfaces:
            if (
                isinstance(interface, dict)
                and interface.get("protocolBinding", "JSONRPC") == "JSONRPC"
                and interface.get("url")
            ):
                return interface["url"], "1.0"
        raise RemoteError(f"The agent card of '{card['name']}' lists no JSON-RPC interface with a 'url'.", "protocol")
    if not card.get("url"):
        raise RemoteError(f"The agent card of '{card['name']}' has no 'url' to send messages to.", "protocol")
    return card["url"], "0.3"


def _state(status: dict[str, Any] | None) -> str:
    state = str((status or {}).get("state", ""))
    return state.removeprefix("TASK_STATE_").lower().replace("_", "-")


def _text(parts: Any) -> str:
    texts = []
    for part in parts or []:
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

    def __init__(self, endpoint: str, key_name: str | None = None) -> None:
        self.remote = Remote(endpoint, auth_headers(key_name), key_name)
        self.card: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any], _services: Any) -> A2AProvider:
        if not config.get("endpoint"):
            raise RemoteError(f"Copilot '{config.get('id')}' has no endpoint: set one with --a2a URL.", "rejected")
        return cls(config["endpoint"], config.get("api_key_name"))

    def describe(self) -> dict[str, Any]:
        return {"provider": "a2a", "endpoint": self.remote.base_url, "agent": (self.card or {}).get("name")}

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Event]:
        return guarded(self._stream(request, cancel), cancel)

    def _stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Event]:
        if self.card is None:
            self.card = read_card(self.remote)
        url, version = card_endpoint(self.card)
        rpc = Remote(
            url,
            {**self.remote.headers, **({"A2A-Version": "1.0"} if version == "1.0" else {})},
            self.remote.key_name,
            self.remote.read_timeout,
        )
        streaming = bool((self.card.get("capabilities") or {}).get("streaming"))
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
            for _name, data in sse_events(rpc.stream_lines("", body, cancel)):
                yield from tracker.take(_result(parse_event_json(data, url)))
        else:
            body = _envelope(_METHODS[version]["send"], params)
            yield from tracker.take(_result(rpc.post_json("", body, cancel)))
        if not cancel.cancelled:
            yield from tracker.finish()

    def _message(self, request: ChatRequest, version: str) -> dict[str, Any]:
        """The conversation as one user message: A2A agents keep no transcript of ours."""
        lines = [
            m.content if m.role == "user" and not m.name else f"{m.name or m.role}: {m.content}"
            for m in request.messages
            if m.role != "system" and m.content
        ]
        text = (
            lines[-1]
            if len(lines) == 1
            else "Conversation so far:\n" + "\n\n".join(lines[:-1]) + f"\n\nNow: {lines[-1]}"
        )
        if version == "1.0":
            return {"messageId": str(uuid.uuid4()), "role": "ROLE_USER", "parts": [{"text": text}]}
        return {
            "kind": "message",
            "messageId": str(uuid.uuid4()),
            "role": "user",
            "parts": [{"kind": "text", "text": text}],
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
        kind = result.get("kind") or next(
            (k for k in ("task", "message", "statusUpdate", "artifactUpdate") if k in result), ""
        )
        body = result.get(kind, result) if kind in ("task", "message", "statusUpdate", "artifactUpdate") else result
        if kind in ("task",):
            self.task_id = body.get("id") or self.task_id
            self._status(body.get("status"))
            for artifact in body.get("artifacts") or []:
                yield from self._text(_text(artifact.get("parts")))
        elif kind == "message":
            yield from self._text(_text(body.get("parts")))
            self.state = self.state or _DONE
        elif kind in ("status-update", "statusUpdate"):
            self.task_id = body.get("taskId") or self.task_id
            message = self._status(body.get("status"))
            if message and self.state not in (_DONE, *_FAILED, *_NEEDS_INPUT):
                yield Status(message)
        elif kind in ("artifact-update", "artifactUpdate"):
            self.task_id = body.get("taskId") or self.task_id
            yield from self._text(_text((body.get("artifact") or {}).get("parts")))

    def _status(self, status: dict[str, Any] | None) -> str:
        self.state = _state(status) or self.state
        message = _text(((status or {}).get("message") or {}).get("parts"))
        if message:
            self.final_message = message
        return message

    def _text(self, text: str) -> Iterator[Event]:
        if text:
            self.streamed = True
            yield TextDelta(text)

    def finish(self) -> Iterator[Event]:
        if self.state in _FAILED:
            yield Error(f"The agent's task {self.state}: {self.final_message or 'no reason given'}.", "remote")
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
        raise RemoteError(
            f"The agent refused the request: {error.get('message', 'error')} (code {error.get('code')}).", "remote"
        )
    result = envelope.get("result")
    if not isinstance(result, dict):
        raise RemoteError("The agent's JSON-RPC answer has no result.", "protocol")
    return result
