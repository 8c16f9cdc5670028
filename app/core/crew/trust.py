"""Copilots the user has not vouched for: those that came in a workspace archive.

An imported copilot arrives without a key name, tool grants or approvals, and is marked *imported, needs review*
(the `review` column beside its manifest, never in it). A remote one may not be sent anything until the user
confirms its endpoint (`roundtable copilots trust ID`, or the window's dialog); a local one may run, marked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.crew.copilots import Copilot, parse_manifest
from app.core.errors import RoundtableError, UsageError

NEEDS_REVIEW = "imported, needs review"  # what the CLI and the window call the mark
# manifest fields an archive may not bring: they reach the user's keys and tools, or widen where a key goes
_NOT_FROM_ARCHIVES: dict[str, Any] = {"api_key_name": None, "tools": [], "trust_card_origins": False}
_STRIPPED = {key: value for key, value in _NOT_FROM_ARCHIVES.items() if key in Copilot.model_fields}


class UnconfirmedEndpoint(UsageError):
    """A run would send the user's messages to an imported remote copilot's endpoint the user has not confirmed.

    Attributes:
        copilot: the copilot waiting for confirmation.
    """

    def __init__(self, copilot: Copilot) -> None:
        self.copilot = copilot
        super().__init__(
            f"Copilot '{copilot.id}' came in an imported workspace and would send your messages to "
            f"{endpoint_of(copilot)}, which you have not confirmed: check it with `roundtable copilots show "
            f"{copilot.id}`, then run `roundtable copilots trust {copilot.id}`."
        )


@dataclass
class CopilotList:
    """The stored copilots that can run, which of them wait for review, and the rows that could not be read.

    Attributes:
        copilots: the valid copilots, in stored order.
        review: copilot id -> why it waits for review (e.g. the archive it came in).
        damaged: one line per stored row that is not a valid manifest, saying how to remove it.
    """

    copilots: list[Copilot] = field(default_factory=list)
    review: dict[str, str] = field(default_factory=dict)
    damaged: list[str] = field(default_factory=list)
    damaged_ids: list[str] = field(default_factory=list)


def read_copilots(rows: list[dict[str, Any]]) -> CopilotList:
    """Parse stored copilot rows; a bad row (older version, written by hand) is skipped with a warning."""
    result = CopilotList()
    for row in rows:
        try:
            if not isinstance(row["manifest"], dict):
                raise UsageError(f"Copilot manifest in the database: row '{row['id']}' is not a JSON object.")
            copilot = parse_manifest(row["manifest"], f"'{row['id']}' in the database")
        except RoundtableError as exc:
            result.damaged.append(f"{exc} Skipped: `roundtable copilots rm {row['id']}` removes it.")
            result.damaged_ids.append(row["id"])
            continue
        result.copilots.append(copilot)
        if row.get("review"):
            result.review[copilot.id] = row["review"]
    return result


def imported_copilot(data: Any, source: str) -> Copilot:
    """Validate a copilot from an archive with the manifest parser, and strip what reaches keys and tools."""
    if not isinstance(data, dict):
        raise UsageError(f"Copilot manifest {source}: '(manifest)' is not a table of fields.")
    return parse_manifest(data, source).model_copy(update=_STRIPPED)


def is_remote(copilot: Copilot) -> bool:
    """Whether the copilot's replies come from past this machine (anything but a local model)."""
    return copilot.provider != "local"


def endpoint_of(copilot: Copilot) -> str:
    return copilot.endpoint or f"the '{copilot.provider}' backend"
