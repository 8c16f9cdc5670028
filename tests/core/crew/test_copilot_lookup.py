"""One copilot look-up rule (`find_copilot`): the CLI, @mentions, the router, handoffs and rosters all use it."""

from __future__ import annotations

import pytest

from app.core.crew.copilots import Copilot, find_copilot, get_copilot
from app.core.crew.handoff import check_handoff
from app.core.crew.routing import mentions
from app.core.crew.runs import participants_for
from app.core.errors import UsageError
from app.core.providers.base import ToolCall


def _copilot(copilot_id: str, name: str, **fields: object) -> Copilot:
    return Copilot.model_validate({"id": copilot_id, "name": name, **fields})


REVIEWER = _copilot("code-reviewer", "Code Reviewer")
WRITER = _copilot("writer", "Writer", handoff_to=["code-reviewer"])
CREW = [REVIEWER, WRITER]


@pytest.mark.parametrize("ref", ["code-reviewer", "Code-Reviewer", "code_reviewer", "CodeReviewer", "code reviewer"])
def test_id_or_name_with_case_spaces_dashes_and_underscores_ignored(ref: str) -> None:
    assert find_copilot(CREW, ref) is REVIEWER


def test_an_exact_id_wins_over_a_loose_match() -> None:
    # `code_reviewer` and `code-reviewer` are both valid ids: the one typed exactly is the one meant
    twin = _copilot("code_reviewer", "Another reviewer")
    assert find_copilot([REVIEWER, twin], "code_reviewer") is twin
    assert find_copilot([REVIEWER, twin], "code-reviewer") is REVIEWER


def test_an_ambiguous_loose_match_finds_nobody_and_says_which() -> None:
    twin = _copilot("code_reviewer", "Another reviewer")
    assert find_copilot([REVIEWER, twin], "CodeReviewer") is None
    with pytest.raises(UsageError, match="could mean code-reviewer, code_reviewer"):
        get_copilot([REVIEWER, twin], "CodeReviewer")


def test_an_unknown_ref_names_the_known_ids() -> None:
    assert find_copilot(CREW, "editor") is None
    with pytest.raises(UsageError, match=r"No copilot 'editor' \(known: code-reviewer, writer\)"):
        get_copilot(CREW, "editor")


def test_mentions_and_handoffs_follow_the_rule() -> None:
    assert mentions("@Code_Reviewer please look, and @WRITER too", CREW) == [REVIEWER, WRITER]
    call = ToolCall("call_1", "handoff", {"to": "Code Reviewer", "task": "review it"}, "{}")
    handoff = check_handoff(call, WRITER, CREW, CREW)
    assert not isinstance(handoff, str) and handoff.target is REVIEWER


def test_the_cli_and_the_roster_follow_the_rule(ctx) -> None:  # the built-in crew: generalist, analyst, ...
    assert ctx.copilot("GENERALIST").id == "generalist"
    assert ctx.copilot("Generalist").id == "generalist"
    assert ctx.copilot().id == ctx.settings.default_copilot
    assert [c.id for c in participants_for(ctx, "default", ["Analyst", "generalist"])] == ["analyst", "generalist"]
    with pytest.raises(UsageError, match="No copilot 'nobody'"):
        ctx.copilot("nobody")
