"""The copilot form picks a LoRA adapter and a control vector from the installed ones, each with its scale, and
saves them in the manifest; one that does not fit the copilot's model is refused, naming both files."""

from pathlib import Path

import pytest

from app.core.hub.installed import add_local
from tests.conftest import PATIENCE_MS
from tests.lora import write_control_vector, write_lora

pytestmark = pytest.mark.gui


@pytest.fixture
def installed(ctx, tmp_path: Path) -> None:
    for path in (
        write_lora(tmp_path / "finance.gguf", seed=1),
        write_control_vector(tmp_path / "calm.gguf", seed=1),
        write_control_vector(tmp_path / "wide.gguf", seed=1, n_embd=768),
    ):
        add_local(ctx, path)


def open_form(qtbot, window, copilot_id: str):
    window.roster.dialog = None
    window.roster.edit(copilot_id)
    qtbot.waitUntil(lambda: window.roster.dialog is not None and window.roster.dialog.isVisible(), timeout=PATIENCE_MS)
    return window.roster.dialog


def items(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def choose(combo, data) -> None:
    index = combo.findData(data)
    assert index >= 0, (data, items(combo))
    combo.setCurrentIndex(index)


def test_the_form_sets_an_adapter_and_a_control_vector_with_their_scales(qtbot, installed, window, ctx) -> None:
    dialog = open_form(qtbot, window, "writer")
    assert items(dialog.lora_combo) == ["None", "finance (for llama)"]
    assert items(dialog.vector_combo) == ["None", "calm (for llama)", "wide (for llama)"]
    assert items(dialog.model_combo) == ["(starter model)", "smollm2-135m (Q4_1)"]  # adapters are not models
    assert dialog.lora_combo.currentData() is None and dialog.lora_scale.value() == 1.0
    choose(dialog.lora_combo, "finance")
    dialog.lora_scale.setValue(0.5)
    choose(dialog.vector_combo, "calm")
    dialog.vector_strength.setValue(-1.5)
    with qtbot.waitSignal(window.roster.changed, timeout=PATIENCE_MS):  # saved on the database worker
        dialog.accept()
    saved = ctx.copilot("writer")
    assert (saved.lora, saved.lora_scale, saved.control_vector, saved.control_vector_strength) == (
        "finance",
        0.5,
        "calm",
        -1.5,
    )

    qtbot.waitUntil(lambda: window.copilots["writer"].lora == "finance", timeout=PATIENCE_MS)  # the window's refresh
    dialog = open_form(qtbot, window, "writer")  # the form shows what the manifest holds
    assert dialog.lora_combo.currentData() == "finance" and dialog.lora_scale.value() == 0.5
    assert dialog.vector_combo.currentData() == "calm" and dialog.vector_strength.value() == -1.5
    choose(dialog.lora_combo, None)
    with qtbot.waitSignal(window.roster.changed, timeout=PATIENCE_MS):
        dialog.accept()
    saved = ctx.copilot("writer")
    assert saved.lora is None and saved.control_vector == "calm"


def test_a_control_vector_that_does_not_fit_the_model_is_not_saved(qtbot, installed, window, ctx) -> None:
    dialog = open_form(qtbot, window, "analyst")
    choose(dialog.vector_combo, "wide")
    with qtbot.waitSignal(window.roster.message, timeout=PATIENCE_MS) as said:
        dialog.accept()
    assert "The control vector wide.gguf does not fit SmolLM2-135M-Instruct" in said.args[0]
    assert "768 wide" in said.args[0]
    assert ctx.copilot("analyst").control_vector is None


def test_the_scales_are_bounded_as_the_manifest_is(qtbot, installed, window) -> None:
    dialog = open_form(qtbot, window, "reviewer")
    dialog.lora_scale.setValue(9.0)
    dialog.vector_strength.setValue(-9.0)
    assert dialog.lora_scale.value() == 4.0 and dialog.vector_strength.value() == -4.0
    assert dialog.manifest()["lora_scale"] == 4.0 and dialog.manifest()["control_vector_strength"] == -4.0
    dialog.reject()
