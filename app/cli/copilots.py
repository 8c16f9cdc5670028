"""`roundtable copilots`: list, add, change, remove, trust, import and export copilots; grant them tools; test
that a remote one answers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.output import inert_toml, print_json, table, terminal_safe
from app.core.errors import UsageError, exit_code_for_kind

if TYPE_CHECKING:  # a type only: importing the context loads all of core
    from app.core.context import AppContext

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
    "control_vector": ("control_vector", str),
    "control_vector_strength": ("control_vector_strength", float),
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


def _save(ctx: AppContext, data: dict, source: str) -> Any:
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
    if copilot.provider == "local" and copilot.lora:
        from app.core.providers.local import check_adapter

        check_adapter(ctx.resolve_model(copilot.model), ctx.resolve_model(copilot.lora))
    if copilot.provider == "local" and copilot.control_vector:
        from app.core.providers.local import check_control_vector

        check_control_vector(ctx.resolve_model(copilot.model), ctx.resolve_model(copilot.control_vector))
    if copilot.provider != "local" and not copilot.endpoint:
        raise UsageError(f"Copilot manifest {source}: a '{copilot.provider}' copilot needs an 'endpoint' URL.")
    if copilot.api_key_name:
        from app.core.secrets import check_name

        check_name(copilot.api_key_name)
    ctx.store.save_copilot(copilot.id, copilot.name, copilot.model_dump())
    return copilot


def _add_to_roster(ctx: AppContext, copilot_id: str) -> None:
    from app.core.store.workspaces import DEFAULT_WORKSPACE

    roster = ctx.store.roster(DEFAULT_WORKSPACE)
    if copilot_id not in roster:
        ctx.store.set_roster(DEFAULT_WORKSPACE, [*roster, copilot_id])


def cmd_ls(args: argparse.Namespace, ctx: AppContext) -> int:
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


def cmd_show(args: argparse.Namespace, ctx: AppContext) -> int:
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


def cmd_add(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.crew.copilots import id_from_name

    copilot_id = id_from_name(args.id)  # "Tax Expert" -> tax-expert, the name kept as typed
    if any(c.id == copilot_id for c in ctx.copilots()):
        raise UsageError(
            f"A copilot '{copilot_id}' exists already: change it with `roundtable copilots edit {copilot_id}`, "
            "or give the new one another name."
        )
    typed_name = args.id.strip() if args.id.strip() != copilot_id else copilot_id.replace("-", " ").title()
    data = _apply({"id": copilot_id, "name": args.name or typed_name}, args)
    copilot = _save(ctx, data, "from the command line")
    _add_to_roster(ctx, copilot.id)
    print(f"Added copilot '{copilot.id}' ({terminal_safe(copilot.name)}).")
    return 0


def cmd_edit(args: argparse.Namespace, ctx: AppContext) -> int:
    current = ctx.copilot(args.id)
    _save(ctx, _apply(current.model_dump(), args), "from the command line")
    print(f"Updated copilot '{current.id}'.")
    return 0


def cmd_rm(args: argparse.Namespace, ctx: AppContext) -> int:
    if args.id in ctx.copilot_list().damaged_ids:  # a damaged row can always be removed by its id
        ctx.store.delete_copilot(args.id)
        print(f"Removed the damaged copilot row '{args.id}'.")
        return 0
    copilot = ctx.copilot(args.id)
    ctx.store.delete_copilot(copilot.id)
    print(f"Removed copilot '{copilot.id}'; its messages stay in their threads.")
    return 0


def cmd_trust(args: argparse.Namespace, ctx: AppContext) -> int:
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


def cmd_import(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.crew.copilots import load_manifest_file

    copilot = load_manifest_file(Path(args.file))
    exists = any(c.id == copilot.id for c in ctx.copilots())
    if exists and not args.replace:
        raise UsageError(f"A copilot '{copilot.id}' exists already: add --replace to overwrite it.")
    _save(ctx, copilot.model_dump(), args.file)
    _add_to_roster(ctx, copilot.id)
    print(f"{'Replaced' if exists else 'Imported'} copilot '{copilot.id}'.")
    return 0


def cmd_export(args: argparse.Namespace, ctx: AppContext) -> int:
    # names, prompts and descriptions may hold C1 controls (tomli_w leaves them raw): escaped, the same TOML data
    text = inert_toml(ctx.copilot(args.id).to_toml())
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Wrote {args.output}.")
    else:
        sys.stdout.write(text)
    return 0


def cmd_grant(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.errors import UsageError

    copilot = ctx.copilot(args.id)
    from app.core.tools import builtin

    server, _, tool = args.tool.partition(".")
    if server == builtin.SERVER:
        if tool and tool not in builtin.TOOLS:
            raise UsageError(f"Roundtable has no built-in tool '{tool}': {', '.join(builtin.TOOLS)}.")
    elif server not in ctx.store.tool_servers():
        raise UsageError(f"No tool server '{server}': register it first with `roundtable tools add {server} -- CMD`.")
    tools = [t for t in copilot.tools if t != args.tool]
    granted = not args.revoke
    if granted:
        tools.append(args.tool)
    ctx.store.save_copilot(copilot.id, copilot.name, {**copilot.model_dump(), "tools": tools})
    print(f"{copilot.id} {'may now use' if granted else 'may no longer use'} {args.tool}.")
    return 0


def cmd_test(args: argparse.Namespace, ctx: AppContext) -> int:
    """Reach the copilot's backend and say what it supports; a failure exits non-zero with the reason."""
    from app.core.providers.base import CancelToken, ChatMessage, ChatRequest, Error, Sampling, TextDelta

    copilot = ctx.copilot(args.id)
    provider = ctx.provider_for(copilot)
    report: dict[str, Any] = {"copilot": copilot.id, **provider.describe()}
    report.update(_capabilities(provider))
    request = ChatRequest([ChatMessage("user", "Reply with the single word OK.")], Sampling(0.0, 1.0, 16))
    reply, error = [], None
    for event in provider.stream(request, CancelToken()):
        if isinstance(event, TextDelta):
            reply.append(event.delta)
        elif isinstance(event, Error):
            error = event
    report["answered"] = error is None
    report["reply"] = "".join(reply).strip()[:200]
    if error is not None:
        report["error"] = error.message
    if args.json:
        print_json(report)
    else:
        for key, value in report.items():  # the reply, error, agent name, skills and models are the server's words
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            print(f"{key:>16}: {terminal_safe(shown)}")
    return 0 if error is None else exit_code_for_kind(error.kind)


def _capabilities(provider: Any) -> dict[str, Any]:
    """What the backend says about itself, beyond answering."""
    from app.core.providers.a2a import A2AProvider, read_card
    from app.core.providers.openai_compat import OpenAICompatProvider
    from app.core.providers.openbb import OpenBBProvider

    found: dict[str, Any] = {"native_tools": provider.supports_tools, "json_schema": provider.supports_json_schema}
    if isinstance(provider, OpenAICompatProvider):
        models = provider.models()
        found["models"] = models
        found["model_offered"] = provider.model in models or not models
    elif isinstance(provider, OpenBBProvider):
        agent_id, descriptor = provider.agent()
        found["agent"] = agent_id
        found["features"] = sorted(k for k, v in (descriptor.get("features") or {}).items() if v)
    elif isinstance(provider, A2AProvider):
        card = provider.card = read_card(provider.remote)
        found["agent"] = card.get("name")
        found["streaming"] = bool((card.get("capabilities") or {}).get("streaming"))
        found["skills"] = [s.get("name", "?") for s in card.get("skills") or [] if isinstance(s, dict)]
    return found


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
    parser.add_argument(
        "--control-vector", dest="control_vector", help="a control vector GGUF (installed model id or path)"
    )
    parser.add_argument(
        "--control-vector-strength", dest="control_vector_strength", type=float, help="-4 to 4 (default 1)"
    )
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
        help="answer with cited passages from the workspace's documents (default: on for a local copilot when the "
        "workspace has documents; --no-knowledge turns it off)",
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
    """Add `copilots` to the command parser."""
    copilots = commands.add_parser("copilots", help="list, add, change, import and export copilots")
    actions = copilots.add_subparsers(dest="copilots_command", metavar="ACTION", required=True)
    c_ls = actions.add_parser("ls", help="all copilots")
    c_ls.add_argument("--json", action="store_true")
    c_ls.set_defaults(handler=cmd_ls)
    show = actions.add_parser("show", help="a copilot's manifest (TOML)")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_show)
    add = actions.add_parser("add", help="a new copilot")
    add.add_argument("id", metavar="NAME", help='its name, e.g. "Tax Expert" (its id is made from it: tax-expert)')
    _manifest_options(add)
    add.set_defaults(handler=cmd_add)
    edit = actions.add_parser("edit", help="change a copilot's manifest fields")
    edit.add_argument("id")
    _manifest_options(edit)
    edit.set_defaults(handler=cmd_edit)
    rm = actions.add_parser("rm", help="remove a copilot")
    rm.add_argument("id")
    rm.set_defaults(handler=cmd_rm)
    trust = actions.add_parser(
        "trust", help="confirm a copilot from an imported workspace (and the endpoint it sends messages to)"
    )
    trust.add_argument("id")
    trust.set_defaults(handler=cmd_trust)
    imp = actions.add_parser("import", help="add a copilot from a TOML manifest")
    imp.add_argument("file")
    imp.add_argument("--replace", action="store_true", help="overwrite a copilot with the same id")
    imp.set_defaults(handler=cmd_import)
    exp = actions.add_parser("export", help="a copilot's manifest as TOML (no keys, ever)")
    exp.add_argument("id")
    exp.add_argument("-o", "--output", help="file to write (default: standard output)")
    exp.set_defaults(handler=cmd_export)
    grant = actions.add_parser("grant", help="let a copilot use a tool server (or one tool: server.tool)")
    grant.add_argument("id")
    grant.add_argument("tool")
    grant.set_defaults(handler=cmd_grant, revoke=False)
    revoke = actions.add_parser("revoke", help="take a tool back from a copilot")
    revoke.add_argument("id")
    revoke.add_argument("tool")
    revoke.set_defaults(handler=cmd_grant, revoke=True)

    test = actions.add_parser("test", help="reach a copilot's backend and report what it supports")
    test.add_argument("id")
    test.add_argument("--json", action="store_true")
    test.set_defaults(handler=cmd_test)
