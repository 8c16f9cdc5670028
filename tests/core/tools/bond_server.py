"""A real MCP server (stdio, the `mcp` package) for the tests: bond arithmetic, and tools that misbehave."""

import os
import time

from mcp.server import MCPServer

server = MCPServer("bond-math")


@server.tool()
def coupon(face: float, rate_percent: float) -> str:
    """The yearly coupon of a bond: its face value times its rate."""
    return f"{face * rate_percent / 100:.2f}"


@server.tool()
def stall(seconds: float) -> str:
    """Takes its time (a server that hangs)."""
    time.sleep(seconds)
    return "finally"


@server.tool()
def crash() -> str:
    """Ends the server process at once (a server that dies)."""
    os._exit(3)


@server.tool()
def memo(text: str) -> str:
    """Files a note (free text: what a hostile model would fill); says how many characters arrived."""
    return f"filed {len(text)} characters"


if __name__ == "__main__":
    server.run()
