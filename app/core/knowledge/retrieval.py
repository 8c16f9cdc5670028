"""Passages from the workspace's documents for a copilot's prompt, and the citations its answer carries."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from app.core.knowledge.search import search_documents
from app.core.providers.base import ChatMessage, ChatRequest
from app.core.store.knowledge import Hit

if TYPE_CHECKING:  # types only: importing these here would load the store and the model host with this module
    from app.core.knowledge.embedding import KnowledgeEmbedder
    from app.core.store import Store

_CANDIDATES = 8


def passages_for(
    store: Store, workspace_id: str, question: str, budget_chars: int, embedder: KnowledgeEmbedder | None = None
) -> list[Hit]:
    """The best passages for `question` (hybrid search: BM25 and vectors fused), as many as fit in `budget_chars`."""
    chosen: list[Hit] = []
    used = 0
    for hit in search_documents(store, workspace_id, question, _CANDIDATES, "hybrid", embedder):
        if used + len(hit.text) > budget_chars:
            continue
        chosen.append(hit)
        used += len(hit.text)
    return chosen


def with_passages(request: ChatRequest, passages: list[Hit]) -> None:
    """Put the passages in the request's system message, numbered for the answer to cite."""
    listing = "\n\n".join(
        f"[{n}] {hit.title}{f', {hit.location}' if hit.location else ''}:\n{hit.text}"
        for n, hit in enumerate(passages, 1)
    )
    note = (
        "Passages from this workspace's documents. Answer from them when they are relevant, and cite them "
        f"by number, like [1].\n\n{listing}"
    )
    request.documents = [{"source": hit.title, "location": hit.location, "text": hit.text} for hit in passages]
    if request.messages and request.messages[0].role == "system":
        request.messages[0] = ChatMessage("system", f"{request.messages[0].content}\n\n{note}")
    else:
        request.messages.insert(0, ChatMessage("system", note))


def citations(passages: list[Hit], answer: str, question: str | None = None) -> list[dict[str, Any]]:
    """The passages a reply was given, as citations; `cited` marks those the answer names ([n]), `query` is the
    question they were found for."""
    named = {int(n) for n in re.findall(r"\[(\d+)\]", answer)}
    return [
        {
            "number": n,
            "source": hit.title,
            "location": hit.location,
            "passage": hit.text,
            "chunk_id": int(hit.id),
            "cited": n in named,
            "query": question,
        }
        for n, hit in enumerate(passages, 1)
    ]
