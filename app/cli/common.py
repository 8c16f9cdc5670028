"""Lookups several CLI commands share."""

from __future__ import annotations

from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:  # a type only: importing the context here would load all of core at start-up
    from app.core.context import AppContext


@overload
def workspace_id(ctx: AppContext, ref: str | None, default: str) -> str: ...


@overload
def workspace_id(ctx: AppContext, ref: str | None, default: None = None) -> str | None: ...


def workspace_id(ctx: AppContext, ref: str | None, default: str | None = None) -> str | None:
    """The id of a workspace given by id or name; `default` when none is given (None: every workspace)."""
    from app.core.store.workspaces import unknown_workspace

    if not ref:
        return default
    found = ctx.store.find_workspace(ref)
    if found is None:
        raise unknown_workspace(ref)
    return str(found["id"])


def default_workspace() -> str:
    """The workspace a command works in when none is named."""
    from app.core.store.workspaces import DEFAULT_WORKSPACE

    return DEFAULT_WORKSPACE
