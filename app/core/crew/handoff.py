"""Handoffs: the tool a copilot calls to pass work on, and the checks made before it is followed."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

from app.core.crew.copilots import Copilot, find_copilot
from app.core.crew.decide import constrained_json
from app.core.providers.base import (
    CancelToken,
    ChatMessage,
    ChatRequest,
    Event,
    Provider,
    Status,
    ToolCall,
    ToolSpec,
)
from app.core.providers.tool_format import new_call_id

HANDOFF_TOOL = "handoff"
_TASK_CHARS = 200
_CONTEXT_CHARS = 400


def target_listing(targets: list[Copilot]) -> str:
    """The copilots work may go to, as a handoff or consult tool and the handoff decision list them."""
    return "; ".join(f"{c.id} ({c.description})" for c in targets)


def handoff_tool(targets: list[Copilot]) -> ToolSpec:
    """The handoff tool offered to a copilot, listing only the copilots it may hand to."""
    listing = target_listing(targets)
    return ToolSpec(
        name=HANDOFF_TOOL,
        description=f"Hand the next part of the work to another copilot (within a plan, to someone other than the "
        f"next step's copilot only with a reason). Copilots: {listing}",
        parameters={
            "type": "object",
            "properties": {
                "to": {"type": "string", "enum": [c.id for c in targets]},
                "task": {"type": "string", "minLength": 1, "maxLength": _TASK_CHARS},
                "context": {"type": "string", "maxLength": _CONTEXT_CHARS},
                "reason": {"type": "string", "maxLength": _CONTEXT_CHARS},
            },
            "required": ["to", "task", "context"],
        },
    )


@dataclass
class Handoff:
    """A checked handoff: the target, what it must do, and the context it was given."""

    target: Copilot
    task: str
    context: str


def handoff_brief(handoff: Handoff, source: str) -> str:
    """What the target of a handoff is asked, after the transcript: the task, and the context it was given."""
    text = f"{source} handed you this task: {handoff.task}"
    if handoff.context:
        text += f"\nContext from {source}: {handoff.context}"
    return text


def check_handoff(
    call: ToolCall, source: Copilot, participants: list[Copilot], everyone: list[Copilot]
) -> Handoff | str:
    """The handoff a call asks for, or why it cannot be followed."""
    if call.arguments is None:
        return f"the handoff was not valid JSON ({call.raw[:80]!r})"
    to, task = call.arguments.get("to"), call.arguments.get("task")
    context = call.arguments.get("context") or ""
    if not isinstance(to, str) or not to.strip():
        return "the handoff names no copilot in 'to'"
    if not isinstance(task, str) or not task.strip():
        return "the handoff gives no task"
    if not isinstance(context, str):
        return "the handoff's context is not text"
    target = check_target(to, source, participants, everyone, "hand off to")
    if isinstance(target, str):
        return target
    return Handoff(target, task.strip()[:_TASK_CHARS], context.strip()[:_CONTEXT_CHARS])


def check_target(
    to: str, source: Copilot, participants: list[Copilot], everyone: list[Copilot], verb: str
) -> Copilot | str:
    """The copilot `source` may pass work to or consult (`verb`: "hand off to", "consult"), or why not: it must
    exist, be another copilot, be listed in the source's `handoff_to`, and take part in the run."""
    target = find_copilot(everyone, to)
    if target is None:
        return f"there is no copilot '{to}'"
    if target.id == source.id:
        return f"a copilot cannot {verb} itself"
    if target.id not in source.handoff_to:
        allowed = ", ".join(source.handoff_to) or "nobody"
        return f"{source.id} may not {verb} {target.id} (allowed: {allowed})"
    if target not in participants:
        return f"{target.id} is not taking part in this run"
    return target


NOBODY = "nobody"
_DECISION_TOKENS = 200
_NEXT_STEP = (
    'Request: "{request}"\n{planned}Copilots who can help: {listing}.\n'
    "Who should do the next part of the request: {nobody} if it is done, or {names}? "
    "Give them the task and the context they need. JSON."
)


def decision_schema(targets: list[Copilot]) -> dict[str, Any]:
    """The JSON schema of a handoff decision: one of `targets` or nobody, a task and its context."""
    return {
        "type": "object",
        "properties": {
            "next": {"type": "string", "enum": [NOBODY] + [c.id for c in targets]},
            "task": {"type": "string", "maxLength": _TASK_CHARS},
            "context": {"type": "string", "maxLength": _CONTEXT_CHARS},
        },
        "required": ["next", "task", "context"],
        "additionalProperties": False,
    }


def decide_handoff(
    provider: Provider,
    request: ChatRequest,
    answer: str,
    user_request: str,
    targets: list[Copilot],
    cancel: CancelToken,
    planned: Sequence[tuple[str, str]] = (),
) -> Generator[Event, None, ToolCall | None]:
    """For a backend without native tool calls: after its answer, ask (constrained by a JSON schema) who
    does the next part. Yields a Status, then returns a handoff ToolCall, or None for nobody.

    `planned`: the request's plan as (copilot, task), all done by now: the question says so."""
    yield Status("Deciding the next step")
    listing = target_listing(targets)
    names = ", ".join(c.id for c in targets)
    steps = "; ".join(f"{who}: {task}" for who, task in planned)
    done = f"Done so far, as planned: {steps}.\n" if planned else ""
    question = _NEXT_STEP.format(request=user_request, planned=done, listing=listing, names=names, nobody=NOBODY)
    messages = [*request.messages, ChatMessage("assistant", answer), ChatMessage("user", question)]
    raw, decision = yield from constrained_json(provider, messages, decision_schema(targets), _DECISION_TOKENS, cancel)
    if not raw:
        return None  # the backend failed: said in a status
    if decision is None:  # cut off at the token cap: reported as a malformed handoff
        return ToolCall(new_call_id(), HANDOFF_TOOL, None, raw)
    if not isinstance(decision, dict) or decision.get("next") in (None, NOBODY):
        return None
    arguments = {"to": decision.get("next"), "task": decision.get("task"), "context": decision.get("context")}
    return ToolCall(new_call_id(), HANDOFF_TOOL, arguments, raw)
