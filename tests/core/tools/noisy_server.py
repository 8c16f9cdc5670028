"""A real MCP server (stdio, the `mcp` package) that talks on stderr, as servers do: its logs must not reach
the user's terminal."""

import sys

from mcp.server import MCPServer

NOISE = "noisy server: loading the bond tables"
server = MCPServer("noisy")


@server.tool(description="Says hello.")
def hello() -> str:
    print(NOISE, file=sys.stderr, flush=True)
    return "hello"


if __name__ == "__main__":
    print(NOISE, file=sys.stderr, flush=True)
    server.run()
