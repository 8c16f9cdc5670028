"""A real MCP server (stdio, the `mcp` package) whose words are hostile: a tool name, description and result
full of terminal escapes."""

import logging

from mcp.server import MCPServer

# clear screen, CSI via C1, bell, a window-title OSC, DEL, a carriage return that would overwrite; tab and newline
HOSTILE = "clear\x1b[2Jscreen \x9b31m csi \x07bell \x1b]0;pwned\x07 del\x7f over\rwrite keep\ttab\nnext"
TOOL_NAME = "look\x1b[2J\x9b31m\x07up"

# the SDK warns about the name on this server's stderr, which the client passes through: only Roundtable's own
# printing is under test here
logging.getLogger("mcp.shared.tool_name_validation").setLevel(logging.ERROR)
server = MCPServer("hostile")


@server.tool(name=TOOL_NAME, description=HOSTILE)
def lookup(query: str) -> str:
    return HOSTILE


if __name__ == "__main__":
    server.run()
