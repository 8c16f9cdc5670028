"""`roundtable serve`: copilots, crews and installed models as a local OpenAI-compatible API; `serve token`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from app.cli.output import terminal_safe

if TYPE_CHECKING:  # a type only: importing the context loads all of core
    from app.core.context import AppContext


def cmd_serve(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.errors import UsageError
    from app.core.loopback import is_loopback
    from app.core.serve.server import ApiServer, api_token

    if not is_loopback(args.host) and not args.allow_remote:
        raise UsageError(
            f"{args.host} is reachable from other machines: add --allow-remote to serve there (anyone who has the "
            "token can then use your copilots, tools and models), or leave --host out to stay on this machine."
        )
    token = api_token(ctx.store)
    server = ApiServer(ctx, token, args.host, ctx.settings.api_port if args.port is None else args.port)
    if not is_loopback(args.host):
        sys.stderr.write(
            f"roundtable: WARNING: serving on {terminal_safe(args.host)}, reachable from other machines; "
            "only the bearer token keeps them out, and it travels unencrypted (plain HTTP).\n"
        )
    print(f"Roundtable's local API at {server.url}", flush=True)
    print("Models: `curl -H 'Authorization: Bearer TOKEN' " + server.url + "/models` (copilot:, crew:, model:)")
    print("The token: `roundtable serve token`. Ctrl+C stops.", flush=True)
    try:
        server.serve()
    except KeyboardInterrupt:  # uvicorn shuts down on the first Ctrl+C, then raises it again for us
        pass
    print("Stopped.", flush=True)
    return 0


def cmd_token(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.serve.server import api_token

    print(api_token(ctx.store, new=args.new))
    return 0


def register(commands: Any) -> None:
    """Add `serve` (and `serve token`) to the command parser."""
    serve = commands.add_parser("serve", help="copilots, crews and models as a local OpenAI-compatible API")
    serve.add_argument("--port", type=int, help="port to listen on (default: settings' api_port, 8642)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine)")
    serve.add_argument(
        "--allow-remote", action="store_true", help="allow a --host other machines can reach (prints a warning)"
    )
    serve.set_defaults(handler=cmd_serve)
    actions = serve.add_subparsers(dest="serve_command", metavar="ACTION")
    token = actions.add_parser("token", help="print the API's bearer token (made on first use, kept in the keychain)")
    token.add_argument("--new", action="store_true", help="replace the token: clients holding the old one get 401")
    token.set_defaults(handler=cmd_token)
