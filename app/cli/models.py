"""`roundtable models`: find, size up, download, queue and manage GGUF models."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.output import ProgressBar, ctrl_c_cancels, human_bytes, print_json, table, terminal_safe

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.core.hub.download import Progress
    from app.core.hub.installed import InstalledModel
    from app.core.hub.queue import DownloadEntry

_FIT_WORDS = {"gpu": "fits on GPU", "partial": "partial", "cpu": "CPU", "no": "won't fit"}


def cmd_search(args: argparse.Namespace, _ctx: AppContext) -> int:
    from app.core.hub.catalog import search

    results = search(args.query, limit=args.limit)
    if args.json:
        print_json([asdict(r) for r in results])
        return 0
    if not results:
        print(f"No GGUF models match '{args.query}'.")
        return 0
    table(
        ["REPO", "DOWNLOADS", "LIKES", "UPDATED", "CHAT"],
        [
            [r.repo, f"{r.downloads:,}", r.likes, (r.last_modified or "")[:10], "yes" if r.instruct else ""]
            for r in results
        ],
    )
    return 0


def cmd_files(args: argparse.Namespace, _ctx: AppContext) -> int:
    from app.core.hardware import probe
    from app.core.hub.catalog import list_files

    hardware = probe()
    listing = list_files(args.repo, hardware, args.ctx)
    if args.json:
        print_json([f.to_dict() for f in listing.files])
        return 0
    rows = []
    for file in listing.files:
        fit = _FIT_WORDS.get(file.fit or "", "adapter" if file.kind == "lora" else "?")
        if file.fit == "partial":
            fit = f"partial ({file.gpu_layers} layers on GPU)"
        name = file.filename + (f" ({len(file.parts)} parts)" if len(file.parts) > 1 else "")
        rows.append(
            [
                "*" if file.recommended else "",
                name,
                file.quant or "?",
                human_bytes(file.size_bytes),
                fit,
                human_bytes(file.est_memory_bytes) if file.est_memory_bytes else "",
            ]
        )
    table(["", "FILE", "QUANT", "SIZE", "FIT", f"NEEDS @ {args.ctx} ctx"], rows)
    chosen = listing.recommended
    where = f"{hardware.backend}, {human_bytes(hardware.ram_available_bytes)} RAM free"
    if hardware.gpu_free_bytes:
        where += f", {human_bytes(hardware.gpu_free_bytes)} GPU memory free"
    print(f"\n* recommended for this machine ({where})" if chosen else f"\nNothing here fits this machine ({where}).")
    return 0


class _PullProgress:
    """Progress of a download on the terminal: a bar per file, or a JSON line every half second with --json."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.bars: dict[str, ProgressBar] = {}
        self.last_json = 0.0

    def __call__(self, progress: Progress) -> None:
        finished = progress.done_bytes == progress.total_bytes
        if self.as_json:
            now = time.monotonic()
            if now - self.last_json >= 0.5 or finished:
                self.last_json = now
                print_json(
                    {
                        "type": "progress",
                        "filename": progress.filename,
                        "done_bytes": progress.done_bytes,
                        "total_bytes": progress.total_bytes,
                        "speed_bps": round(progress.speed_bps),
                        "eta_s": progress.eta_s,
                    }
                )
            return
        bar = self.bars.setdefault(progress.filename, ProgressBar(progress.filename))
        bar.update(progress.done_bytes, progress.total_bytes, progress.speed_bps, progress.eta_s, force=finished)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def cmd_pull(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.hub.installed import pull_model
    from app.core.providers.base import CancelToken

    cancel = CancelToken()
    report = _PullProgress(args.json)
    try:
        with ctrl_c_cancels(cancel):
            model_id, chosen = pull_model(
                ctx, args.repo, quant=args.quant, filename=args.file, progress=report, cancel=cancel
            )
    finally:
        report.close()
    if args.json:
        print_json(
            {
                "type": "done",
                "model_id": model_id,
                "filename": chosen.filename,
                "quant": chosen.quant,
                "size_bytes": chosen.size_bytes,
            }
        )
    else:
        installed = terminal_safe(f"Installed {chosen.filename} as '{model_id}'.")  # the Hub listing named the file
        print(f"{installed} {_try_it(ctx, model_id)}")
    return 0


def cmd_downloads(args: argparse.Namespace, ctx: AppContext) -> int:
    """`models downloads [pause|resume|cancel ID]`: the download queue the window shows, and steering it."""
    from app.core.hub import queue

    downloads = queue.DownloadQueue.of(ctx)
    action = args.downloads_command
    if action is None:
        entries = downloads.entries()
        if args.json:
            print_json([e.to_dict() for e in entries])
        elif not entries:
            print("No downloads. Start one with `roundtable models pull REPO` or from the window's model manager.")
        else:
            table(
                ["ID", "STATE", "DONE", "SIZE", "REPO", "FILE", "NOTE"],
                [
                    [e.id, e.state, f"{e.fraction:.0%}", human_bytes(e.size_bytes), e.repo, e.filename, _note(e)]
                    for e in entries
                ],
            )
        return 0
    if action == "pause":
        entry = downloads.pause(args.id)
        paused = terminal_safe(f"Paused download {entry.id} ({entry.filename}): it stops at its next block;")
        print(f"{paused} resume it with `roundtable models downloads resume {entry.id}` or the window's Resume button.")
        return 0
    if action == "cancel":
        entry = downloads.cancel(args.id)
        print(terminal_safe(f"Cancelled download {entry.id} ({entry.filename}) and removed it from the queue."))
        return 0
    from app.core.providers.base import CancelToken

    cancel = CancelToken()
    report = _PullProgress(args.json)
    try:
        with ctrl_c_cancels(cancel):  # Ctrl+C pauses again: the partial file stays
            model_id = queue.resume(ctx, args.id, progress=report, cancel=cancel)
    finally:
        report.close()
    if args.json:
        print_json({"type": "done", "id": args.id, "model_id": model_id})
    else:
        print(f"Installed download {args.id} as '{model_id}'. Try: roundtable ask --model {model_id} \"Hello\"")
    return 0


def _note(entry: DownloadEntry) -> str:
    """The queue table's last column: who downloads it, or why it failed (`table` makes a Hub error inert)."""
    from app.core.hub.queue import FAILED, RUNNING

    if entry.state == RUNNING:
        return f"process {entry.owner_pid}"
    if entry.state == FAILED:
        return (entry.error or "")[:100]
    return f"installed as '{entry.model_id}'" if entry.model_id else ""


def _kind(model: InstalledModel) -> str:
    if model.adapter == "control_vector":
        return f"control vector for {model.architecture or '?'}"
    return f"{model.adapter.upper()} for {model.architecture}" if model.adapter else (model.architecture or "?")


def cmd_ls(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.hub.installed import installed_models

    models = installed_models(ctx)
    if args.json:
        print_json([m.to_dict() for m in models])
        return 0
    table(
        ["ID", "KIND", "QUANT", "SIZE", "SOURCE", "USED BY", "PATH"],
        [
            [
                m.id,
                _kind(m),
                m.quant or "?",
                human_bytes(m.size_bytes),
                m.source,
                # a model's users with their adapters: they all share its host
                ", ".join(s.label() for s in m.specialists) if m.specialists else ", ".join(m.used_by) or "-",
                m.path if m.present else f"{m.path} (MISSING)",
            ]
            for m in models
        ],
    )
    shared = [m for m in models if len(m.specialists) > 1 and m.present]
    if shared:
        print("\nCopilots on one base model share one process: the base is loaded once, each adapter beside it.")
        for model in shared:
            print(terminal_safe(_sharing(ctx, model)))
    return 0


def _sharing(ctx: AppContext, model: InstalledModel) -> str:
    """`base X: a, b (adapter …) — one process, about N at C tokens (M as one process each)`."""
    from app.core.errors import ModelFileError
    from app.core.hardware import probe
    from app.core.hub.fit import Architecture, estimate
    from app.core.hub.installed import sharing_text
    from app.core.providers.local import check_model

    line = sharing_text(model.id, model.specialists)
    try:
        arch = Architecture.from_metadata(check_model(Path(model.path)).metadata)
    except ModelFileError:
        return line
    sizes = {}
    for specialist in model.specialists:
        for ref in (specialist.lora, specialist.control_vector):
            if ref and Path(ref).exists():
                sizes[ref] = Path(ref).stat().st_size
    hardware, context = probe(), ctx.settings.context_size
    together = estimate(arch, model.size_bytes, context, hardware, sizes.values()).est_memory_bytes
    # one process per distinct adapter set: what these copilots would hold without sharing the base
    alone = {(s.lora, s.control_vector) for s in model.specialists}
    apart = sum(
        estimate(arch, model.size_bytes, context, hardware, [sizes[p] for p in paths if p in sizes]).est_memory_bytes
        for paths in alone
    )
    return (
        f"{line}: one process, about {human_bytes(together)} at {context:,} tokens "
        f"({human_bytes(apart)} as one process per adapter set)"
    )


def cmd_rm(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.hub.installed import remove

    record = ctx.store.get_model(args.id)
    moved = remove(ctx, args.id, force=args.force)
    kind = record["metadata"].get("adapter") if record else None
    instead = "the starter model" if kind is None else "no control vector" if kind == "control_vector" else "no adapter"
    note = f"; {', '.join(moved)} now use {instead}" if moved else ""
    print(f"Removed '{args.id}'{note}.")
    return 0


def cmd_add(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.hub.installed import add_local

    model_id = add_local(ctx, Path(args.path))
    print(f"Added {Path(args.path).name} as '{model_id}'. {_try_it(ctx, model_id)}")
    return 0


def _try_it(ctx: AppContext, model_id: str) -> str:
    """What to run next with a newly installed model, or adapter."""
    record = ctx.store.get_model(model_id)
    kind = record["metadata"].get("adapter") if record is not None else None
    if record is not None and kind:
        base = record["metadata"].get("architecture")
        option = "--control-vector" if kind == "control_vector" else "--lora"
        return f"Try: roundtable copilots edit ID {option} {model_id} (a copilot on a {base} model)"
    return f'Try: roundtable ask --model {model_id} "Hello"'


def register(commands: Any) -> None:
    """Add `models` to the command parser."""
    models = commands.add_parser("models", help="find, download and manage GGUF models")
    actions = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    search = actions.add_parser("search", help="GGUF model repos on the Hugging Face Hub")
    search.add_argument("query")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=cmd_search, needs_context=False)

    files = actions.add_parser("files", help="a repo's GGUF files, with a fit verdict for this machine")
    files.add_argument("repo")
    files.add_argument("--ctx", type=int, default=4096, help="context size to size the KV cache for")
    files.add_argument("--json", action="store_true")
    files.set_defaults(handler=cmd_files, needs_context=False)

    pull = actions.add_parser("pull", help="download a model (resumable, verified) and install it")
    pull.add_argument("repo")
    choice = pull.add_mutually_exclusive_group()
    choice.add_argument("--quant", help="e.g. Q4_K_M (default: the recommended file)")
    choice.add_argument("--file", help="an exact file name from `models files`")
    pull.add_argument("--json", action="store_true")
    pull.set_defaults(handler=cmd_pull)

    downloads = actions.add_parser(
        "downloads", help="the download queue (the same one the window shows); pause, resume or cancel one"
    )
    downloads.add_argument("--json", action="store_true")
    steer = downloads.add_subparsers(dest="downloads_command", metavar="ACTION")
    for name, text in (
        ("pause", "stop a download at its next block, keeping what was verified (also one running elsewhere)"),
        ("resume", "continue a paused or failed download here, from its partial file (Ctrl+C pauses it again)"),
        ("cancel", "remove a download from the queue and delete its partial file"),
    ):
        step = steer.add_parser(name, help=text)
        step.add_argument("id", type=int, help="the ID `roundtable models downloads` shows")
        step.add_argument("--json", action="store_true")
    downloads.set_defaults(handler=cmd_downloads)

    ls = actions.add_parser("ls", help="installed models, their size and which copilots use them")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_ls)

    rm = actions.add_parser("rm", help="remove an installed model (and the files Roundtable downloaded)")
    rm.add_argument("id")
    rm.add_argument("--force", action="store_true", help="even if copilots use it (they move to the starter)")
    rm.set_defaults(handler=cmd_rm)

    add = actions.add_parser("add", help="register a GGUF file you already have")
    add.add_argument("path")
    add.set_defaults(handler=cmd_add)
