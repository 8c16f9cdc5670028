"""Consults: a copilot asks another one a question and gets the answer back as a tool result, keeping its turn
(the agents-as-tools pattern; a handoff gives the turn away).

A consult is checked like a handoff (`handoff.check_target`: the target must be in the asker's `handoff_to` and
take part in the run), counts against the same hop limit, and is logged as `consult` events. A copilot with
native tool calls is offered the `consult` tool and decides itself; a local model consults where the request
asks for it in words ("…, consulting the analyst", "check with the reviewer"), found here deterministically,
and only writes the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.crew.copilots import Copilot
from app.core.crew.handoff import check_target, target_listing
from app.core.crew.routing import name_pattern
from app.core.providers.base import ToolCall, ToolSpec

CONSULT_TOOL = "consult"
QUESTION_CHARS = 300
ANSWER_CHARS = 2000  # of the consulted copilot's answer, as the asker's tool result (the whole reply is stored)

# how a request asks for a consult before a name: "consulting the analyst", "check with our reviewer",
# "get advice from @quant"
_LEAD = (
    r"\b(?:consult(?:s|ed|ing)?(?:\s+with)?|check(?:s|ed|ing)?\s+with|confer(?:s|red|ring)?\s+with"
    r"|(?:get|gets|getting|ask|asks|asking)\s+(?:for\s+)?(?:input|advice|help|a\s+second\s+opinion)\s+from)"
    r"\s+(?:@|(?:the|our|your|my)\s+)?"
)


def consult_tool(targets: list[Copilot]) -> ToolSpec:
    """The consult tool offered to a copilot, listing only the copilots it may consult."""
    listing = target_listing(targets)
    return ToolSpec(
        name=CONSULT_TOOL,
        description=f"Ask another copilot a question and get its answer back; you keep the turn and answer "
        f"yourself. Copilots: {listing}",
        parameters={
            "type": "object",
            "properties": {
                "to": {"type": "string", "enum": [c.id for c in targets], "description": "who to ask"},
                "question": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": QUESTION_CHARS,
                    "description": "the question, complete in itself",
                },
            },
            "required": ["to", "question"],
        },
    )


@dataclass
class Consult:
    """A checked consult: who is asked, and the question."""

    target: Copilot
    question: str


def check_consult(
    call: ToolCall, source: Copilot, participants: list[Copilot], everyone: list[Copilot]
) -> Consult | str:
    """The consult a call asks for, or why it cannot be made (the checks of a handoff)."""
    if call.arguments is None:
        return f"the consult was not valid JSON ({call.raw[:80]!r})"
    to, question = call.arguments.get("to"), call.arguments.get("question")
    if not isinstance(to, str) or not to.strip():
        return "the consult names no copilot in 'to'"
    if not isinstance(question, str) or not question.strip():
        return "the consult asks no question"
    target = check_target(to, source, participants, everyone, "consult")
    if isinstance(target, str):
        return target
    return Consult(target, question.strip()[:QUESTION_CHARS])


def _consult_spans(text: str, copilots: list[Copilot]) -> list[tuple[int, int, Copilot]]:
    spans = []
    for copilot in copilots:
        pattern = rf"{_LEAD}(?:{name_pattern(copilot)})s?\b(?!-)"
        spans += [(m.start(), m.end(), copilot) for m in re.finditer(pattern, text, re.IGNORECASE)]
    return sorted(spans, key=lambda span: span[0])


def consulted(text: str, copilots: list[Copilot]) -> list[Copilot]:
    """The copilots `text` asks to be consulted, in order, each once ("…, consulting the analyst")."""
    found: list[Copilot] = []
    for _, _, copilot in _consult_spans(text, copilots):
        if copilot not in found:
            found.append(copilot)
    return found


def without_consults(text: str, copilots: list[Copilot]) -> str:
    """`text` with its consult phrases blanked out (same length): a copilot to be consulted is not one who does a
    step of the plan."""
    for start, end, _ in _consult_spans(text, copilots):
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def consult_brief(source: Copilot, question: str) -> str:
    """What the consulted copilot is asked, after the transcript."""
    return (
        f"{source.name} consults you and will answer the user itself. {source.name} asks: {question}\nAnswer briefly."
    )
