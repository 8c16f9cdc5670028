"""The model manager shows which copilots share which base model, with their adapters and control vectors, for
installed models and for the ones loaded now; its memory estimate counts the base once plus each adapter."""

from pathlib import Path

import pytest

from app.core.hub.installed import add_local
from app.core.providers.base import CancelToken, ChatMessage, ChatRequest, Done, Sampling
from app.core.providers.local import check_model, host_memory_estimate
from tests.conftest import PATIENCE_MS
from tests.lora import write_control_vector, write_lora

pytestmark = pytest.mark.gui


@pytest.fixture
def specialists(ctx, tmp_path: Path) -> dict[str, Path]:
    files = {
        "finance": write_lora(tmp_path / "finance.gguf", seed=1),
        "calm": write_control_vector(tmp_path / "calm.gguf", seed=1),
    }
    for path in files.values():
        add_local(ctx, path)
    for copilot_id, update in (("writer", {"lora": "finance"}), ("analyst", {"control_vector": "calm"})):
        changed = ctx.copilot(copilot_id).model_copy(update={**update, "control_vector_strength": 0.5})
        ctx.store.save_copilot(changed.id, changed.name, changed.model_dump())
    return files


@pytest.fixture
def panel(qtbot, ctx, specialists):
    from app.ui.models_panel import ModelsPanel

    widget = ModelsPanel(ctx)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def cells(table, row: int) -> list[str]:
    return [table.item(row, column).text() for column in range(table.columnCount())]


def test_installed_models_show_the_copilots_sharing_each_base_and_what_each_adapter_is(qtbot, panel) -> None:
    table = panel.installed.table
    qtbot.waitUntil(lambda: table.rowCount() == 3, timeout=PATIENCE_MS)
    rows = {cells(table, r)[0]: cells(table, r) for r in range(3)}
    assert rows["smollm2-135m"][3] == (
        "analyst (control vector calm.gguf ×0.5), generalist, reviewer, writer (adapter finance.gguf ×1)"
    )
    assert rows["finance"][1] == "LORA adapter for llama" and rows["finance"][3] == "writer"
    assert rows["calm"][1] == "control vector for llama" and rows["calm"][3] == "analyst"


def test_binding_a_control_vector_sets_the_copilots_control_vector(qtbot, panel, ctx) -> None:
    qtbot.waitUntil(lambda: panel.installed.table.rowCount() == 3, timeout=PATIENCE_MS)
    with qtbot.waitSignal(panel.installed.changed, timeout=PATIENCE_MS):  # saved on the database worker
        panel.installed.bind("reviewer", "calm")
    reviewer = ctx.copilot("reviewer")
    assert reviewer.control_vector == "calm" and reviewer.lora is None and reviewer.model is None


def test_the_loaded_base_shows_who_shares_it_and_its_estimate_counts_the_base_once(
    qtbot, panel, ctx, specialists, starter_model
) -> None:
    question = ChatRequest(messages=[ChatMessage("user", "Hi")], sampling=Sampling(temperature=0.0, max_tokens=4))
    providers = [ctx.provider_for(ctx.copilot(c)) for c in ("writer", "analyst", "generalist")]
    for provider in providers:
        assert isinstance(list(provider.stream(question, CancelToken()))[-1], Done)
    assert len({p.host.pid for p in providers}) == 1
    panel.loaded.refresh()
    table = panel.loaded.table
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=PATIENCE_MS)
    name = starter_model.name
    assert cells(table, 0)[:2] == [
        name,
        f"base {name}: analyst (control vector calm.gguf ×0.5), generalist, reviewer, writer (adapter finance.gguf ×1)",
    ]
    # the pool's budget counts one base, plus each file loaded beside it
    (loaded,) = ctx.pool.loaded()
    base = host_memory_estimate(check_model(starter_model), starter_model, loaded["spec"])
    assert loaded["estimate_bytes"] == base + sum(p.stat().st_size for p in specialists.values())
    # the memory bar shows the same estimate against the pool's budget
    estimate = loaded["estimate_bytes"]
    memory = panel.memory
    qtbot.waitUntil(lambda: (memory.refresh(), memory.used_bytes == estimate)[1], timeout=PATIENCE_MS)
    assert memory.budget_bytes == ctx.pool.budget_bytes
    assert memory.value() == min(1000, int(estimate / ctx.pool.budget_bytes * 1000)) > 0
