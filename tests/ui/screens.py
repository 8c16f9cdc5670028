"""Drive the real window through the states people see first, save a PNG of each, and report clipped text.

Run on a real X display (Xvfb with a window manager; `tests/ui/test_screens.py` starts one per screen size):

    DISPLAY=:N ROUNDTABLE_HOME=... python -m tests.ui.screens OUT_DIR --size 1440x900 [--themes light,dark]

The main window is maximised on that screen, as a person would use it; dialogs open at their own size, which
must fit the screen. For each theme it saves: first run (offline), a crew thread (router choice, handoff, code
and a table), the model manager, the copilot form for a remote copilot, settings, the command palette and the
overlay with an answer. It prints one JSON line: {"shots": [...], "problems": {shot: [...]}}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.ui.clipping import clipped, horizontal_scroll_bars

PATIENCE_S = 120
TABLE = "| Year | Coupon | Price |\n|---|---|---|\n| 2025 | 4.0% | 98.20 |\n| 2026 | 4.5% | 101.35 |\n"
CODE = (
    "```python\ndef annual_coupon(face: float, rate: float) -> float:\n"
    '    """What a bond pays a year."""\n    return face * rate\n\nprint(annual_coupon(1000, 0.045))\n```\n'
)
ANALYST_REPLY = (
    "A bond's **coupon** is the interest it pays each year, as a share of its face value.\n\n"
    f"{TABLE}\nTo work it out:\n\n{CODE}\nSo a 1,000 bond at 4.5% pays **45 a year**."
)
WRITER_REPLY = "Bonds pay you to wait: a 4.5% coupon on 1,000 is 45 a year, every year, until it matures. #investing"


def wait(app: Any, predicate: Callable[[], Any], what: str, timeout: float = PATIENCE_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError(f"timed out waiting for {what}")


def settle(app: Any, seconds: float = 0.4) -> None:
    """Let layouts, posted events and the window manager catch up before a picture."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def seed(store: Any) -> str:
    """A thread as a crew run leaves it: the router's choice, an answer with a table and code, a handoff, a tweet."""
    from app.core.crew.events import HandoffEvent, RouteDecision

    trace = {"model": "SmolLM2-135M-Instruct", "quant": "Q4_1", "prompt_tokens": 212, "completion_tokens": 148}
    trace |= {"ttft_s": 0.31, "decode_tokens_per_s": 96.0}
    thread = store.create_thread("Bond coupons for the newsletter")
    store.add_message(thread.id, "user", "user", "What is a bond's coupon, worked out? Then make it a tweet.")
    store.record(thread.id, RouteDecision(author="router", copilot="analyst", reason="numbers first", by="router"))
    store.add_message(thread.id, "analyst", "assistant", ANALYST_REPLY, data={"trace": trace})
    handoff = HandoffEvent(author="analyst", from_="analyst", to="writer", task="make it a tweet", status="accepted")
    store.record(thread.id, handoff)
    store.add_message(thread.id, "writer", "assistant", WRITER_REPLY, data={"trace": trace})
    remote = {"id": "desk", "name": "Company desk", "color": "#0f766e", "provider": "openai"}
    remote |= {"endpoint": "https://agents.example.test/v1", "model": "desk-large", "api_key_name": "desk-key"}
    remote |= {"description": "The company agent on the server: policies, figures of record."}
    store.save_copilot("desk", remote["name"], remote)
    store.set_roster("default", [*store.roster("default"), "desk"])
    # the overlay's answer comes from the starter model: greedy, so each run's picture shows the same words
    manifest = next(row["manifest"] for row in store.copilot_rows() if row["id"] == "generalist")
    manifest["sampling"] = {**manifest.get("sampling", {}), "temperature": 0.0}
    store.save_copilot("generalist", manifest["name"], manifest)
    return thread.id


class Shots:
    """Pictures and the clipped text found in each."""

    def __init__(self, out: Path, app: Any) -> None:
        self.out, self.app = out, app
        self.names: list[str] = []
        self.problems: dict[str, list[str]] = {}

    def take(self, name: str, widget: Any, *scrolled: Any) -> None:
        settle(self.app)
        found = clipped(widget) + horizontal_scroll_bars(*scrolled)
        screen = widget.screen().availableGeometry()
        frame = widget.frameGeometry()
        if frame.width() > screen.width() + 1 or frame.height() > screen.height() + 1:  # 1 px: rounding at 2x
            found.append(f"{type(widget).__name__} is {frame.width()}×{frame.height()}, larger than the screen")
        if found:
            self.problems[name] = found
        path = self.out / f"{name}.png"
        if not widget.grab().save(str(path)):
            raise OSError(f"could not write {path}")
        self.names.append(path.name)


def run(out: Path, size: str, themes: list[str]) -> dict:
    from app.core.context import AppContext
    from app.ui.main_window import MainWindow
    from app.ui.operations import query
    from app.ui.overlay import Overlay
    from app.ui.qt import QApplication
    from app.ui.theme import apply_theme

    app = QApplication(sys.argv[:1])
    ctx = AppContext()
    shots = Shots(out, app)
    apply_theme(app, themes[0])
    window = MainWindow(ctx)
    window.showMaximized()
    wait(app, lambda: window.roster.list.count() >= 4, "the roster")
    wait(app, lambda: window.welcome is not None and window.welcome.isVisible(), "the welcome view")
    seeded: list[str] = []
    query(lambda: seed(ctx.store), seeded.append, lambda message: seeded.append(f"! {message}"))
    thread_id = wait(app, lambda: seeded and seeded[0], "the seeded thread")
    assert not thread_id.startswith("! "), thread_id
    overlay = Overlay(ctx, lambda: "default", lambda: False)
    for theme in themes:  # first: the welcome goes once a thread is open
        apply_theme(app, theme)
        shots.take(f"first-run-{theme}-{size}", window, window.sidebar.threads, window.roster.list)

    for theme in themes:
        apply_theme(app, theme)
        tag = f"{theme}-{size}"
        window.refresh_roster()
        window.refresh_threads()
        wait(app, lambda: "desk" in window.copilots, "the remote copilot in the roster")
        window.open_thread(thread_id)
        wait(app, lambda: len(window.thread_view.messages) == 3, "the thread")
        settle(app)
        window.thread_view.scroll_to_bottom()
        shots.take(f"thread-{tag}", window, window.sidebar.threads, window.roster.list)

        window.open_models()
        shots.take(f"models-{tag}", window.models_panel)
        window.models_panel.close()

        window.roster.edit("desk")
        form = wait(app, lambda: getattr(window.roster, "dialog", None), "the copilot form")
        wait(app, form.isVisible, "the copilot form shown")
        shots.take(f"copilot-form-remote-{tag}", form)
        form.reject()
        window.roster.dialog = None

        window.open_settings()
        shots.take(f"settings-{tag}", window.settings_dialog)
        window.settings_dialog.reject()

        window.open_palette()
        window.command_palette.filter.setText("o")
        shots.take(f"palette-{tag}", window.command_palette)
        window.command_palette.reject()

        overlay.present()
        overlay.prompt.setPlainText("What is a bond? One sentence.")
        overlay.ask()
        wait(app, lambda: overlay.run_task is None and overlay.answer.strip(), "the overlay's answer")
        shots.take(f"overlay-{tag}", overlay)
        overlay.dismiss()
    window.documents.stop_watching()
    window.close()
    ctx.close()
    return {"shots": shots.names, "problems": shots.problems}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", required=True)
    parser.add_argument("--themes", default="light,dark")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(json.dumps(run(args.out, args.size, args.themes.split(","))), flush=True)


if __name__ == "__main__":
    main()
