"""The window's run timeline and *Export report…*, on a real two-step run of the starter model."""

from pathlib import Path

import pytest

from tests.conftest import PATIENCE_MS
from tests.ui.test_main_window import RUN_MS, cap_reply, send

pytestmark = pytest.mark.gui


def test_the_timeline_shows_the_path_and_each_steps_provenance_and_the_report_exports(
    qtbot, window, ctx, tmp_path: Path
) -> None:
    window.welcome.dismiss_button.click()
    ctx.settings.max_hops = 0  # the plan's two steps, and no handoff after them
    for copilot in ("analyst", "writer"):
        cap_reply(ctx, copilot, 24)
    window.statusBar().clearMessage()
    window.open_timeline_action.trigger()  # no thread yet: it says what to do
    assert "Open a thread first" in window.statusBar().currentMessage()

    send(qtbot, window, "@analyst what is EBITDA, then @writer a haiku about it")
    qtbot.waitUntil(lambda: window.run_task is None, timeout=RUN_MS)
    window.open_timeline_action.trigger()
    qtbot.waitUntil(
        lambda: window.timeline_dialog is not None and window.timeline_dialog.isVisible(), timeout=PATIENCE_MS
    )
    tree = window.timeline_dialog.tree
    run = tree.topLevelItem(0)
    assert "what is EBITDA" in run.text(0)
    rows = {run.child(i).text(0): run.child(i) for i in range(run.childCount())}
    assert rows["Path"].text(1) == "Question → Analyst → Writer"
    steps = [item for label, item in rows.items() if label.startswith("Step")]
    assert [s.text(0) for s in steps] == ["Step 1: Analyst (complete)", "Step 2: Writer (complete)"]
    for step in steps:
        assert "SmolLM2-135M-Instruct.Q4_1.gguf" in step.text(1) and "tokens: mean p" in step.text(1)
        facts = {step.child(i).text(0): step.child(i).text(1) for i in range(step.childCount())}
        assert len(facts["Model file sha256"]) == 64 and facts["Seed"].isdigit()
        assert facts["Request sha256"].split()[0].isalnum()
    window.timeline_dialog.close()

    target = tmp_path / "crew report.pdf"
    from app.ui.run_report import export_report

    export_report(window, str(target))
    qtbot.waitUntil(lambda: "Wrote the report" in window.statusBar().currentMessage(), timeout=PATIENCE_MS)
    assert target.read_bytes().startswith(b"%PDF") and not list(tmp_path.glob(".*partial"))
