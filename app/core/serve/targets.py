"""What an API call names (`copilot:`, `crew:`, `model:`) and the stored run that answers it.

A call's `messages`: the last one must be the user's, and is the prompt; the user and assistant turns before it
start the new thread as its history (`engine.new_thread`). The client's system messages are the instructions of a
`model:` call; a copilot or a crew keeps its own (`system_prompt`), so there they are left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.crew.copilots import Copilot, SamplingConfig, find_copilot
from app.core.crew.engine import CrewRun
from app.core.crew.runs import ask, new_thread, run_task
from app.core.hub.installed import installed_models
from app.core.providers.base import CancelToken, ChatMessage, Event
from app.core.serve.wire import ApiError, ChatCompletionRequest, WireMessage
from app.core.store.workspaces import API_WORKSPACE, QUICK_ASK_WORKSPACE

if TYPE_CHECKING:
    from app.core.context import AppContext

COPILOT, CREW, MODEL = "copilot", "crew", "model"
# the author of a `model:` call's reply: no copilot answers it. Stored on disk: never change.
MODEL_AUTHOR = "api-model"
_HIDDEN_WORKSPACES = {API_WORKSPACE, QUICK_ASK_WORKSPACE}  # hold single asks, not crews of their own


def model_list(ctx: AppContext) -> list[dict[str, Any]]:
    """`GET /v1/models`: every copilot, every workspace's crew and every installed model on disk."""
    names = [f"{COPILOT}:{c.id}" for c in ctx.copilots()]
    names += [f"{CREW}:{w['id']}" for w in ctx.store.workspaces() if w["id"] not in _HIDDEN_WORKSPACES]
    names += [f"{MODEL}:{m.id}" for m in installed_models(ctx) if m.present and not m.adapter]
    return [{"id": name, "object": "model", "created": 0, "owned_by": "roundtable"} for name in names]


def not_found(model: str) -> ApiError:
    return ApiError(
        404,
        f"No model '{model}': use copilot:<id>, crew:<workspace> or model:<installed id> (GET /v1/models lists them).",
        code="model_not_found",
        param="model",
    )


@dataclass
class Conversation:
    """A request's messages as a run takes them."""

    prompt: str
    history: list[ChatMessage]
    instructions: str

    @classmethod
    def of(cls, messages: list[WireMessage], assistant: str) -> Conversation:
        """The prompt (the last message, the user's), the turns before it (an assistant's under `assistant`) and
        the system text."""
        *earlier, last = messages
        if last.role != "user":
            raise ApiError(400, "The last message must be the user's: it is the prompt.", param="messages")
        history = [
            ChatMessage("user", m.text(), "user") if m.role == "user" else ChatMessage("assistant", m.text(), assistant)
            for m in earlier
            if m.role in ("user", "assistant") and m.text()
        ]
        instructions = "\n\n".join(m.text() for m in earlier if m.role in ("system", "developer") and m.text())
        return cls(last.text(), history, instructions)


def start_run(ctx: AppContext, request: ChatCompletionRequest, cancel: CancelToken) -> Iterator[Event]:
    """The run answering `request`, stored like any other: `copilot:` and `model:` calls in the API workspace,
    `crew:` calls in theirs. Tools run only where the workspace allows them always (never asked: nobody is there
    to answer). Raises ApiError 404 for an unknown target, and whatever the run raises before it starts."""
    kind, _, ref = request.model.partition(":")
    if kind == COPILOT:
        copilot = find_copilot(ctx.copilots(), ref)
        if copilot is None:
            raise not_found(request.model)
        talk = Conversation.of(request.messages, copilot.id)
        ctx.store.ensure_workspace(API_WORKSPACE)
        return ask(
            ctx,
            talk.prompt,
            copilot_id=copilot.id,
            cancel=cancel,
            workspace_id=API_WORKSPACE,
            max_tokens=request.reply_tokens,
            history=talk.history,
        )
    if kind == CREW:
        workspace = ctx.store.find_workspace(ref) if ref else None
        if workspace is None or workspace["id"] in _HIDDEN_WORKSPACES:
            raise not_found(request.model)
        talk = Conversation.of(request.messages, "assistant")
        return run_task(
            ctx,
            talk.prompt,
            workspace=workspace["id"],
            cancel=cancel,
            max_tokens=request.reply_tokens,
            history=talk.history,
        )
    if kind == MODEL and ref and ctx.store.get_model(ref) is not None:
        return _model_run(ctx, ref, request, cancel)
    raise not_found(request.model)


def _model_run(ctx: AppContext, model_id: str, request: ChatCompletionRequest, cancel: CancelToken) -> Iterator[Event]:
    """An installed model on its own: the client's instructions and sampling, the settings' defaults otherwise."""
    talk = Conversation.of(request.messages, MODEL_AUTHOR)
    defaults = SamplingConfig()
    sampling = SamplingConfig(
        temperature=defaults.temperature if request.temperature is None else request.temperature,
        top_p=request.top_p or defaults.top_p,
        max_tokens=request.reply_tokens,
        seed=request.seed,
    )
    answerer = Copilot(
        id=MODEL_AUTHOR,
        name=f"Model {model_id}"[:60],
        model=model_id,
        system_prompt=talk.instructions,
        sampling=sampling,
    )
    ctx.store.ensure_workspace(API_WORKSPACE)
    if not talk.prompt.strip():
        raise ApiError(400, "The prompt (the last user message) is empty.", param="messages")
    thread = new_thread(ctx, talk.prompt, API_WORKSPACE, talk.history)
    run = CrewRun(ctx, thread.id, [answerer], max_hops=0, cancel=cancel, workspace_id=API_WORKSPACE)
    return run.handle(talk.prompt, responders=[answerer])
