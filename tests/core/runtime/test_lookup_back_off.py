"""The host's prompt-lookup draft model, driven as Llama's generate loop drives it (numpy token arrays): it drafts
only where MIN_NGRAM (five) or more tokens repeat, lengthens drafts the model keeps whole, and backs off after
rejected ones."""

import numpy as np

from app.core.runtime.lookup import FIRST_DRAFT, MAX_BACK_OFF, MIN_NGRAM, AdaptiveLookup


class Generation:
    """A text that repeats 1 2 3 forever, so a draft (its continuation) is always on offer; the model keeps as
    many of a draft's tokens as the test says, then samples one more."""

    def __init__(self, max_draft: int = 8) -> None:
        self.draft = AdaptiveLookup(max_draft)
        self.length = 30  # long enough that every continuation has room for the longest draft

    def step(self, keep: int = 0) -> list[int]:
        """One step; returns the draft proposed (empty: a plain step)."""
        tokens = np.array([i % 3 + 1 for i in range(self.length)], dtype=np.intc)
        proposal = self.draft(tokens).tolist()
        assert proposal == [i % 3 + 1 for i in range(self.length, self.length + len(proposal))]
        self.length += min(keep, len(proposal)) + 1
        return proposal

    def plain_steps(self) -> int:
        """Plain steps until the next draft is proposed (and rejected)."""
        count = 0
        while not self.step():
            count += 1
        return count


def test_misses_back_off_doubling_up_to_the_cap() -> None:
    run = Generation()
    assert run.step()  # the first draft, rejected
    gaps = [run.plain_steps() for _ in range(8)]
    assert gaps == [1, 2, 4, 8, 16, 32, MAX_BACK_OFF, MAX_BACK_OFF]
    assert (run.draft.drafted, run.draft.kept) == (9, 0)


def test_drafts_double_while_kept_whole_and_a_kept_draft_ends_the_back_off() -> None:
    run = Generation(max_draft=8)
    sizes = [len(run.step(keep=8)) for _ in range(6)]
    doubling = [min(FIRST_DRAFT * 2**i, 8) for i in range(6)]
    assert sizes == doubling and sizes[-2:] == [8, 8]  # up to the longest draft the host evaluates
    assert len(run.step(keep=3)) == 8  # three of eight kept: the next draft is three long
    assert len(run.step()) == 3  # rejected whole: one plain step, then short drafts again
    assert run.plain_steps() == 1  # (and this draft, FIRST_DRAFT long, is rejected too)
    assert [run.plain_steps(), run.plain_steps()] == [2, 4]
    for _ in range(8):
        assert not run.step()
    assert len(run.step(keep=8)) == FIRST_DRAFT  # kept whole: drafting goes on at once, twice as long
    assert len(run.step()) == 2 * FIRST_DRAFT
    assert run.plain_steps() == 1  # the back-off starts again from one step
    assert run.draft.kept == 8


def test_no_draft_where_fewer_than_min_ngram_tokens_repeat() -> None:
    draft = AdaptiveLookup(8)
    short = list(range(1, MIN_NGRAM))  # one token short of a repeat worth drafting from
    assert draft(np.array([*short, 99, *short], dtype=np.intc)).tolist() == []
    assert draft(np.array([50, *short, 99, 70, *short], dtype=np.intc)).tolist() == []
    repeat = list(range(1, MIN_NGRAM + 1))
    found = draft(np.array([*repeat, 99, *repeat], dtype=np.intc)).tolist()  # MIN_NGRAM tokens repeat
    assert found == [99, *repeat][:FIRST_DRAFT]
