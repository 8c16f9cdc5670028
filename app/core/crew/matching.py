"""Which copilots a step of a request is for, by meaning: the step's embedding against each copilot's skills.

A small router model picks the first copilot it is shown whatever the request: the 135M starter model chose the
first of four for each of the 28 requests of bench/data/crew_eval.json it was left to route. The embedding model
compares better. Each copilot is described by a few phrases of its own manifest (its description, each skill,
its system prompt), and a step (its instruction: quoted material is left out) scores, per copilot, its best
cosine similarity with one of them. Only the copilots within `MARGIN` of the best are left for the router model
to choose among, best first; a step that matches nobody (best below `FLOOR`: "how long do I boil an egg?") goes
to the default copilot, the all-rounder.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from app.core.crew.copilots import Copilot
from app.core.providers.base import CancelToken

if TYPE_CHECKING:  # the vectors are numpy's; numpy itself comes with the embedder, when a step is first matched
    import numpy as np

FLOOR = 0.2  # cosine similarity: below it no copilot's skills match the step
MARGIN = 0.05  # copilots this close to the best one are left for the router model to tell apart


# quoted material ('…', "…", “…”) of a few words or more: the text to work on, not what is asked of it
_QUOTED = re.compile(r"""(?:^|(?<=[\s:(]))(['"“‘])(?:(?!\1).){12,}?(?:\1|’|”)(?=$|[\s.,;:!?)])""", re.DOTALL)


def instruction(text: str) -> str:
    """What a step asks, without the quoted material it asks it about ("Proofread this: '…'")."""
    left = _QUOTED.sub(" ", text).strip(" :")
    return left if len(left.split()) >= 2 else text


def phrases(copilot: Copilot) -> list[str]:
    """The phrases of a manifest a step is compared with."""
    found = [copilot.description, *copilot.skills, copilot.system_prompt]
    return [p.strip() for p in found if p and p.strip()]


class SkillMatcher:
    """Scores steps against copilots with an embedding model (`KnowledgeEmbedder`); phrase vectors are kept."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self._vectors: dict[str, np.ndarray] = {}

    def scores(self, text: str, copilots: list[Copilot]) -> dict[str, float]:
        """Each copilot's best similarity between `text` and one of its phrases (0 for a copilot with none)."""
        wanted = sorted({p for c in copilots for p in phrases(c)} - set(self._vectors))
        if wanted:
            for phrase, vector in zip(wanted, self.embedder.embed(wanted, CancelToken()), strict=True):
                self._vectors[phrase] = vector
        question = self.embedder.query(instruction(text))
        return {c.id: max((float(self._vectors[p] @ question) for p in phrases(c)), default=0.0) for c in copilots}


def candidates(scores: dict[str, float], participants: list[Copilot], default: Copilot) -> list[Copilot]:
    """The copilots left for a step, best first: those within MARGIN of the best, or the default alone when
    nobody reaches FLOOR."""
    best = max(scores.values(), default=0.0)
    if best < FLOOR:
        return [default]
    ranked = sorted(participants, key=lambda c: -scores.get(c.id, 0.0))
    return [c for c in ranked if scores.get(c.id, 0.0) >= best - MARGIN]
