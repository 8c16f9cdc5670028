"""The embedding models Roundtable recommends for documents: the built-in one, and GGUF models from the Hub that
llama.cpp runs without a task prefix (BGE v1.5 embeds a question and a passage the same way, as Roundtable does)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.hub.starter import EMBEDDING_MODEL_ID

if TYPE_CHECKING:
    from app.core.context import AppContext


@dataclass(frozen=True)
class EmbeddingChoice:
    """One recommended embedding model; `repo` and `filename` are None for the built-in one."""

    model_id: str  # the id it is installed under (`models pull` derives it from the file name)
    repo: str | None
    filename: str | None
    about: str


RECOMMENDED = (
    EmbeddingChoice(
        EMBEDDING_MODEL_ID, None, None, "built in (all-MiniLM-L6-v2, 384 dimensions, English): works offline"
    ),
    EmbeddingChoice(
        "bge-small-en-v1.5-q8_0",
        "CompendiumLabs/bge-small-en-v1.5-gguf",
        "bge-small-en-v1.5-q8_0.gguf",
        "BGE small v1.5 (384 dimensions, English, about 36 MB): higher MTEB retrieval scores at the same speed",
    ),
    EmbeddingChoice(
        "bge-base-en-v1.5-q8_0",
        "CompendiumLabs/bge-base-en-v1.5-gguf",
        "bge-base-en-v1.5-q8_0.gguf",
        "BGE base v1.5 (768 dimensions, English, about 117 MB): better still, about 3x slower to embed",
    ),
)


def embedding_choices(ctx: AppContext) -> list[tuple[EmbeddingChoice, str]]:
    """Each recommended model with its state here: `in use`, `installed` or `not installed`."""
    in_use = ctx.embedder().model_id
    installed = {row["id"] for row in ctx.store.models()}
    choices = []
    for choice in RECOMMENDED:
        if choice.model_id == in_use:
            state = "in use"
        elif choice.repo is None or choice.model_id in installed:
            state = "installed"
        else:
            state = "not installed"
        choices.append((choice, state))
    return choices
