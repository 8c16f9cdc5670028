"""Lookups several CLI commands share."""

from __future__ import annotations

from typing import Any


def workspace_id(ctx: Any, ref: str | None, default: str | None = None) -> str | None:
    """The id of a workspace given by id or name; `default` when none is given (None: every workspace)."""
    from app.core.store.workspaces import unknown_workspace

    if not ref:
        return default
    found = ctx.store.find_workspace(ref)
    if found is None:
        raise unknown_workspace(ref)
    return found["id"]


def default_workspace() -> str:
    """The workspace a command works in when none is named."""
    from app.core.store.workspaces import DEFAULT_WORKSPACE

    return DEFAULT_WORKSPACE
