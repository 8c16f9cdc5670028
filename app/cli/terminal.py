"""Conversations on a terminal: one `Renderer` for a live run (`ask`, `run`) and a stored thread (`threads show`);
`render_events` prints a run as it comes, `terminal_approver` asks before a tool runs."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from app.cli.output import ctrl_c_cancels, print_json, terminal_safe
from app.core.crew.events import CrewError, CrewEvent, CrewStatus, CrewText, MessageEvent, RouteDecision
from app.core.crew.transcript import Card, Renderer, citation_label, status_word
from app.core.errors import ExitCode, exit_code_for_kind


class TerminalRenderer(Renderer):
    """A conversation on the terminal, live or stored: text as it comes, cards in brackets, sources below.

    Everything printed quotes a model, agent, tool, document or copilot manifest: it goes through terminal_safe.
    `headers` puts each author above its message (crew runs, stored threads); a plain `ask` prints only the
    answer. Either way a reply's sources are listed under it. `stored` is a thread read back: its errors are part of it
    (a live run's go to standard error). `traces` (message id -> trace) adds each reply's trace. Once more than one
    copilot has cited (`citing`: those known beforehand, for a stored thread), each source names its copilot.
    `confidence` (message id -> `cli.confidence.ReplyConfidence`, a stored thread's replies) marks each reply's
    low-probability tokens and lists them under it; `show_traces` whether the traces are printed too.
    """

    def __init__(
        self,
        headers: bool,
        stored: bool = False,
        traces: dict[str, Any] | None = None,
        citing: set[str] | None = None,
        confidence: dict[str, Any] | None = None,
        show_traces: bool = True,
    ) -> None:
        self.headers = headers
        self.stored = stored
        self.traces = traces
        self.citing = set(citing or ())
        self.confidence = confidence
        self.show_traces = show_traces

    def say(self, text: str) -> None:
        sys.stdout.write(terminal_safe(text))
        sys.stdout.flush()

    def on_message_started(self, event: MessageEvent) -> None:
        if self.headers:
            self.say(f"\n── {event.author} ──\n")

    def on_text(self, event: CrewText) -> None:
        reply = (self.confidence or {}).get(event.message_id)
        if reply is not None and reply.tokens:  # a stored reply: its whole text in one event
            from app.cli.confidence import marked

            sys.stdout.write(marked(event.delta, reply.tokens, sys.stdout.isatty()))
            sys.stdout.flush()
            return
        self.say(event.delta)

    def on_message_finished(self, event: MessageEvent) -> None:
        word = status_word(event.status)
        self.say(f"\n[{word}]\n" if word else "\n")
        if event.citations:
            self.citing.add(event.author)
        who = event.author if len(self.citing) > 1 else None
        for position, citation in enumerate(event.citations, 1):
            self.say(f"  {citation_label(citation, position, who)}\n")
        trace = (self.traces or {}).get(event.message_id)
        if self.traces is not None and self.show_traces and isinstance(trace, dict):
            fields = ", ".join(f"{k}={v}" for k, v in trace.items() if v is not None and k != "sampling")
            self.say(f"  trace: {fields}; sampling={trace.get('sampling')}\n")
        reply = (self.confidence or {}).get(event.message_id)
        if reply is not None:
            from app.cli.confidence import details

            for line in details(reply, trace):
                self.say(f"  {line}\n")

    def on_error(self, event: CrewError) -> None:
        if self.stored:
            self.say(f"(error: {event.message})\n")

    def on_card(self, event: CrewEvent, shown: Card) -> None:
        if self.headers or not isinstance(event, RouteDecision):
            self.say(f"[{shown.text}]\n")

    def on_status(self, event: CrewStatus) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"[{terminal_safe(event.message)}…]\r")


def render_events(events: Iterator[Any], as_json: bool, cancel: Any, headers: bool = False) -> tuple[int, str | None]:
    """Print a run's events as they come (or one JSON line each); returns the exit status and the thread."""
    from app.core.crew.events import CrewError, RunDone
    from app.core.crew.transcript import render

    status = 0
    thread_id = None
    err = sys.stderr
    terminal = TerminalRenderer(headers)
    with ctrl_c_cancels(cancel):
        for event in events:
            if as_json:
                print_json(event.to_dict())
            if isinstance(event, CrewError | RunDone):
                thread_id = event.thread_id
            if isinstance(event, CrewError):
                err.write(f"roundtable: {terminal_safe(event.message)}\n")
                # a reply the loop guard stopped is complete: what it said before looping stands
                status = status if event.status == "complete" else exit_code_for_kind(event.kind)
            elif isinstance(event, RunDone) and event.status == "interrupted" and status == 0:
                err.write(f"[stopped; partial reply kept in thread {event.thread_id}]\n")
                status = ExitCode.INTERRUPTED
            if not as_json:
                render(terminal, event)
    return status, thread_id


def terminal_approver(assume_yes: bool) -> Any:
    """Asks on the terminal whenever a copilot wants a tool not allowed always in the workspace.

    `--yes` allows each call of this run and saves nothing. The prompt goes to stderr (stdout may be a file);
    names and arguments are made inert first, so a hostile tool or model cannot repaint the question.
    """
    from app.core.crew.tools import Consent, format_arguments

    def approve(_workspace: str, copilot: str, tool: str, arguments: dict) -> Consent:
        if assume_yes:
            return Consent.ONCE
        who, what = terminal_safe(copilot), terminal_safe(tool)
        if not (sys.stdin.isatty() and sys.stderr.isatty()):  # nobody could see the question, or answer it
            sys.stderr.write(
                f"roundtable: {who} asked to use the tool {what}; not allowed, as nobody is at the terminal to ask:"
                " run it with --yes to allow tools for that run, or interactively to choose.\n"
            )
            return Consent.DENY
        sys.stderr.write(
            f"\n{who} wants to use the tool {what} with these arguments:\n"
            f"{terminal_safe(format_arguments(arguments))}\n"
            f"Allow {what}? [o]nce / [a]lways in this workspace / [N]o: "
        )
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()  # "" at end of input -> no
        return Consent(_CONSENT_KEYS.get(answer, "deny"))

    return approve


_CONSENT_KEYS = {"o": "once", "once": "once", "a": "always", "always": "always"}  # anything else: deny
