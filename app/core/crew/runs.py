"""Starting a crew run: who takes part (`participants_for`), a new thread with an outside conversation's history
(`new_thread`), one copilot asked (`ask`) and a task worked by the crew (`run_task`); the run itself is
`engine.CrewRun`."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from app.core.crew.copilots import Copilot, find_copilot
from app.core.crew.engine import CrewRun
from app.core.crew.routing import mentions, roundtable_question
from app.core.crew.tools import Approver
from app.core.errors import UsageError
from app.core.providers.base import CancelToken, ChatMessage, Event
from app.core.store import Thread
from app.core.store.workspaces import DEFAULT_WORKSPACE

if TYPE_CHECKING:  # the context imports the crew: a type only, never at run time
    from app.core.context import AppContext

_log = logging.getLogger(__name__)  # unconfigured -> the message alone, on standard error


def participants_for(ctx: AppContext, workspace_id: str, copilot_ids: list[str] | None) -> list[Copilot]:
    """The copilots of a run: those named, else the workspace's roster less its damaged rows (each one warned of)."""
    listed = ctx.copilot_list()
    everyone = listed.copilots
    ids = copilot_ids or ctx.store.roster(workspace_id) or [c.id for c in everyone]
    chosen = []
    for ref in ids:
        copilot = find_copilot(everyone, ref)
        if copilot is not None:
            chosen.append(copilot)
            continue
        shown = ref if ref.isprintable() else ascii(ref)  # written by hand into the database: anything at all
        fix = f"`roundtable copilots rm {shown}` removes it"
        if ref in listed.damaged_ids and not copilot_ids:
            # a damaged row never locks a workspace: it sits the run out, and the user is told how to remove it
            _log.warning(f"Copilot '{shown}' on the roster of '{workspace_id}' is damaged, left out of the run: {fix}.")
        elif ref in listed.damaged_ids:
            raise UsageError(f"Copilot '{shown}' is damaged and cannot run: {fix}.")
        else:
            raise UsageError(f"No copilot '{shown}' (known: {', '.join(c.id for c in everyone)}).")
    if not chosen:
        raise UsageError(
            f"No copilot on the roster of '{workspace_id}' can run: name some with `roundtable run --copilots ID,...`."
        )
    return chosen


def new_thread(ctx: AppContext, title: str, workspace_id: str, history: Sequence[ChatMessage] = ()) -> Thread:
    """A new thread in `workspace_id` holding `history`, the earlier turns of a conversation held elsewhere (an
    API client's `messages`): each a complete message, a user's as the user's, any other under its `name`."""
    thread = ctx.store.create_thread(title, workspace_id)
    for turn in history:
        role = "user" if turn.role == "user" else "assistant"
        ctx.store.add_message(thread.id, "user" if role == "user" else turn.name or turn.role, role, turn.content)
    return thread


def ask(
    ctx: AppContext,
    prompt: str,
    *,
    copilot_id: str | None = None,
    thread_id: str | None = None,
    model: str | None = None,
    cancel: CancelToken | None = None,
    workspace_id: str = DEFAULT_WORKSPACE,
    approve: Approver | None = None,
    max_tokens: int | None = None,
    history: Sequence[ChatMessage] = (),
) -> Iterator[Event]:
    """Ask one copilot (or the copilots the prompt @mentions), without handoffs; yields the run's events.

    A new thread goes into `workspace_id`, starting with `history` (see `new_thread`); `thread_id` continues a
    thread where it is. `max_tokens` caps each reply (`CrewRun`).

    Unknown ids and mentions raise UsageError before anything is stored. Once the question is stored, every
    outcome is stored too: complete, interrupted (cancel, crash) or failed (with the reason).
    """
    if not prompt.strip():
        raise UsageError("Nothing to ask: give a prompt as an argument or on standard input.")
    everyone = ctx.copilots()
    named = mentions(prompt, everyone)
    if roundtable_question(prompt) is not None:  # @all: the workspace's roster, every one of them
        named = participants_for(ctx, workspace_id, None)
    chosen = ctx.copilot(copilot_id)
    thread = ctx.store.get_thread(thread_id) if thread_id else None
    for copilot in named or [chosen]:
        ctx.provider_for(copilot, model)  # an unknown model id fails here, before anything is stored
    if thread is None:
        thread = new_thread(ctx, prompt, workspace_id, history)
    run = CrewRun(
        ctx,
        thread.id,
        named or [chosen],
        max_hops=0,
        cancel=cancel,
        model=model,
        workspace_id=thread.workspace_id,
        approve=approve,
        max_tokens=max_tokens,
    )
    yield from run.handle(prompt, responders=None if named else [chosen])


def run_task(
    ctx: AppContext,
    task: str,
    *,
    workspace: str | None = None,
    copilot_ids: list[str] | None = None,
    max_hops: int | None = None,
    cancel: CancelToken | None = None,
    approve: Approver | None = None,
    max_tokens: int | None = None,
    history: Sequence[ChatMessage] = (),
    max_turns: int | None = None,
    token_budget: int | None = None,
    roundtable: bool = False,
    moderator: str | None = None,
) -> Iterator[Event]:
    """Start a thread in a workspace with `task` and let the crew work until nobody has more to do.

    The thread starts with `history` (see `new_thread`); `max_tokens` caps each reply, `max_turns` and
    `token_budget` the run (`CrewRun`; unset: the settings'). `roundtable`: every participant answers, then
    `moderator` (a copilot id; default: the default copilot) sums up.
    """
    if not task.strip():
        raise UsageError("Nothing to do: give the task as an argument or on standard input.")
    workspace_id = DEFAULT_WORKSPACE
    if workspace:
        found = ctx.store.find_workspace(workspace)
        workspace_id = found["id"] if found else ctx.store.create_workspace(workspace)
        if not found:
            ctx.store.set_roster(workspace_id, [c.id for c in participants_for(ctx, DEFAULT_WORKSPACE, copilot_ids)])
    participants = participants_for(ctx, workspace_id, copilot_ids)
    chair = ctx.copilot(moderator) if moderator else None  # an unknown one fails before anything is stored
    # an unknown mention, or an imported remote copilot not yet confirmed, fails before anything is stored
    ctx.confirm_endpoints([*participants, *mentions(task, ctx.copilots())])
    thread = new_thread(ctx, task, workspace_id, history)
    hops = ctx.settings.max_hops if max_hops is None else max_hops
    run = CrewRun(
        ctx,
        thread.id,
        participants,
        max_hops=hops,
        cancel=cancel,
        workspace_id=workspace_id,
        approve=approve,
        max_tokens=max_tokens,
        max_turns=max_turns,
        token_budget=token_budget,
    )
    yield from run.handle(task, roundtable=roundtable, moderator=chair)
