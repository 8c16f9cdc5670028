"""Operations deliver their answers on the GUI thread, and drop an answer whose widget is gone."""

from __future__ import annotations

import threading

from app.core.errors import RoundtableError
from app.ui.operations import Operation
from app.ui.qt import QLabel, QWidget, Signal


class Panel(QWidget):
    message = Signal(str)


def test_answers_arrive_on_the_gui_thread_in_order(qtbot) -> None:
    seen: list[tuple[str, object, bool]] = []
    gui = threading.current_thread()

    def record(kind: str):
        return lambda *args: seen.append((kind, args[0] if args else None, threading.current_thread() is gui))

    def work(emit, _cancel):
        emit(1)
        emit(2)
        return "done"

    operation = Operation(work).with_progress(record("progress")).success(record("success"))
    operation.finally_(record("finally")).run_in_background()
    qtbot.waitUntil(lambda: len(seen) == 4, timeout=5000)
    assert seen == [("progress", 1, True), ("progress", 2, True), ("success", "done", True), ("finally", None, True)]


def test_a_failure_for_a_deleted_widget_is_dropped_not_raised(qtbot) -> None:
    """A panel closed while its query ran: the query fails (the store closed) and nobody is there to say so."""
    panel, label = Panel(), QLabel()
    release = threading.Event()

    def work(_emit, _cancel):
        release.wait(5)
        raise RoundtableError("Database error: Cannot operate on a closed database.")

    said: list[str] = []
    operation = Operation(work).failure(panel.message.emit).failure(label.setText).failure(said.append)
    operation.run_in_background()
    panel.deleteLater()
    label.deleteLater()
    qtbot.waitUntil(lambda: not _alive(panel) and not _alive(label), timeout=5000)
    release.set()
    qtbot.waitUntil(lambda: said != [], timeout=5000)  # pytest-qt fails the test on an exception in a slot
    assert said == ["Database error: Cannot operate on a closed database."]


def test_a_bug_in_an_answer_still_raises(qtbot) -> None:
    def broken(_result) -> None:
        raise RuntimeError("a real bug")

    operation = Operation(lambda _emit, _cancel: 1).success(broken)
    with qtbot.captureExceptions() as caught, qtbot.waitSignal(operation.finished, timeout=5000):
        operation.run_in_background()
    assert [str(exc[1]) for exc in caught] == ["a real bug"]


def _alive(widget: QWidget) -> bool:
    from app.ui.qt import isValid

    return isValid(widget)
