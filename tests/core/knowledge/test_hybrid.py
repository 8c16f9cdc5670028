"""Passage vectors in the workspace database and hybrid search (BM25 + vectors, reciprocal rank fusion), on the
real embedding model and real SQLite."""

import json
from pathlib import Path

import pytest

from app.core.errors import Cancelled
from app.core.knowledge.embedding import EMBED_BATCH, embed_pending
from app.core.knowledge.index import add_paths
from app.core.knowledge.search import fuse, search_documents
from app.core.providers.base import CancelToken
from app.core.store.knowledge import Hit
from tests.conftest import run_cli, write_settings

FACTS = {
    "office.md": "# Lisbon office\n\nThe Lisbon office opens at 8:30 and closes at 17:00 on weekdays.\n",
    "bond.md": "# Zephyr bond\n\nThe Zephyr 2031 bond pays a coupon of 4.25% twice a year.\n",
    "pets.md": "# Pets\n\nDogs are allowed in the building if they stay on a leash.\n",
}
# shares no word with its answer (office.md) once stopwords are dropped
PARAPHRASE = "When may visitors drop by the Portuguese branch?"


def _docs(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in FACTS.items():
        (folder / name).write_text(text)
    return folder


def _added(ctx, folder: Path) -> int:
    add_paths(ctx.store, "default", [_docs(folder)])
    return embed_pending(ctx.store, ctx.embedder(), "default")


def test_added_passages_get_vectors_from_the_recorded_model(ctx, tmp_path: Path) -> None:
    assert _added(ctx, tmp_path / "docs") == 3
    assert ctx.store.index_model("default") == "all-minilm-l6-v2"
    assert ctx.store.vector_count("default", "all-minilm-l6-v2") == 3
    assert ctx.store.count_pending("default", "all-minilm-l6-v2") == 0
    assert embed_pending(ctx.store, ctx.embedder(), "default") == 0  # nothing to do twice


def test_meaning_finds_what_words_miss_and_hybrid_ranks_it_first(ctx, tmp_path: Path) -> None:
    _added(ctx, tmp_path / "docs")
    embedder = ctx.embedder()
    assert search_documents(ctx.store, "default", PARAPHRASE, 3, "bm25", embedder) == []
    vector = search_documents(ctx.store, "default", PARAPHRASE, 3, "vector", embedder)
    hybrid = search_documents(ctx.store, "default", PARAPHRASE, 3, "hybrid", embedder)
    assert vector[0].title == "office.md" and vector[0].score > vector[1].score
    assert hybrid[0].title == "office.md"
    words = search_documents(ctx.store, "default", "zephyr coupon", 3, "hybrid", embedder)
    assert words[0].title == "bond.md"  # both rankings agree


def test_reciprocal_rank_fusion_adds_one_over_k_plus_rank() -> None:
    a, b, c = (Hit("document", i, i, None, "", 0.0) for i in "abc")
    fused = fuse([[a, b], [b, c]], limit=3, k=60)
    assert [h.id for h in fused] == ["b", "a", "c"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1].score == pytest.approx(1 / 61) and fused[2].score == pytest.approx(1 / 62)


def test_a_removed_document_takes_its_vectors_and_a_warm_search_sees_it(ctx, tmp_path: Path) -> None:
    _added(ctx, tmp_path / "docs")
    embedder = ctx.embedder()
    assert search_documents(ctx.store, "default", PARAPHRASE, 1, "vector", embedder)[0].title == "office.md"
    office = next(d for d in ctx.store.documents("default") if d.name == "office.md")
    ctx.store.remove_document(office.id)
    assert ctx.store.vector_count("default", embedder.model_id) == 2
    titles = [h.title for h in search_documents(ctx.store, "default", PARAPHRASE, 3, "vector", embedder)]
    assert titles and "office.md" not in titles


def test_stop_keeps_the_batches_done_and_the_next_run_goes_on(ctx, tmp_path: Path) -> None:
    long = tmp_path / "long.md"
    long.write_text("".join(f"# Part {n}\n\nParagraph {n} is about topic number {n}.\n\n" for n in range(100)))
    add_paths(ctx.store, "default", [long])
    total = ctx.store.count_pending("default", "all-minilm-l6-v2")
    assert total == 100
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        embed_pending(ctx.store, ctx.embedder(), "default", lambda step: step.done and cancel.cancel(), cancel)
    assert ctx.store.vector_count("default", "all-minilm-l6-v2") == EMBED_BATCH  # the first batch was stored
    assert embed_pending(ctx.store, ctx.embedder(), "default") == total - EMBED_BATCH


def test_changing_the_embedding_model_reembeds_everything(home: Path, tmp_path: Path) -> None:
    folder = _docs(tmp_path / "docs")
    assert run_cli("docs", "add", str(folder)).returncode == 0
    write_settings(home, 'embedding_model = "smollm2-135m"\n')  # a chat model embeds too (averaged tokens)
    result = run_cli("docs", "embed")
    assert result.returncode == 0, result.stderr
    assert "embedded: 3 passages (smollm2-135m)" in result.stdout
    assert "All passages are embedded with smollm2-135m." in result.stdout
    from app.core.context import AppContext

    with AppContext() as ctx:
        assert ctx.store.index_model("default") == "smollm2-135m"
        assert ctx.store.vector_count("default", "smollm2-135m") == 3
        hits = search_documents(ctx.store, "default", "zephyr coupon", 3, "vector", ctx.embedder())
        assert len(hits[0].text) and len(hits) == 3  # searched with the new model's 576-wide vectors


def test_cli_search_modes(tmp_path: Path) -> None:
    assert run_cli("docs", "add", str(_docs(tmp_path / "docs"))).returncode == 0
    by_meaning = run_cli("search", "--mode", "vector", "--json", PARAPHRASE)
    assert by_meaning.returncode == 0, by_meaning.stderr
    assert json.loads(by_meaning.stdout)[0]["title"] == "office.md"
    by_words = run_cli("search", "--mode", "bm25", PARAPHRASE)
    assert by_words.returncode == 0 and "Nothing found" in by_words.stdout
    hybrid = run_cli("search", "Zephyr coupon")
    assert hybrid.stdout.splitlines()[0].startswith("document bond.md")
    wrong = run_cli("search", "--mode", "fuzzy", "x")
    assert wrong.returncode == 2 and "invalid choice: 'fuzzy'" in wrong.stderr
