"""A report (`app.core.report`) written out: Markdown, or one self-contained HTML file (no scripts, no links
out, inline styles and an inline SVG of the crew's path). Everything that came from a model, a document, a tool
or a remote agent is text here: escaped or fenced, never markup."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from app.core.crew.events import ToolEvent
from app.core.report import Report, passages, path_of, provenance_rows

MAX_SHOWN_CHARS = 4000  # of one tool result or passage: a report quotes, it does not copy whole files
_MAX_DIAGRAM_NODES = 24


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
