"""A thread as a report an auditor can read: each question, the crew's path to its answer, every reply's
provenance and confidence, the sources it quoted, the tools it called, and how to reproduce it.

`build_report` reads the store once (off the GUI thread); `to_markdown` and `to_html` write it. The HTML is
one self-contained file (no scripts, no links out, inline styles and an inline SVG of the path) that opens
offline; `app/ui/report_pdf.py` prints the same HTML, less the SVG, to PDF through Qt. Everything that came
from a model, a document, a tool or a remote agent is text here: escaped, never markup.
"""

from __future__ import annotations

import html
import json
import platform
import re
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
MAX_SHOWN_CHARS = 4000  # of one tool result or passage: a report quotes, it does not copy whole files
_MAX_DIAGRAM_NODES = 24


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


def _short(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


def _tool_line(tool: ToolEvent) -> tuple[str, str]:
    arguments = json.dumps(tool.arguments, ensure_ascii=False) if tool.arguments is not None else "(unreadable)"
    return f"{tool.tool}({_short(arguments, 600)}) → {tool.status}", _short(tool.result or "")


# -- Markdown -------------------------------------------------------------------------------------------------


def _fence(text: str) -> str:
    """`text` in a fence longer than any run of backticks in it: shown as it is, never as Markdown."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text}\n{ticks}"


def _md(value: Any) -> str:
    """Text from outside (a name, a title, a note) on one Markdown line, read as text: the characters that make
    links, emphasis, code or HTML inside a line are escaped, and line breaks become spaces (each line this
    module writes starts with its own marker, so nothing from outside starts a line)."""
    text = re.sub(r"([\\`*\[\]<>|~])", r"\\\1", " ".join(str(value).split()))
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)  # `Q4_1` stays; `_it_` does not slant


def _mermaid(label: str) -> str:
    """A label inside a Mermaid node's quotes: its quote and angle brackets as Mermaid's entity codes."""
    return label.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_markdown(report: Report) -> str:
    out = [
        f"# Report: {_md(report.title)}",
        "",
        f"Thread {_md(report.thread_id)} in workspace {_md(report.workspace)}, "
        f"made {report.made_at} by Roundtable {_md(report.versions['roundtable'])}.",
        "",
    ]
    for n, run in enumerate(report.runs, 1):
        out += [f"## {n}. Question", "", _fence(run.question), ""]
        answer = run.answer
        if answer is not None:
            out += [f"### Answer ({_md(answer.name)})", "", _fence(answer.text), ""]
        out += ["### The crew's path", "", "```mermaid", "flowchart LR"]
        labels = path_of(run)
        for i, label in enumerate(labels):
            out.append(f'  n{i}["{_mermaid(label)}"]' + (f" --> n{i + 1}" if i + 1 < len(labels) else ""))
        out += ["```", ""]
        out += [f"- {_md(note)}" for note in run.notes] + ([""] if run.notes else [])
        for i, step in enumerate(run.steps, 1):
            out += [f"### Step {i}: {_md(step.name)}", ""]
            out += [f"- **{label}**: {_md(value)}" for label, value in provenance_rows(step)]
            out.append("")
            found = passages(step)
            if found:
                out += ["Sources:", ""]
                for p in found:
                    score = f", score {p['score']}" if p.get("score") is not None else ""
                    mark = " (cited)" if p.get("cited") else ""
                    out.append(
                        f"- \\[{_md(p.get('number'))}\\] {_md(p.get('title'))}"
                        + (f", {_md(p['location'])}" if p.get("location") else "")
                        + f"{score}{mark}"
                    )
                    if p.get("text"):
                        out += ["", _fence(_short(p["text"])), ""]
                out.append("")
            if step.tools:
                out += ["Tool calls:", ""]
                for tool in step.tools:
                    call, result = _tool_line(tool)
                    out += [f"- {_md(call)}", "", _fence(result), ""] if result else [f"- {_md(call)}"]
                out.append("")
            if step is not answer:
                out += ["Reply:", "", _fence(step.text), ""]
    out += ["## Reproducibility", ""]
    out += [f"- {name}: {_md(value)}" for name, value in report.versions.items()]
    out += [
        f"- roundtable threads replay {_md(report.thread_id)} asks every local reply's request again (same model "
        "files, prompts, passages, sampling and seed) and says whether each answer comes out identical.",
        "",
    ]
    return "\n".join(out)


# -- HTML -----------------------------------------------------------------------------------------------------

_STYLE = """
body { font-family: sans-serif; color: #1d2026; margin: 2em auto; max-width: 60em; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; border-bottom: 1px solid #d5d9e0; padding-bottom: .2em; }
h3 { font-size: 1.1em; } .muted { color: #5c6370; }
pre { white-space: pre-wrap; background: #f4f5f7; border: 1px solid #d5d9e0; padding: .6em; }
table.facts { border-collapse: collapse; } table.facts td { border: 1px solid #d5d9e0; padding: .2em .5em;
vertical-align: top; } table.facts td.label { color: #5c6370; white-space: nowrap; }
td.node { border: 1px solid #3b5bdb; padding: .3em .6em; } td.arrow { padding: 0 .4em; color: #5c6370; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pre(text: str) -> str:
    return f"<pre>{_e(text)}</pre>"


def diagram_svg(labels: list[str]) -> str:
    """The path as boxes joined by arrows, four to a row: an inline SVG, every label escaped."""
    shown = labels[:_MAX_DIAGRAM_NODES]
    per_row, width, height, gap = 4, 150, 34, 40
    rows = (len(shown) + per_row - 1) // per_row
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{per_row * (width + gap)}" height="{rows * (height + 30)}" '
        'role="img" aria-label="The crew\'s path">'
    ]
    for i, label in enumerate(shown):
        x, y = (i % per_row) * (width + gap), (i // per_row) * (height + 30)
        text = label if len(label) <= 20 else label[:19] + "…"
        parts.append(
            f'<rect x="{x}" y="{y}" width="{width}" height="{height}" rx="6" fill="#eef1f6" stroke="#3b5bdb"/>'
        )
        parts.append(f'<text x="{x + width / 2}" y="{y + 22}" text-anchor="middle" font-size="13">{_e(text)}</text>')
        if i + 1 < len(shown) and (i + 1) % per_row:
            parts.append(
                f'<line x1="{x + width}" y1="{y + height / 2}" x2="{x + width + gap - 4}" y2="{y + height / 2}" '
                'stroke="#5c6370" stroke-width="2"/>'
                f'<polygon points="{x + width + gap - 4},{y + height / 2 - 5} {x + width + gap},{y + height / 2} '
                f'{x + width + gap - 4},{y + height / 2 + 5}" fill="#5c6370"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def diagram_table(labels: list[str]) -> str:
    """The path as a one-row table of boxes and arrows: what Qt's rich text (the PDF) draws."""
    cells = []
    for i, label in enumerate(labels[:_MAX_DIAGRAM_NODES]):
        if i:
            cells.append('<td class="arrow">→</td>')
        cells.append(f'<td class="node">{_e(label)}</td>')
    return f"<table><tr>{''.join(cells)}</tr></table>"


def to_html(report: Report, *, svg: bool = True) -> str:
    """The report as one HTML file; `svg=False` draws the path as a table (for Qt's rich text)."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>Report: {_e(report.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Report: {_e(report.title)}</h1>",
        f'<p class="muted">Thread {_e(report.thread_id)} in workspace {_e(report.workspace)}, made '
        f"{_e(report.made_at)} by Roundtable {_e(report.versions['roundtable'])}.</p>",
    ]
    for n, run in enumerate(report.runs, 1):
        out += [f"<h2>{n}. Question</h2>", _pre(run.question)]
        answer = run.answer
        if answer is not None:
            out += [f"<h3>Answer ({_e(answer.name)})</h3>", _pre(answer.text)]
        out.append("<h3>The crew's path</h3>")
        labels = path_of(run)
        out.append(diagram_svg(labels) if svg else diagram_table(labels))
        if run.notes:
            out.append("<ul>" + "".join(f"<li>{_e(note)}</li>" for note in run.notes) + "</ul>")
        for i, step in enumerate(run.steps, 1):
            out.append(f"<h3>Step {i}: {_e(step.name)}</h3>")
            rows = "".join(
                f'<tr><td class="label">{_e(label)}</td><td>{_e(value)}</td></tr>'
                for label, value in provenance_rows(step)
            )
            out.append(f'<table class="facts">{rows}</table>')
            found = passages(step)
            if found:
                out.append("<p><b>Sources</b></p><ul>")
                for p in found:
                    score = f", score {_e(p['score'])}" if p.get("score") is not None else ""
                    where = f", {_e(p['location'])}" if p.get("location") else ""
                    mark = " (cited)" if p.get("cited") else ""
                    out.append(f"<li>[{_e(p.get('number'))}] {_e(p.get('title'))}{where}{score}{mark}")
                    if p.get("text"):
                        out.append(_pre(_short(p["text"])))
                    out.append("</li>")
                out.append("</ul>")
            if step.tools:
                out.append("<p><b>Tool calls</b></p><ul>")
                for tool in step.tools:
                    call, result = _tool_line(tool)
                    out.append(f"<li>{_e(call)}{_pre(result) if result else ''}</li>")
                out.append("</ul>")
            if step is not answer:
                out += ["<p><b>Reply</b></p>", _pre(step.text)]
    out.append("<h2>Reproducibility</h2><ul>")
    out += [f"<li>{_e(name)}: {_e(value)}</li>" for name, value in report.versions.items()]
    out.append(
        f"<li><code>roundtable threads replay {_e(report.thread_id)}</code> asks every local reply's request again "
        "(same model files, prompts, passages, sampling and seed) and says whether each answer comes out "
        "identical.</li></ul></body></html>"
    )
    return "\n".join(out)
