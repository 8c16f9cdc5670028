"""A real MCP server (the `mcp` package's own classes) for the session tests: says its pid, learns new tools
(and tells the client its list changed), dies on request. `--http TOKEN` serves it over Streamable HTTP on a free
loopback port (printed first), answering only requests that carry `Authorization: Bearer TOKEN`."""

import os
import socket
import sys

from mcp.server import MCPServer
from mcp.server.mcpserver import Context

server = MCPServer("sessions")


@server.tool()
def pid() -> str:
    """This server process's id (one session: the same id on every call)."""
    return str(os.getpid())


@server.tool()
async def learn(name: str, ctx: Context) -> str:
    """Adds a tool called `name` and tells the client its tool list changed."""

    def learned() -> str:
        return f"{name} works"

    server.add_tool(learned, name=name, description=f"learned as {name}")
    await ctx.notify_tools_changed()  # to `subscriptions/listen` streams (protocol 2026-07-28)
    return f"learned {name}"


@server.tool()
def crash() -> str:
    """Ends the server process at once."""
    os._exit(3)


def serve_http(token: str) -> None:
    import uvicorn
    from starlette.responses import PlainTextResponse

    app = server.streamable_http_app()

    async def guarded(scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if headers.get(b"authorization") != f"Bearer {token}".encode():
                await PlainTextResponse("no entry", status_code=401)(scope, receive, send)
                return
        await app(scope, receive, send)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(guarded, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--http"]:
        serve_http(sys.argv[2])
    else:
        server.run()
