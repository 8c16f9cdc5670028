"""Plans: the steps a request asks for, in order, and who does each.

A request is cut into steps where it says so in words ("…, then have the writer…", "after that", "finally", "; ",
a new sentence that names a copilot). A step that names a copilot (an @mention, or "the writer", "our reviewer",
"ask the analyst", "Writer, …") is pinned to it before any model is asked; the router model picks the copilot of
every other step, all steps in one answer constrained by a JSON schema (a tuple with one item per step, each a
copilot id from the run's participants, a pinned step's enum holding only its copilot). Small models choose well
among few options and badly at structure, so the structure is read from the words and only the choice is theirs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from app.core.crew.consult import without_consults
from app.core.crew.copilots import Copilot, find_copilot
from app.core.crew.decide import constrained_json
from app.core.crew.matching import FLOOR, candidates
from app.core.crew.routing import copilot_listing, mentions, name_pattern
from app.core.errors import RoundtableError
from app.core.providers.base import CancelToken, ChatMessage, Event, Provider, Status

MAX_STEPS = 6  # more steps than this in one message are joined into the last one
_TASK_CHARS = 300
_PLAN_TOKENS = 24  # per step: {"copilot": "…"} and a comma

# where a request moves on to its next step: "then", "after that", "finally", "and have…"
_STEP_WORDS = re.compile(
    r"(?:[,;:]\s*|\s+)(?:and\s+)?(?:then|after\s+that|afterwards|finally|lastly|next)(?:,\s*|\s+)"
    # "…, and have the reviewer check it", "… and get someone to proofread it": someone else's part begins
    r"|(?:,\s*|\s+)and\s+(?=(?:have|get|let|ask|tell)\s)|,\s*(?=(?:have|get|let)\s)",
    re.IGNORECASE,
)
# a conditional's "then" ("if rates rise, then prices fall") moves on to nothing
_CONDITION = re.compile(r"\b(?:if|when|whenever|once|unless)\b", re.IGNORECASE)
# how a request names someone in words before a name: "have the writer", "our reviewer", "ask analyst"
_LEAD = r"(?:(?:have|let|get|ask|tell|make|want|with|by|for|to|and)\s+)?(?:the|our|your|my)\s+|(?:have|let|ask|tell)\s+"
_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=\S)")  # and "; ": a new step only where it names someone


_ROUTED = ("router", "fallback", "skills", "default")


@dataclass
class Step:
    """One step of a plan: who does it, what it is, and how it was chosen (`by`: mention, named, router, only,
    fallback, asked)."""

    copilot: Copilot
    task: str
    by: str
    note: str = ""  # why the fallback does it: what the router answered instead

    def fields(self) -> dict[str, str]:
        return {"copilot": self.copilot.id, "task": self.task, "by": self.by}

    @property
    def reason(self) -> str:
        """Why this copilot does the step, as a route decision says it."""
        return {
            "mention": "mentioned by the user",
            "named": "named in the request",
            "only": "the only copilot in this run",
            "skills": f"its skills match: {self.task}",
            "default": "no copilot's skills match this; the default copilot answers",
            "router": f"the router's choice for: {self.task}",
        }.get(self.by, f"{self.note}; {self.copilot.name} answers by default")

    @property
    def why(self) -> str:
        """Why the copilot speaks, as its reply's trace says it."""
        return f"chosen by the router: {self.reason}" if self.by in _ROUTED else self.reason


def named_in_words(text: str, copilots: list[Copilot]) -> list[Copilot]:
    """The copilots `text` names as someone to act, in the order named: @mentions (unknown ones are a UsageError,
    see `mentions`), "the writer", "our reviewer", "ask the analyst", or a name opening the text ("Writer, …").
    A bare word does not count: "a writer like Orwell" names nobody; nor does a consult ("checking with the
    analyst": `crew/consult.py`)."""
    return [copilot for copilot, _ in _named(text, copilots)]


def _named(text: str, copilots: list[Copilot]) -> list[tuple[Copilot, str]]:
    """`named_in_words`, each with how it was named: `mention` (with @) or `named` (in words)."""
    found: list[tuple[int, Copilot, str]] = []
    text = without_consults(text, copilots)  # "…, consulting the analyst": the analyst does no step
    folded = text.casefold()
    mentioned = mentions(text, copilots)
    for copilot in mentioned:
        found.append((folded.find("@" + copilot.id.casefold()), copilot, "mention"))
    for copilot in copilots:
        if copilot in mentioned:
            continue
        name = name_pattern(copilot)
        pattern = rf"(?:\b(?:{_LEAD})|^\s*)(?:{name})s?\b(?!-)|^\s*(?:{name})\s*[,:]"
        match = re.search(pattern, folded)
        if match:
            found.append((match.start(), copilot, "named"))
    return [(copilot, by) for _, copilot, by in sorted(found, key=lambda item: item[0])]


def split_steps(text: str, copilots: list[Copilot]) -> list[str]:
    """The parts of a request done one after another, in order: split where the words move on ("then", "after
    that", "finally", "; "), and between sentences where the later one names a copilot; one part otherwise."""
    parts: list[str] = []
    for sentence in _SENTENCE.split(text.strip()):
        if parts and not named_in_words(sentence, copilots) and not _STEP_WORDS.match(" " + sentence):
            parts[-1] = f"{parts[-1]} {sentence}"  # "What is a bond? Keep it short." is one step
            continue
        parts.extend(_split_clauses(sentence))
    parts = [p.strip(" ,;") for p in parts if p.strip(" ,;.")]
    if len(parts) > MAX_STEPS:
        parts = [*parts[: MAX_STEPS - 1], " ".join(parts[MAX_STEPS - 1 :])]
    return parts or [text.strip()]


def _split_clauses(sentence: str) -> list[str]:
    parts: list[str] = []
    start = 0
    sentence = " " + sentence  # a step word opening it: "; then…", "Then…"
    for match in _STEP_WORDS.finditer(sentence):
        before = sentence[start : match.start()]
        if _CONDITION.search(before) and not parts:
            continue  # "if it rises, then…": one step
        parts.append(before)
        start = match.end()
    parts.append(sentence[start:])
    return parts


def pinned_steps(text: str, copilots: list[Copilot]) -> list[tuple[str, Copilot | None, str]]:
    """The request's steps as (task, pinned copilot or None, how it was pinned); a step naming several copilots
    becomes one step each (same task), and neighbouring steps pinned to the same copilot are joined."""
    steps: list[tuple[str, Copilot | None, str]] = []
    for part in split_steps(text, copilots):
        named = _named(part, copilots)
        if not named:
            steps.append((part, None, ""))
        for copilot, by in named:
            if steps and steps[-1][1] == copilot:
                steps[-1] = (f"{steps[-1][0]}; {part}", copilot, steps[-1][2])
            else:
                steps.append((part, copilot, by))
    return [(task[:_TASK_CHARS], copilot, by) for task, copilot, by in steps]


PLAN_PROMPT = (
    "You plan who does each step of a user's request. The copilots:\n{listing}\n"
    "The steps:\n{steps}\n"
    'Reply with JSON: {{"steps": [{{"copilot": the id of the copilot for that step}}, ...]}}, one item per step.'
)


def plan_schema(slots: list[list[str]]) -> dict[str, Any]:
    """The JSON schema of the router's plan: one item per step, each a copilot id from that step's `slots`."""
    items = [
        {
            "type": "object",
            "properties": {"copilot": {"type": "string", "enum": ids}},
            "required": ["copilot"],
            "additionalProperties": False,
        }
        for ids in slots
    ]
    return {
        "type": "object",
        "properties": {"steps": {"type": "array", "prefixItems": items, "items": False}},
        "required": ["steps"],
        "additionalProperties": False,
    }


def plan(
    provider: Provider | None,
    text: str,
    participants: list[Copilot],
    everyone: list[Copilot],
    fallback: Copilot,
    cancel: CancelToken,
    matcher: Callable[[str, list[Copilot]], dict[str, float]] | None = None,
) -> Iterator[Event | list[Step]]:
    """The plan for `text`: yields the router's statuses, then the list of steps (last).

    Names in the request are pinned first (any known copilot may be named: it joins the run). For each other
    step, `matcher` (`SkillMatcher.scores`; None: not used) narrows `participants` to those whose skills match it
    about as well as the best (`matching.candidates`): one left does the step (`by` skills; the default copilot
    where nobody's skills match: `by` default); the router model (`provider`, None: no model, the fallback does
    the step) chooses among several, best first.
    """
    pinned = pinned_steps(text, everyone)
    open_steps = [i for i, (_, copilot, _) in enumerate(pinned) if copilot is None]
    chosen: dict[int, tuple[Copilot, str]] = {}
    note = "no router model"
    slots = {i: list(participants) for i in open_steps}
    if open_steps and len(participants) > 1 and matcher is not None:
        try:
            for i in open_steps:
                scores = matcher(pinned[i][0], participants)
                slots[i] = candidates(scores, participants, fallback)
                if len(slots[i]) == 1:
                    chosen[i] = (slots[i][0], "skills" if max(scores.values()) >= FLOOR else "default")
        except RoundtableError as exc:  # no embedding model: the router model chooses among everyone
            yield Status(f"Could not compare the copilots' skills: {exc}")
            slots, chosen = {i: list(participants) for i in open_steps}, {}
    if open_steps and len(participants) == 1:
        chosen = {i: (participants[0], "only") for i in open_steps}
    elif len(chosen) < len(open_steps) and provider is not None:
        yield Status("Choosing a copilot" if len(pinned) == 1 else "Planning the steps")
        asked = [[c.id] if c else [s.id for s in slots[i]] for i, (_, c, _) in enumerate(pinned)]
        routed, raw = yield from _ask_router(provider, pinned, participants, asked, fallback, cancel)
        chosen = {**routed, **chosen}
        note = f"the router's answer was not a valid choice: {raw[:80]!r}"
    elif len(chosen) < len(open_steps):
        chosen = {i: chosen.get(i, (fallback, "fallback")) for i in open_steps}
    steps: list[Step] = []
    for i, (task, copilot, by) in enumerate(pinned):
        if copilot is None:
            copilot, by = chosen[i]
        if steps and steps[-1].copilot == copilot:  # one copilot's neighbouring steps are one step
            steps[-1].task = f"{steps[-1].task}; {task}"[:_TASK_CHARS]
            continue
        steps.append(Step(copilot, task, by, note if by == "fallback" else ""))
    yield steps


def _ask_router(
    provider: Provider,
    pinned: list[tuple[str, Copilot | None, str]],
    participants: list[Copilot],
    slots: list[list[str]],
    fallback: Copilot,
    cancel: CancelToken,
) -> Generator[Event, None, tuple[dict[int, tuple[Copilot, str]], str]]:
    """The router's choice for each open step among its `slots` (`fallback` where its answer names nobody
    valid), and its answer."""
    listing = copilot_listing(participants)
    if len(pinned) == 1:  # one step: the request itself, as the user's message
        listed = "1. the user's message"
        messages = [ChatMessage("user", pinned[0][0])]
    else:
        listed = "\n".join(
            f"{n}. {task}" + (f" (done by {c.id})" if c else "") for n, (task, c, _) in enumerate(pinned, 1)
        )
        messages = []
    messages.insert(0, ChatMessage("system", PLAN_PROMPT.format(listing=listing, steps=listed)))
    tokens = _PLAN_TOKENS * len(pinned) + 16
    raw, answer = yield from constrained_json(provider, messages, plan_schema(slots), tokens, cancel)
    answered = answer.get("steps") if isinstance(answer, dict) else None
    chosen: dict[int, tuple[Copilot, str]] = {}
    for i, (_, copilot, _) in enumerate(pinned):
        if copilot is not None:
            continue
        picked = None
        if isinstance(answered, list) and i < len(answered) and isinstance(answered[i], dict):
            picked = find_copilot(participants, str(answered[i].get("copilot", "")))
        chosen[i] = (picked, "router") if picked is not None else (fallback, "fallback")
    return chosen, raw


def describe(steps: list[Step]) -> str:
    """A plan in one line: `analyst: explain coupons → writer: make it a tweet`."""
    return " → ".join(f"{s.copilot.id}: {s.task}" for s in steps)


def to_json(steps: list[Step]) -> str:
    return json.dumps([s.fields() for s in steps])
