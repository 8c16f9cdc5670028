"""Who said each line of a transcript, in one place: the crew labels another copilot's reply for backends that
read no author names (chat templates drop `name`), and remote agents' protocols read the label back, so an
agent gets each line in its own protocol's terms (an OpenBB `ai` message with its `agent_id`, an A2A line
that names its author once)."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.providers.base import ChatMessage

HUMAN = "user"  # the author the store gives the person at the keyboard


def from_copilot(author: str, text: str) -> ChatMessage:
    """Another copilot's reply as this copilot sees it: a user turn whose text names its author."""
    return ChatMessage("user", f"{_label(author)}{text}", name=author)


@dataclass(frozen=True)
class Line:
    """One transcript line as a remote agent reads it.

    Attributes:
        speaker: "human" (the user, or a task handed over), "self" (this copilot's own earlier reply) or
            "copilot" (another copilot's reply).
        author: who wrote it: the other copilot's id, or the person's name; None for a handed-over task.
        text: what was said, without any label.
    """

    speaker: str
    author: str | None
    text: str


def lines(messages: list[ChatMessage]) -> list[Line]:
    """The transcript without system prompts or empty turns, each line with its author told apart."""
    found = []
    for message in messages:
        if message.role == "system" or not message.content:
            continue
        if message.role == "assistant":
            found.append(Line("self", message.name, message.content))
        elif message.role == "user" and message.name and message.content.startswith(_label(message.name)):
            found.append(Line("copilot", message.name, message.content[len(_label(message.name)) :]))
        else:
            found.append(Line("human", message.name, message.content))
    return found


def sentence(text: str) -> str:
    """`text` ending with exactly one stop: a reason that brings its own full stop gets no second one."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."


def _label(author: str) -> str:
    return f"[{author}]: "
