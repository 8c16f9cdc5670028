"""Workspace knowledge: documents cut into passages, full-text search, and passages with citations for copilots."""
