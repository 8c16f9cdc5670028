"""`roundtable run`, `roundtable tasks` and `roundtable copilots`: the crew from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli import remote
from app.cli.chat import render_events, terminal_approver
from app.cli.common import workspace_id
from app.cli.output import inert_toml, print_json, table, terminal_safe
from app.core.errors import UsageError

# manifest fields settable from the command line: option -> (field, parser)
_LIST = "list"
_FIELDS: dict[str, tuple[str, Any]] = {
    "name": ("name", str),
    "color": ("color", str),
    "description": ("description", str),
    "skills": ("skills", _LIST),
    "model": ("model", str),
    "lora": ("lora", str),
    "lora_scale": ("lora_scale", float),
    "system": ("system_prompt", str),
    "temperature": ("sampling.temperature", float),
    "top_p": ("sampling.top_p", float),
    "max_tokens": ("sampling.max_tokens", int),
    "seed": ("sampling.seed", int),
    "context_size": ("context_size", int),
    "handoff_to": ("handoff_to", _LIST),
    "tools": ("tools", _LIST),
    "agent": ("agent", str),
    "knowledge": ("knowledge", bool),
    "api_key_name": ("api_key_name", str),
    "trust_card_origins": ("trust_card_origins", bool),
}
_REMOTE_KINDS = ("openai", "openbb", "a2a")


def cmd_run(args: argparse.Namespace, ctx: Any) -> int:
    from app.core.crew.engine import run_task
    from app.core.providers.base import CancelToken

    task = " ".join(args.task).strip() or ("" if sys.stdin.isatty() else sys.stdin.read())
    copilots = [c.strip() for c in args.copilots.split(",") if c.strip()] if args.copilots else None
    cancel = CancelToken()
    events = run_task(
        ctx,
        task,
        workspace=args.workspace,
        copilot_ids=copilots,
        max_hops=args.max_hops,
        cancel=cancel,
        approve=terminal_approver(args.yes),
    )
    status, thread_id = render_events(events, args.json, cancel, headers=True)
    if not args.json and thread_id:
        print(f"\n[thread {thread_id}: `roundtable threads show {thread_id} --trace` for the details]")
    return status


def cmd_tasks_ls(args: argparse.Namespace, ctx: Any) -> int:
    tasks = ctx.store.tasks(workspace_id=workspace_id(ctx, args.workspace))
    if args.json:
        print_json([vars(t) for t in tasks])
        return 0
    if not tasks:
        print("No tasks yet: copilots make tasks when they hand work to each other in `roundtable run`.")
        return 0
    table(
        ["ID", "STATUS", "FROM", "TO", "THREAD", "TASK"],
        [[t.id, t.status, t.from_copilot, t.to_copilot, t.thread_id, t.task[:60]] for t in tasks],
    )
    return 0


def _apply(data: dict, args: argparse.Namespace) -> dict:
    """Set the manifest fields given as options on a manifest dict."""
    for kind in _REMOTE_KINDS:
        url = getattr(args, kind, None)
        if url:
            data.update(provider=kind, endpoint=url)
    for option, (path, kind) in _FIELDS.items():
        value = getattr(args, option, None)
        if value is None:
            continue
        if kind == _LIST:
            value = [v.strip() for v in value.split(",") if v.strip()]
        node = data
        *parents, leaf = path.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return data


def _save(ctx: Any, data: dict, source: str) -> Any:
    from app.core.crew.copilots import parse_manifest

    copilot = parse_manifest(data, source)
    known = {c.id for c in ctx.copilots()}
    unknown = [target for target in copilot.handoff_to if target not in known and target != copilot.id]
    if unknown:
        raise UsageError(f"Copilot manifest {source}: 'handoff_to' names unknown copilots: {', '.join(unknown)}.")
    if copilot.provider == "local" and copilot.model:
        ctx.resolve_model(copilot.model)
    if copilot.provider == "local" and copilot.context_size:
        from app.core.errors import ModelFileError
        from app.core.providers.local import check_context_size

        try:
            model_path = ctx.resolve_model(copilot.model)
        except ModelFileError:  # no starter model to measure against: the first reply says so
            model_path = None
        if model_path is not None:
            check_context_size(model_path, copilot.context_size)
    if copilot.provider != "local" and not copilot.endpoint:
        raise UsageError(f"Copilot manifest {source}: a '{copilot.provider}' copilot needs an 'endpoint' URL.")
    if copilot.api_key_name:
        from app.core.secrets import check_name

        check_name(copilot.api_key_name)
    ctx.store.save_copilot(copilot.id, copilot.name, copilot.model_dump())
    return copilot


def _add_to_roster(ctx: Any, copilot_id: str) -> None:
    from app.core.store.workspaces import DEFAULT_WORKSPACE

    roster = ctx.store.roster(DEFAULT_WORKSPACE)
    if copilot_id not in roster:
        ctx.store.set_roster(DEFAULT_WORKSPACE, [*roster, copilot_id])


def cmd_copilots_ls(args: argparse.Namespace, ctx: Any) -> int:
    from app.core.crew.trust import NEEDS_REVIEW

    listed = ctx.copilot_list()
    for warning in listed.damaged:  # a damaged row is skipped, never a reason to fail
        sys.stderr.write(f"roundtable: warning: {terminal_safe(warning)}\n")
    copilots = listed.copilots
    if args.json:
        print_json([{**c.model_dump(), "needs_review": c.id in listed.review} for c in copilots])
        return 0
    table(
        ["ID", "NAME", "RUNS ON", "HANDS OFF TO", "DESCRIPTION"],
        [
            [
                c.id,
                c.name + (f" ({NEEDS_REVIEW})" if c.id in listed.review else ""),
                _runs_on(c),
                ", ".join(c.handoff_to) or "-",
                c.description[:60],
            ]
            for c in copilots
        ],
    )
    return 0


def _runs_on(copilot: Any) -> str:
    if copilot.provider == "local":
        return copilot.model or "(starter)"
    return f"{copilot.provider}: {copilot.endpoint}" + (f" ({copilot.model})" if copilot.model else "")


def cmd_copilots_show(args: argparse.Namespace, ctx: Any) -> int:
    copilot = ctx.copilot(args.id)
    review = ctx.copilot_list().review.get(copilot.id)
    if review:  # the review note names the archive's file
        note = f"[{copilot.id}: {review}; `roundtable copilots trust {copilot.id}` once it looks right]"
        sys.stderr.write(terminal_safe(note) + "\n")
    if args.json:
        print_json(copilot.model_dump())
    else:
        sys.stdout.write(inert_toml(copilot.to_toml()))
    return 0


def cmd_copilots_add(args: argparse.Namespace, ctx: Any) -> int:
    if any(c.id == args.id for c in ctx.copilots()):
        raise UsageError(f"A copilot '{args.id}' exists already: change it with `roundtable copilots edit {args.id}`.")
    data = _apply({"id": args.id, "name": args.name or args.id.replace("-", " ").title()}, args)
    copilot = _save(ctx, data, "from the command line")
    _add_to_roster(ctx, copilot.id)
    print(f"Added copilot '{copilot.id}'.")
    return 0


def cmd_copilots_edit(args: argparse.Namespace, ctx: Any) -> int:
    current = ctx.copilot(args.id)
    _save(ctx, _apply(current.model_dump(), args), "from the command line")
    print(f"Updated copilot '{current.id}'.")
    return 0


def cmd_copilots_rm(args: argparse.Namespace, ctx: Any) -> int:
    if args.id in ctx.copilot_list().damaged_ids:  # a damaged row can always be removed by its id
        ctx.store.delete_copilot(args.id)
        print(f"Removed the damaged copilot row '{args.id}'.")
        return 0
    copilot = ctx.copilot(args.id)
    ctx.store.delete_copilot(copilot.id)
    print(f"Removed copilot '{copilot.id}'; its messages stay in their threads.")
    return 0


def cmd_copilots_trust(args: argparse.Namespace, ctx: Any) -> int:
    """Confirm a copilot that came in an imported workspace: clear its review mark, allow its endpoint."""
    from app.core.crew.trust import endpoint_of, is_remote

    copilot = ctx.copilot(args.id)
    if copilot.id not in ctx.copilot_list().review:
        print(f"Copilot '{copilot.id}' needs no review.")
        return 0
    ctx.store.set_copilot_review(copilot.id, None)
    if is_remote(copilot):
        endpoint = terminal_safe(endpoint_of(copilot))  # the archive chose it
        print(f"Confirmed copilot '{copilot.id}': runs may now send your messages to {endpoint}.")
    else:
        print(f"Confirmed copilot '{copilot.id}'.")
    if not copilot.api_key_name and is_remote(copilot):
        print(f"It has no key: `roundtable copilots edit {copilot.id} --api-key-name NAME` gives it one.")
    return 0


def cmd_copilots_import(args: argparse.Namespace, ctx: Any) -> int:
    from app.core.crew.copilots import load_manifest_file

    copilot = load_manifest_file(Path(args.file))
    exists = any(c.id == copilot.id for c in ctx.copilots())
    if exists and not args.replace:
        raise UsageError(f"A copilot '{copilot.id}' exists already: add --replace to overwrite it.")
    _save(ctx, copilot.model_dump(), args.file)
    _add_to_roster(ctx, copilot.id)
    print(f"{'Replaced' if exists else 'Imported'} copilot '{copilot.id}'.")
    return 0


def cmd_copilots_export(args: argparse.Namespace, ctx: Any) -> int:
    # names, prompts and descriptions may hold C1 controls (tomli_w leaves them raw): escaped, the same TOML data
    text = inert_toml(ctx.copilot(args.id).to_toml())
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Wrote {args.output}.")
    else:
        sys.stdout.write(text)
    return 0


def _manifest_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name")
    parser.add_argument("--color", help="#rrggbb")
    parser.add_argument("--description", help="what the router reads to pick this copilot")
    parser.add_argument("--skills", help="comma-separated")
    parser.add_argument(
        "--model", help="installed model id or .gguf path (default: the starter model); remote: the server's model name"
    )
    parser.add_argument("--lora", help="a LoRA adapter GGUF (installed model id or path)")
    parser.add_argument("--lora-scale", dest="lora_scale", type=float)
    parser.add_argument("--system", help="system prompt")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--top-p", dest="top_p", type=float)
    parser.add_argument("--max-tokens", dest="max_tokens", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--context-size", dest="context_size", type=int)
    parser.add_argument("--handoff-to", dest="handoff_to", help="comma-separated copilot ids it may hand work to")
    parser.add_argument("--tools", help="comma-separated tool names it may use")
    remote = parser.add_mutually_exclusive_group()
    remote.add_argument("--openai", metavar="URL", help="answer from an OpenAI-compatible server (--model: its model)")
    remote.add_argument("--openbb", metavar="URL", help="answer from an OpenBB Workspace agent's server")
    remote.add_argument("--a2a", metavar="URL", help="answer from an A2A agent (where its agent card is served)")
    parser.add_argument(
        "--knowledge",
        action=argparse.BooleanOptionalAction,
        help="answer with cited passages from the workspace's documents (--no-knowledge turns it off)",
    )
    parser.add_argument("--agent", help="openbb: which agent of the server's agents.json (default: the first)")
    parser.add_argument(
        "--api-key-name", dest="api_key_name", help="the key's name in the keychain (`roundtable keys set`), or env:VAR"
    )
    parser.add_argument(
        "--trust-card-origins",
        dest="trust_card_origins",
        action=argparse.BooleanOptionalAction,
        help="a2a/openbb: also send the conversation (and the key) to other hosts the agent card names"
        " (default: only the endpoint's own)",
    )


def register(commands: Any) -> None:
    """Add `run`, `tasks` and `copilots` to the command parser."""
    run = commands.add_parser("run", help="let the crew work a task: routing, handoffs, tasks")
    run.add_argument("task", nargs="*", help="the task; read from stdin when absent")
    run.add_argument("--workspace", help="workspace id or name (created if new; default: the default workspace)")
    run.add_argument("--copilots", help="comma-separated copilot ids taking part (default: the workspace's roster)")
    run.add_argument("--max-hops", dest="max_hops", type=int, help="handoffs to follow at most (default 6)")
    run.add_argument("--json", action="store_true", help="one JSON object per event per line")
    run.add_argument("--yes", action="store_true", help="allow tools for this run only, unasked (never saved)")
    run.set_defaults(handler=cmd_run)

    tasks = commands.add_parser("tasks", help="the task board: handoffs and how they went")
    task_actions = tasks.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)
    ls = task_actions.add_parser("ls", help="tasks, oldest first")
    ls.add_argument("--workspace")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_tasks_ls)

    copilots = commands.add_parser("copilots", help="list, add, change, import and export copilots")
    actions = copilots.add_subparsers(dest="copilots_command", metavar="ACTION", required=True)
    c_ls = actions.add_parser("ls", help="all copilots")
    c_ls.add_argument("--json", action="store_true")
    c_ls.set_defaults(handler=cmd_copilots_ls)
    show = actions.add_parser("show", help="a copilot's manifest (TOML)")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_copilots_show)
    add = actions.add_parser("add", help="a new copilot")
    add.add_argument("id", help="lowercase id, e.g. tax-expert")
    _manifest_options(add)
    add.set_defaults(handler=cmd_copilots_add)
    edit = actions.add_parser("edit", help="change a copilot's manifest fields")
    edit.add_argument("id")
    _manifest_options(edit)
    edit.set_defaults(handler=cmd_copilots_edit)
    rm = actions.add_parser("rm", help="remove a copilot")
    rm.add_argument("id")
    rm.set_defaults(handler=cmd_copilots_rm)
    trust = actions.add_parser(
        "trust", help="confirm a copilot from an imported workspace (and the endpoint it sends messages to)"
    )
    trust.add_argument("id")
    trust.set_defaults(handler=cmd_copilots_trust)
    imp = actions.add_parser("import", help="add a copilot from a TOML manifest")
    imp.add_argument("file")
    imp.add_argument("--replace", action="store_true", help="overwrite a copilot with the same id")
    imp.set_defaults(handler=cmd_copilots_import)
    exp = actions.add_parser("export", help="a copilot's manifest as TOML (no keys, ever)")
    exp.add_argument("id")
    exp.add_argument("-o", "--output", help="file to write (default: standard output)")
    exp.set_defaults(handler=cmd_copilots_export)
    remote.register(commands, actions)
