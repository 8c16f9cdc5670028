"""A thread as a report an auditor can read: each question, the crew's path to its answer, every reply's
provenance and confidence, the sources it quoted, the tools it called, and how to reproduce it.

`build_report` reads the store once (off the GUI thread); `report_render.py`'s `to_markdown` and `to_html`
write it. The HTML is one self-contained file (no scripts, no links out, inline styles and an inline SVG of the
path) that opens offline; `app/ui/report_pdf.py` prints the same HTML, less the SVG, to PDF through Qt.
Everything that came from a model, a document, a tool or a remote agent is text here: escaped, never markup.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app import __version__
from app.core.crew.events import (
    ConsultEvent,
    CrewEvent,
    HandoffEvent,
    LimitEvent,
    MessageEvent,
    PlanEvent,
    RouteDecision,
    ToolEvent,
)
from app.core.providers.base import Citation
from app.core.store import STATUS_STREAMING, Store

REPORT_FORMATS = ("html", "md", "pdf")
_FORMAT_NAMES = {"htm": "html", "markdown": "md"}


@dataclass
class Step:
    """One reply of a run, with what stood behind it."""

    message_id: str
    copilot: str
    name: str
    status: str
    text: str
    created_at: str
    trace: dict[str, Any]
    citations: list[Citation] = field(default_factory=list)
    tools: list[ToolEvent] = field(default_factory=list)
    how: str = ""  # how it got the turn: routed, planned, a handoff, a consult

    @property
    def provenance(self) -> dict[str, Any]:
        found = self.trace.get("provenance")
        return found if isinstance(found, dict) else {}


@dataclass
class Run:
    """A question and what the crew did with it, in order."""

    question: str
    asked_by: str
    asked_at: str
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the router's choice, the plan, refusals, limits, in order

    @property
    def answer(self) -> Step | None:
        """The last complete reply (else the last reply): the run's answer."""
        complete = [s for s in self.steps if s.status == "complete"]
        chosen = complete or self.steps
        return chosen[-1] if chosen else None


@dataclass
class Report:
    thread_id: str
    title: str
    workspace: str
    runs: list[Run]
    made_at: str
    versions: dict[str, str]


def build_report(store: Store, thread_id: str, names: dict[str, str] | None = None) -> Report:
    """The report of a thread; `names` maps copilot ids to display names (unknown ids show as they are)."""
    names = names or {}
    thread = store.get_thread(thread_id)
    messages = {m.id: m for m in store.messages(thread_id)}
    runs: list[Run] = []
    steps: dict[str, Step] = {}
    how = "asked"
    for event in store.timeline(thread_id):
        if isinstance(event, MessageEvent) and event.status == STATUS_STREAMING:
            message = messages.get(event.message_id)
            if message is None:
                continue
            if message.role == "user":
                runs.append(Run(message.text, message.author, message.created_at))
                how = "asked"
                continue
            if not runs:
                runs.append(Run("", "", message.created_at))
            trace = message.data.get("trace") if isinstance(message.data.get("trace"), dict) else {}
            step = Step(
                message.id,
                message.author,
                names.get(message.author, message.author),
                message.status,
                message.text,
                message.created_at,
                trace or {},
                how=how,
            )
            steps[message.id] = step
            runs[-1].steps.append(step)
            how = "after " + step.copilot
        elif isinstance(event, MessageEvent):
            ended = steps.get(event.message_id)
            if ended is not None:
                ended.citations = list(event.citations)
        elif runs:
            note, how = _note(event, how, runs[-1])
            if note:
                runs[-1].notes.append(note)
    return Report(
        thread_id=thread_id,
        title=thread.title or "Untitled thread",
        workspace=thread.workspace_id,
        runs=runs,
        made_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        versions=_versions(),
    )


def _note(event: CrewEvent, how: str, run: Run) -> tuple[str, str]:
    """A run event as one line of the path, and how the next reply got its turn."""
    if isinstance(event, RouteDecision):
        return f"The router chose {event.copilot} ({event.by or 'router'}): {event.reason}", f"routed ({event.by})"
    if isinstance(event, PlanEvent):
        plan = "; ".join(f"{s.get('copilot')}: {s.get('task')}" for s in event.steps if isinstance(s, dict))
        return f"Plan: {plan}", "planned step"
    if isinstance(event, HandoffEvent):
        if event.status == "accepted":
            return f"{event.from_} handed off to {event.to}: {event.task}", f"handoff from {event.from_}"
        return f"{event.from_}'s handoff to {event.to} was not followed: {event.reason}", how
    if isinstance(event, ConsultEvent):
        if event.status == "asked":
            return f"{event.from_} consulted {event.to}: {event.question}", f"consulted by {event.from_}"
        if event.status == "rejected":
            return f"{event.from_}'s consult of {event.to} was not made: {event.reason}", how
        return "", how
    if isinstance(event, ToolEvent):
        if run.steps and event.status != "called":
            run.steps[-1].tools.append(event)
        return "", how
    if isinstance(event, LimitEvent):
        return event.message, how
    return "", how


def _versions() -> dict[str, str]:
    found = {"roundtable": __version__, "python": platform.python_version(), "platform": platform.platform()}
    try:
        from importlib.metadata import version

        found["llama-cpp-python"] = version("llama-cpp-python")
    except Exception:  # not installed, or no metadata (a frozen build)
        found["llama-cpp-python"] = "unknown"
    return found


def report_format(target: Path) -> str | None:
    """The format a report file's name asks for (`html`, `md` or `pdf`); None when it names none of them."""
    kind = target.suffix.lstrip(".").lower()
    kind = _FORMAT_NAMES.get(kind, kind)
    return kind if kind in REPORT_FORMATS else None


def write_report(
    report: Report, target: Path, kind: str, write_pdf: Callable[[Report, Path], None] | None = None
) -> None:
    """Write the report as `kind` to `target`, whole or not at all (a partial file beside it, then renamed).
    A PDF needs `write_pdf` (`app.ui.report_pdf.write_pdf`: Qt prints it). OSError when it cannot be written;
    the partial file is gone."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        if kind == "pdf":
            assert write_pdf is not None, "a PDF is printed by Qt: pass app.ui.report_pdf.write_pdf"
            write_pdf(report, partial)
        else:
            from app.core.report_render import to_html, to_markdown

            partial.write_text(to_html(report) if kind == "html" else to_markdown(report), encoding="utf-8")
        partial.replace(target)
    except OSError:
        partial.unlink(missing_ok=True)
        raise


# -- what each step says --------------------------------------------------------------------------------------


def model_line(step: Step) -> str:
    """`SmolLM2-135M-Instruct.Q4_1.gguf · Q4_1`, or the remote endpoint and model."""
    trace = step.trace
    if trace.get("provider") == "local" or trace.get("model_file"):
        parts = [str(trace.get("model_file") or "?")]
        if trace.get("quant"):
            parts.append(str(trace["quant"]))
        return " · ".join(parts)
    where = trace.get("endpoint") or trace.get("base_url") or trace.get("provider") or "unknown"
    return f"{trace.get('provider', 'remote')} · {where}" + (f" · {trace['model']}" if trace.get("model") else "")


def provenance_rows(step: Step) -> list[tuple[str, str]]:
    """A step's provenance as (label, value) rows, the same in every format."""
    p, trace = step.provenance, step.trace
    sampling: dict[str, Any] = trace["sampling"] if isinstance(trace.get("sampling"), dict) else {}
    rows = [
        ("Copilot", f"{step.name} ({step.copilot})"),
        ("How it got the turn", step.how),
        ("Model", model_line(step)),
    ]
    if p.get("model_sha256"):
        rows.append(("Model file sha256", str(p["model_sha256"])))
    for adapter in p.get("adapters") or []:
        rows.append(
            ("LoRA adapter", f"{adapter.get('path')} × {adapter.get('scale')} (sha256 {adapter.get('sha256')})")
        )
    for vector in p.get("control_vectors") or []:
        rows.append(
            ("Control vector", f"{vector.get('path')} × {vector.get('strength')} (sha256 {vector.get('sha256')})")
        )
    if p:
        rows.append(("System prompt", f"sha256 {p.get('system_prompt_sha256')}, {p.get('system_prompt_chars')} chars"))
        rows.append(("Manifest version", f"sha256 {p.get('manifest_sha256')}"))
    if sampling:
        shown = ", ".join(f"{k} {v}" for k, v in sampling.items() if v is not None)
        rows.append(("Sampling", shown))
    rows.append(("Seed", str(p.get("seed") if p.get("seed") is not None else sampling.get("seed", "none"))))
    if p.get("request_sha256"):
        rows.append(("Request sha256", f"{p['request_sha256']} ({p.get('messages')} messages)"))
    rows.append(("Confidence", confidence_line(trace)))
    rows.append(("Status", step.status + (f" ({trace.get('finish_reason')})" if trace.get("finish_reason") else "")))
    if trace.get("why"):
        rows.append(("Why this copilot", str(trace["why"])))
    return rows


def confidence_line(trace: dict[str, Any]) -> str:
    entry = trace.get("confidence")
    if not isinstance(entry, dict):
        return "no confidence data"
    if entry.get("missing"):
        return str(entry["missing"])
    if not entry.get("tokens"):
        return "no tokens recorded"
    return (
        f"{entry['tokens']} tokens: mean p {entry.get('mean_p')}, minimum p {entry.get('min_p')}, "
        f"{100 * float(entry.get('under_half') or 0):.0f}% under 0.5"
    )


def passages(step: Step) -> list[dict[str, Any]]:
    """The passages the step was given (from its provenance, with scores), each with the quoted text and whether
    the reply cited it (from its citations)."""
    quoted = {c.number: c for c in step.citations if c.number is not None}
    found = []
    for entry in step.provenance.get("passages") or []:
        citation = quoted.get(entry.get("number"))
        found.append(
            {**entry, "cited": bool(citation and citation.cited), "text": citation.passage if citation else ""}
        )
    if not found:  # a remote agent's own sources, or a reply from before provenance
        for n, c in enumerate(step.citations, 1):
            found.append(
                {
                    "number": c.number or n,
                    "title": c.source,
                    "location": c.location,
                    "score": None,
                    "cited": c.cited,
                    "text": c.passage,
                }
            )
    return found


def path_of(run: Run) -> list[str]:
    """The run's path as node labels: the question, then each reply's copilot in order."""
    return ["Question"] + [step.name for step in run.steps]
