"""Tools copilots may call: MCP servers the user registers, run over stdio."""
