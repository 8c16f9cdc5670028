"""Who is named: the copilots a message @mentions, and how the router (`crew/plan.py`) reads the copilots."""

from __future__ import annotations

import re

from app.core.crew.copilots import Copilot, find_copilot
from app.core.errors import UsageError

# an @ at the start or after a space or bracket: e-mail addresses do not count
_MENTION = re.compile(r"(?<![\w.@])@([A-Za-z][\w-]*)")
EVERYONE = "all"  # `@all`: every participant answers (roundtable mode); no copilot may take the id
_ROUNDTABLE = re.compile(r"^\s*(?:/roundtable\b|@all\b)[\s:,]*", re.IGNORECASE)
# what a roundtable's copilots and its moderator are asked, after the transcript
ROUNDTABLE_BRIEF = (
    "This is a roundtable: answer the user's question above in your own words, briefly. The other copilots "
    "answer it too, each on their own."
)
SYNTHESIS_BRIEF = (
    'You moderate this roundtable. {names} each answered the question "{question}" above. Write a short synthesis '
    "of their answers: the main points, each followed by the name of the copilot who made it in brackets, like "
    "({example}). Say where they disagree."
)


def roundtable_question(text: str) -> str | None:
    """The question of a roundtable request (`@all …` or `/roundtable …` at the start), or None for any other."""
    match = _ROUNDTABLE.match(text)
    return text[match.end() :].strip() if match else None


def mentions(text: str, copilots: list[Copilot]) -> list[Copilot]:
    """The copilots a message @mentions, in order, each once; an unknown mention is a UsageError."""
    found: list[Copilot] = []
    for name in _MENTION.findall(text):
        if name.casefold() == EVERYONE:
            continue
        copilot = find_copilot(copilots, name)
        if copilot is None:
            known = ", ".join(f"@{c.id}" for c in copilots)
            raise UsageError(f"No copilot called @{name} (known: {known}).")
        if copilot not in found:
            found.append(copilot)
    return found


def name_pattern(copilot: Copilot) -> str:
    """A regular expression (casefolded) for a copilot's id or name, spaces, `_` and `-` read alike."""
    names = {copilot.id, copilot.name}
    spelled = sorted({re.sub(r"[\s_-]+", r"[\\s_-]*", re.escape(n.casefold()).replace(r"\ ", " ")) for n in names})
    return "|".join(spelled)


def copilot_listing(copilots: list[Copilot]) -> str:
    """The copilots as a router reads them: a line each, with their description and skills."""
    return "\n".join(f"- {c.id}: {c.name}. {c.description} Skills: {', '.join(c.skills) or '-'}." for c in copilots)
