"""The conversation engine: who answers a message, and how plans, handoffs and consults turn into turns.

Rules (see shared/reference/protocols.md, section 3): one copilot owns each turn; the transcript belongs to
the host and every message is tagged with its author; the first handoff in a reply wins; a handoff's target
is checked before use; a hop limit ends runaway chains with a visible event; the target gets the task, the
context it was handed, and the shared transcript. A consult (`crew/consult.py`) is checked and counted like a
handoff, but the asker keeps its turn: the consulted copilot's reply goes back to it as a tool result.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from app.core.crew.consult import (
    ANSWER_CHARS,
    CONSULT_TOOL,
    QUESTION_CHARS,
    check_consult,
    consult_brief,
    consult_tool,
    consulted,
)
from app.core.crew.copilots import Copilot
from app.core.crew.decide import decide_tool
from app.core.crew.events import (
    ConsultEvent,
    CrewError,
    CrewStatus,
    HandoffEvent,
    LimitEvent,
    MessageEvent,
    PlanEvent,
    RoundtableEvent,
    RouteDecision,
    RunDone,
    TaskEvent,
    statuses_as,
)
from app.core.crew.handoff import (
    HANDOFF_TOOL,
    Handoff,
    check_handoff,
    check_target,
    decide_handoff,
    handoff_brief,
    handoff_tool,
)
from app.core.crew.parallel import can_run_together, run_together
from app.core.crew.plan import Step, plan
from app.core.crew.reply import build_request, relay, run_reply
from app.core.crew.routing import ROUNDTABLE_BRIEF, SYNTHESIS_BRIEF, mentions, roundtable_question
from app.core.crew.tools import MAX_TOOL_ROUNDS, Approver, ToolBox
from app.core.errors import RoundtableError
from app.core.knowledge.retrieval import passages_for, with_passages
from app.core.providers.base import (
    CancelToken,
    ChatMessage,
    ChatRequest,
    Event,
    Provider,
    Status,
    ToolCall,
)
from app.core.store import STATUS_COMPLETE
from app.core.store.knowledge import Hit
from app.core.store.workspaces import DEFAULT_WORKSPACE, TASK_DONE, TASK_FAILED, TASK_WORKING

if TYPE_CHECKING:  # the context imports the crew: a type only, never at run time
    from app.core.context import AppContext

ROUTER = "router"


@dataclass
class Turn:
    """One copilot's turn: why it speaks, the task it was handed, if any, and the plan step it does, if any."""

    copilot: Copilot
    why: str
    handoff: Handoff | None = None
    task_id: str | None = None
    from_copilot: str | None = None
    step: int | None = None  # its index in the run's plan
    brief: str | None = None  # what it is asked to do, where no plan step or handoff says it
    until: str | None = None  # the last message of the transcript it sees (None: all of it)
    consulted_by: str | None = None  # the copilot that asked it a question (it answers that, and only that)


class CrewRun:
    """A user message worked through by a crew until no copilot has more to do.

    Attributes:
        participants: the copilots taking part (mentions may add others the user names).
        max_hops: handoffs this run may follow; the next one is refused with a visible event.
        approve: asks the user before a tool call not allowed always here (None: only those allowed always).
        max_tokens: a cap on every reply's length, below the copilots' own (None: theirs).
        max_turns: replies this run may take; token_budget: tokens (prompt and reply) it may use (None: no budget).
        plan: the steps of the user's request, once planned (a multi-step plan is worked in order).
    """

    def __init__(
        self,
        ctx: AppContext,
        thread_id: str,
        participants: list[Copilot],
        *,
        max_hops: int,
        cancel: CancelToken | None = None,
        model: str | None = None,
        workspace_id: str = DEFAULT_WORKSPACE,
        approve: Approver | None = None,
        max_tokens: int | None = None,
        max_turns: int | None = None,
        token_budget: int | None = None,
    ) -> None:
        self.ctx = ctx
        self.max_turns = max_turns or ctx.settings.max_turns
        self.token_budget = token_budget or ctx.settings.run_token_budget
        self.tokens_used = 0
        self.replies: list[str] = []  # the run's replies so far, consulted ones included
        self.plan: list[Step] = []
        self.stopped_by: str | None = None
        self.handoffs_allowed = True
        self.max_tokens = max_tokens
        self.approve = approve
        self.store = ctx.store
        self.thread_id = thread_id
        self.workspace_id = workspace_id
        self.participants = participants
        self.everyone = ctx.copilots()
        self.max_hops = max_hops
        self.cancel = cancel or CancelToken()
        self.model = model
        self.hops = 0
        self.user_request = ""

    def handle(
        self,
        text: str,
        responders: list[Copilot] | None = None,
        roundtable: bool = False,
        moderator: Copilot | None = None,
    ) -> Iterator[Event]:
        """Store the user's message, then run the crew on it. `responders` skips the plan: they answer in turn.
        `roundtable` (or a message opening with `@all` or `/roundtable`): every participant answers, then
        `moderator` (default: the default copilot) sums up."""
        mentions(text, self.everyone)  # an unknown @mention fails before anything is stored
        self.user_request = text
        question = roundtable_question(text)
        message_id = self.store.add_message(self.thread_id, "user", "user", text)
        if roundtable or question is not None:
            self.user_request = question or text
            yield from self._roundtable(message_id, moderator or self._default_copilot())
            return
        if responders:
            yield from self._work(deque(Turn(c, "asked directly") for c in responders))
            return
        steps = yield from self._make_plan(text)
        # a copilot the request names joins the run, to do a step or to be consulted
        for copilot in [step.copilot for step in steps] + consulted(text, self.everyone):
            if copilot not in self.participants:
                self.participants.append(copilot)
        yield from self._work(deque((yield from self._start_plan(steps))))

    def _roundtable(self, message_id: str, moderator: Copilot) -> Iterator[Event]:
        """Roundtable mode: each participant answers the question as the thread stood when it was asked (none
        sees another's answer), one after another; then the moderator writes a synthesis that says who made
        each point. Nobody hands off; the run's limits hold."""
        self.handoffs_allowed = False
        speakers = list(self.participants)
        opened = RoundtableEvent(ROUTER, [c.id for c in speakers], moderator.id)
        self.store.record(self.thread_id, opened)
        yield opened
        names = ", ".join(c.name for c in speakers)
        turns = [
            Turn(c, "roundtable: every copilot answers", brief=ROUNDTABLE_BRIEF, until=message_id) for c in speakers
        ]
        if self.ctx.settings.parallel_roundtable:
            yield from self._answer_together(turns)
        synthesis = SYNTHESIS_BRIEF.format(names=names, question=self.user_request, example=speakers[0].name)
        turns.append(Turn(moderator, "roundtable: the moderator sums up", brief=synthesis))
        yield from self._work(deque(turns))

    def _answer_together(self, turns: list[Turn]) -> Iterator[Event]:
        """Take the turns at the same time where their backends allow it (`crew/parallel.py`), as many as the turn
        limit leaves room for; they are removed from `turns`. Their replies are shown one after another."""
        try:
            providers = [self.ctx.provider_for(turn.copilot, self.model) for turn in turns]
        except RoundtableError:
            return  # said again, and stored, when the copilot's turn comes
        together, why = can_run_together(providers, self.ctx.pool)
        room = self.max_turns - len(self.replies)
        if not together or room < 2:
            if len(turns) > 1:
                yield CrewStatus(ROUTER, f"They answer one after another: {why}")
            return
        yield CrewStatus(ROUTER, f"They answer at the same time: {why}")
        now = turns[:room]
        del turns[:room]
        work = [partial(self._take_turn, turn, deque()) for turn in now]
        for outcome, _, _ in (yield from run_together(work)):
            self._count(outcome)

    def answer(self, copilot: Copilot, why: str = "asked again") -> Iterator[Event]:
        """Let one copilot take a turn on the thread as it stands (Retry after a crash), handoffs included."""
        self.user_request = next(
            (m.text for m in reversed(self.store.messages(self.thread_id)) if m.role == "user"), ""
        )
        yield from self._work(deque([Turn(copilot, why)]))

    def _work(self, queue: deque[Turn]) -> Iterator[Event]:
        last: MessageEvent | None = None
        while queue and not self.cancel.cancelled:
            limit = self._limit_reached(len(self.replies))
            if limit is not None:
                yield limit
                break
            turn = queue.popleft()
            outcome, _, calls = yield from self._take_turn(turn, queue)
            self._count(outcome)
            last = outcome
            follow = yield from self._follow_handoff(turn.copilot, outcome, calls, queue)
            if follow is not None:
                queue.appendleft(follow)  # the target owns the next turn
        for turn in queue:  # plan steps a limit or a cancel left undone
            if turn.task_id:
                self.store.update_task(turn.task_id, TASK_FAILED)
                yield TaskEvent(turn.copilot.id, turn.task_id, TASK_FAILED, turn.from_copilot or "", turn.copilot.id)
        yield RunDone(
            ROUTER,
            self.thread_id,
            last.message_id if last else None,
            last.status if last else "cancelled",
            last.usage if last else None,
            self.replies,
            self.hops,
            self.stopped_by,
        )

    def _count(self, outcome: MessageEvent) -> None:
        """A reply of this run, against its limits."""
        self.replies.append(outcome.message_id)
        if outcome.usage is not None:
            self.tokens_used += outcome.usage.prompt_tokens + outcome.usage.completion_tokens

    def _limit_reached(self, turns: int) -> LimitEvent | None:
        """The event of the run limit that stops the next turn, stored; None while none does."""
        if turns >= self.max_turns:
            limit, value, used = "max_turns", self.max_turns, turns
            message = f"The run stopped: it reached its limit of {value} replies (max turns)."
        elif self.token_budget is not None and self.tokens_used >= self.token_budget:
            limit, value, used = "token_budget", self.token_budget, self.tokens_used
            message = f"The run stopped: it used {used} tokens of its budget of {value}."
        else:
            return None
        return self._stop(LimitEvent(ROUTER, limit, value, used, message))

    def _stop(self, event: LimitEvent) -> LimitEvent:
        self.stopped_by = event.limit
        self.store.record(self.thread_id, event)
        return event

    def _step_task(self, turn: Turn) -> str | None:
        return self.plan[turn.step].task if turn.step is not None else None

    def _brief(self, turn: Turn) -> str | None:
        """What the turn's copilot is asked to do, after the transcript: the task handed to it, or its step of a
        plan (only its own part: the steps after it are others' work)."""
        if turn.handoff is not None:
            return handoff_brief(turn.handoff, turn.from_copilot or "")
        if turn.step is None:
            return turn.brief
        step, later = turn.step, self.plan[turn.step + 1 :]
        # short: a small model repeats what it is told; the steps after this one are only named, as others' work
        text = f"Your part (step {step + 1} of {len(self.plan)}): {self.plan[step].task}"
        return text + (f"\nOnly this part: {later[0].copilot.name} does the next." if later else "")

    def _route(self, copilot: Copilot, reason: str, by: str) -> RouteDecision:
        decision = RouteDecision(ROUTER, copilot.id, reason, by)
        self.store.record(self.thread_id, decision)
        return decision

    def _make_plan(self, text: str) -> Generator[Event, None, list[Step]]:
        """The steps of `text` (`crew/plan.py`): names pinned, the router asked for the rest."""
        default = self._default_copilot()
        provider = self.ctx.provider_for(default, self.model)
        if not provider.supports_json_schema:
            provider = self.ctx.judge(default)
        matcher = self.ctx.skill_matcher().scores if self.ctx.settings.skill_routing else None
        for event in plan(provider, text, self.participants, self.everyone, default, self.cancel, matcher):
            if isinstance(event, list):
                return event
            yield CrewStatus(ROUTER, event.message) if isinstance(event, Status) else event
        raise AssertionError("plan() yields its steps last")

    def _start_plan(self, steps: list[Step]) -> Generator[Event, None, list[Turn]]:
        """Show the plan and make its turns: one step is a route decision; several are a plan whose steps are
        tasks on the board, made before work starts."""
        self.plan = steps
        if len(steps) == 1:
            step = steps[0]
            decision = self._route(step.copilot, step.reason, step.by)
            yield decision
            return [Turn(step.copilot, step.why)]
        turns = []
        for n, step in enumerate(steps):
            task_id = self.store.create_task(self.workspace_id, self.thread_id, "user", step.copilot.id, step.task, "")
            turns.append(Turn(step.copilot, f"step {n + 1} of the plan: {step.task}", None, task_id, "user", n))
        shown = [{**step.fields(), "task_id": turn.task_id} for step, turn in zip(steps, turns, strict=True)]
        planned = PlanEvent(ROUTER, shown)
        self.store.record(self.thread_id, planned)
        yield planned
        for turn in turns:
            yield TaskEvent(turn.copilot.id, turn.task_id or "", "pending", "user", turn.copilot.id)
        return turns

    def _default_copilot(self) -> Copilot:
        preferred = self.ctx.settings.default_copilot
        return next((c for c in self.participants if c.id == preferred), self.participants[0])

    def _take_turn(
        self, turn: Turn, queue: deque[Turn]
    ) -> Generator[Event, None, tuple[MessageEvent, str, list[ToolCall]]]:
        """One copilot's reply (after the tool calls and consults it makes), held back until its handoff is
        decided; returns it with its text and the handoff calls it made."""
        copilot = turn.copilot
        if turn.task_id:
            self.store.update_task(turn.task_id, TASK_WORKING)
            yield TaskEvent(copilot.id, turn.task_id, TASK_WORKING, turn.from_copilot or "", copilot.id)
        targets = [c for c in self.participants if c.id in copilot.handoff_to and c.id != copilot.id]
        # a consulted copilot only answers the question; nobody hands off or consults in a roundtable
        may_consult = self.handoffs_allowed and turn.consulted_by is None
        # a step with more of the plan after it hands on to the plan, not by a decision of its own
        may_hand_off = (
            may_consult and bool(targets) and self.max_hops > 0 and not any(t.step is not None for t in queue)
        )
        request = build_request(
            self.store,
            self.thread_id,
            copilot,
            self.ctx.settings.max_reply_tokens,
            brief=self._brief(turn),
            anti_repeat=self.ctx.settings.anti_repeat,
            until=turn.until,
        )
        if self.max_tokens is not None:  # the caller's cap (an API client's max_tokens) never raises a copilot's
            request.sampling.max_tokens = min(request.sampling.max_tokens, self.max_tokens)
        sources: list[Hit] = []
        question = turn.handoff.task if turn.handoff else self._step_task(turn) or self.user_request
        if turn.consulted_by is not None:
            question = turn.brief or question
        if copilot.reads_documents(self.store.has_documents(self.workspace_id)):
            budget = copilot.context_size or self.ctx.settings.context_size  # characters: about a quarter of it
            sources = passages_for(self.store, self.workspace_id, question, budget, self.ctx.embedder())
            if sources:
                with_passages(request, sources)
                yield CrewStatus(copilot.id, f"Read {len(sources)} passages from the workspace's documents")
        provider = self.ctx.provider_for(copilot, self.model)
        native_tools = provider.supports_tools
        if may_hand_off and native_tools:
            request.tools = [handoff_tool(targets)]
        if may_consult and targets and native_tools:
            request.tools.append(consult_tool(targets))
        toolbox = None
        if copilot.tools and (native_tools or provider.supports_json_schema):
            timeout = self.ctx.settings.tool_timeout_s
            toolbox = ToolBox(self.store, copilot, self.workspace_id, self.approve, timeout, self.ctx.embedder())
            specs = yield from toolbox.specs()
            if native_tools:
                request.tools.extend(specs)
            if specs and provider.pins_named_tools:
                # a local model: a schema-constrained decision before the answer, like its handoffs; one that
                # calls tools in its own format still has the tools the request names called for it first
                yield from toolbox.use_before_answering(
                    provider, request, specs, question, self.thread_id, self.cancel, named_only=native_tools
                )
        if may_consult and provider.pins_named_tools:
            yield from self._consults_asked(copilot, provider, request, question)
        for rounds in range(MAX_TOOL_ROUNDS + 1):
            reply = self._reply(copilot, provider, request, turn.why, sources, question)
            result, answer, calls, error = yield from reply
            used = [c for c in calls if toolbox is not None and toolbox.owns(c)]
            asks = [c for c in calls if c.name == CONSULT_TOOL] if may_consult else []
            done = result.status != STATUS_COMPLETE or rounds == MAX_TOOL_ROUNDS or self.cancel.cancelled
            if not (used or asks) or done:
                break
            yield result  # this reply asked for tools or consults; the next one answers with their results
            request.messages.append(ChatMessage("assistant", answer, name=copilot.id, tool_calls=used + asks))
            if used:
                yield from toolbox.run(used, request, self.thread_id)  # type: ignore[union-attr]
            for ask in asks:
                yield from self._consult(copilot, ask, request)
        calls = [c for c in calls if c.name == HANDOFF_TOOL]
        if may_hand_off and not native_tools and result.status == STATUS_COMPLETE:
            decider = provider if provider.supports_json_schema else self.ctx.judge(copilot)
            call = yield from self._decide(decider, request, answer, targets, copilot)
            calls.extend([call] if call is not None else [])
        if error is not None:
            yield error
        if turn.task_id:
            status = TASK_DONE if result.status == STATUS_COMPLETE else TASK_FAILED
            self.store.update_task(turn.task_id, status, result.message_id)
            yield TaskEvent(copilot.id, turn.task_id, status, turn.from_copilot or "", copilot.id)
        yield result
        return result, answer, calls

    def _consults_asked(
        self, copilot: Copilot, provider: Provider, request: ChatRequest, asked: str
    ) -> Iterator[Event]:
        """For a model that does not call tools itself: the consults the request asks for in words (`consulted`).
        The copilot writes each question (a JSON-schema-constrained decision); the answers go into `request`."""
        for target in consulted(asked, [c for c in self.everyone if c != copilot]):  # a task passed on names itself
            allowed = check_target(target.id, copilot, self.participants, self.everyone, "consult")
            if isinstance(allowed, str):
                refused = ConsultEvent(copilot.id, copilot.id, target.id, "", "rejected", allowed, refusal="rejected")
                yield self._consulted(refused)
                continue
            spec = consult_tool([target])
            call = yield from statuses_as(copilot.id, decide_tool(provider, request, [spec], self.cancel, pinned=spec))
            if call is None or self.cancel.cancelled:
                return
            request.messages.append(ChatMessage("assistant", "", name=copilot.id, tool_calls=[call]))
            yield from self._consult(copilot, call, request)

    def _consult(self, source: Copilot, call: ToolCall, request: ChatRequest) -> Iterator[Event]:
        """Check a consult, let its target answer (a reply of its own in the thread), and give the answer back to
        `source` as the call's result in `request`; a consult not made says why, to the user and to `source`."""
        checked = check_consult(call, source, self.participants, self.everyone)
        arguments = call.arguments or {}
        to, question = str(arguments.get("to", "?")), str(arguments.get("question", ""))[:QUESTION_CHARS]
        refusal, why = "rejected", checked if isinstance(checked, str) else ""
        if not why and self.hops >= self.max_hops:
            refusal, why = "hop_limit", f"the hop limit of {self.max_hops} was reached"
        elif not why and len(self.replies) + 2 > self.max_turns:  # its answer, and then the asker's
            refusal, why = "max_turns", f"the run's limit of {self.max_turns} replies was reached"
        if why or isinstance(checked, str):
            yield self._consulted(
                ConsultEvent(source.id, source.id, to, question, "rejected", why, None, refusal, call.raw[:400])
            )
            answer = f"{to} was not consulted: {why}. Answer on your own."
        else:
            self.hops += 1
            yield self._consulted(ConsultEvent(source.id, source.id, checked.target.id, checked.question, "asked"))
            brief = consult_brief(source, checked.question)
            turn = Turn(
                checked.target, f"consulted by {source.id}: {checked.question}", brief=brief, consulted_by=source.id
            )
            outcome, text, _ = yield from self._take_turn(turn, deque())
            self._count(outcome)
            answered = ConsultEvent(
                source.id, source.id, checked.target.id, checked.question, "answered", message_id=outcome.message_id
            )
            yield self._consulted(answered)
            answer = text.strip()[:ANSWER_CHARS] or f"{checked.target.id} gave no answer."
        request.messages.append(ChatMessage("tool", answer, name=CONSULT_TOOL, tool_call_id=call.id))

    def _consulted(self, event: ConsultEvent) -> ConsultEvent:
        self.store.record(self.thread_id, event)
        return event

    def _reply(
        self,
        copilot: Copilot,
        provider: Provider,
        request: ChatRequest,
        why: str,
        sources: list[Hit],
        question: str,
    ) -> Generator[Event, None, tuple[MessageEvent, str, list[ToolCall], CrewError | None]]:
        """Stream one reply into the thread; returns its final MessageEvent (held back), text, calls and error."""
        stream = run_reply(
            self.store,
            self.thread_id,
            copilot,
            provider,
            request,
            self.cancel,
            why,
            sources,
            question,
            stop_loops=self.ctx.settings.stop_loops,
        )
        return (yield from relay(copilot.id, stream))

    def _decide(
        self, provider: Provider, request: ChatRequest, answer: str, targets: list[Copilot], copilot: Copilot
    ) -> Generator[Event, None, ToolCall | None]:
        """Run the handoff decision for a backend without native tool calls, its statuses under `copilot`."""
        planned = [(s.copilot.id, s.task) for s in self.plan]
        decision = decide_handoff(provider, request, answer, self.user_request, targets, self.cancel, planned)
        return (yield from statuses_as(copilot.id, decision))

    def _follow_handoff(
        self, source: Copilot, outcome: MessageEvent, tool_calls: list[ToolCall], queue: deque[Turn]
    ) -> Generator[Event, None, Turn | None]:
        """Turn the reply's first handoff call into a task and the target's turn, or say why not.

        Within a plan, a handoff to the copilot of the plan's next step does that step (the step's task is
        dropped); a handoff to anyone else contradicts the plan and is followed only with a stated reason."""
        calls = [c for c in tool_calls if c.name == HANDOFF_TOOL]
        if not calls or outcome.status != STATUS_COMPLETE:
            return None
        for extra in calls[1:]:
            yield self._reject(source, extra, "only the first handoff in a reply is followed")
        checked = check_handoff(calls[0], source, self.participants, self.everyone)
        if isinstance(checked, str):
            yield self._reject(source, calls[0], checked)
            return None
        planned = next((t for t in queue if t.step is not None), None)
        reason = str((calls[0].arguments or {}).get("reason") or "").strip()
        if planned is not None and planned.copilot.id != checked.target.id and not reason:
            why = f"the plan's next step is {planned.copilot.id}'s, and the handoff gives no reason to change it"
            yield self._reject(source, calls[0], why, kind="contradicts_plan")
            return None
        if self.hops >= self.max_hops:
            yield self._reject(
                source, calls[0], f"the hop limit of {self.max_hops} was reached; the run stops here", kind="hop_limit"
            )
            message = f"The run stopped: it reached its limit of {self.max_hops} handoffs (max hops)."
            yield self._stop(LimitEvent(ROUTER, "max_hops", self.max_hops, self.hops, message))
            return None
        self.hops += 1
        if planned is not None and planned.copilot.id == checked.target.id:
            planned.handoff = checked  # the plan's next step, with the task and context the handoff gives it
            planned.from_copilot = source.id
            yield self._accept(source, checked, planned.task_id)
            return None
        task_id = self.store.create_task(
            self.workspace_id, self.thread_id, source.id, checked.target.id, checked.task, checked.context
        )
        yield self._accept(source, checked, task_id)
        yield TaskEvent(source.id, task_id, "pending", source.id, checked.target.id)
        why = f"handoff from {source.id}: {checked.task}"
        return Turn(checked.target, why, checked, task_id, source.id)

    def _accept(self, source: Copilot, checked: Handoff, task_id: str | None) -> HandoffEvent:
        accepted = HandoffEvent(
            source.id, source.id, checked.target.id, checked.task, "accepted", task_id=task_id, context=checked.context
        )
        self.store.record(self.thread_id, accepted)
        return accepted

    def _reject(self, source: Copilot, call: ToolCall, reason: str, kind: str = "rejected") -> HandoffEvent:
        arguments = call.arguments or {}
        to, task = str(arguments.get("to", "?")), str(arguments.get("task", ""))
        rejected = HandoffEvent(source.id, source.id, to, task, "rejected", reason, refusal=kind, raw=call.raw[:400])
        self.store.record(self.thread_id, rejected)
        return rejected
