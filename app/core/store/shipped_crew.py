"""The starter crew's manifests exactly as earlier Roundtables stored them, for migrations that must tell a shipped
default apart from a user's choice.

Frozen: this is a record of what was written to users' databases, not the current crew (`resources/crew/`).
Copilot manifests were stored as full dumps (`Copilot.model_dump()`, every field with its default), so a stored
`knowledge = false` alone cannot say whether a user chose it; only a manifest equal to one of these can be
upgraded as the old default.
"""

from __future__ import annotations

from typing import Any

# Fields every starter copilot stored with their defaults (Roundtable 6f95593 to 04d2a18, where `knowledge` was a
# bool, default false). `trust_card_origins` was added in a3d54f3: before it the key is absent.
_DEFAULTS: dict[str, Any] = {
    "agent": None,
    "api_key_name": None,
    "context_size": None,
    "endpoint": None,
    "knowledge": False,
    "lora": None,
    "lora_scale": 1.0,
    "model": None,
    "provider": "local",
    "tools": [],
    "trust_card_origins": False,
}

_CREW: tuple[dict[str, Any], ...] = (
    {
        "id": "analyst",
        "name": "Analyst",
        "color": "#1f9d74",
        "description": "Gathers facts and figures and explains them precisely: finance, data, definitions,"
        " comparisons.",
        "skills": ["facts", "finance", "numbers", "definitions", "summaries"],
        "system_prompt": "You are Analyst. Explain the facts precisely and briefly, in plain sentences.",
        "handoff_to": ["writer", "reviewer"],
        "sampling": {"max_tokens": 256, "seed": None, "temperature": 0.2, "top_p": 0.9},
    },
    {
        "id": "generalist",
        "name": "Generalist",
        "color": "#5b7cfa",
        "description": "A helpful all-rounder: answers questions, explains ideas, drafts short texts.",
        "skills": ["questions", "explanations", "drafting"],
        "system_prompt": "You are Generalist, a helpful assistant. Answer clearly and concisely.",
        "handoff_to": ["analyst", "writer", "reviewer"],
        "sampling": {"max_tokens": None, "seed": None, "temperature": 0.4, "top_p": 0.95},
    },
    {
        "id": "reviewer",
        "name": "Reviewer",
        "color": "#c23b5a",
        "description": "Checks a draft for mistakes, clarity and tone, and says what to fix.",
        "skills": ["review", "proofreading", "fact checking"],
        "system_prompt": "You are Reviewer. Check the latest draft for errors and clarity. Reply with the fixes,"
        " briefly.",
        "handoff_to": [],
        "sampling": {"max_tokens": 200, "seed": None, "temperature": 0.2, "top_p": 0.9},
    },
    {
        "id": "writer",
        "name": "Writer",
        "color": "#d9822b",
        "description": "Turns notes into clear prose: summaries, emails, posts and tweets.",
        "skills": ["writing", "tweets", "emails", "rewriting", "tone"],
        "system_prompt": "You are Writer. Turn the material you are given into short, clear, engaging text.",
        "handoff_to": ["reviewer"],
        "sampling": {"max_tokens": 200, "seed": None, "temperature": 0.7, "top_p": 0.95},
    },
)


def shipped_with_knowledge_off() -> list[dict[str, Any]]:
    """Every starter-crew manifest a Roundtable with `knowledge: bool = False` stored, in each stored shape."""
    current = [{**_DEFAULTS, **copilot} for copilot in _CREW]
    before_trust_card = [{k: v for k, v in m.items() if k != "trust_card_origins"} for m in current]
    return current + before_trust_card
