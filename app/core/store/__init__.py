"""SQLite storage: schema migrations, the append-only event log and the views derived from it."""

from app.core.store.store import (
    STATUS_COMPLETE,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_STREAMING,
    Message,
    Store,
    Thread,
)

__all__ = [
    "STATUS_COMPLETE",
    "STATUS_FAILED",
    "STATUS_INTERRUPTED",
    "STATUS_STREAMING",
    "Message",
    "Store",
    "Thread",
]
