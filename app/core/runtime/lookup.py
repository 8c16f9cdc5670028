"""Prompt-lookup decoding in the model host: draft tokens copied from the prompt, verified in one batch.

Answers from documents, summaries and rewrites repeat long spans of their prompt. When the last few tokens
occurred earlier, the tokens that followed them there are proposed as a draft; the model evaluates them together
with the next token and keeps the ones it would have chosen itself, so a copied span costs one batch instead of
one evaluation per token. (Greedy output is that of plain decoding up to rounding: a batch runs through other
matrix kernels than a single token, which can tip a near-tie the other way late in a long answer.)

Free writing also repeats short n-grams, but what followed them before rarely comes again, and each rejected draft
costs a longer batch for one token. So `AdaptiveLookup` drafts only where at least `MIN_NGRAM` (five) tokens
repeat, starts with short drafts and doubles them while the model keeps them whole, and backs off after a draft
it rejected whole: the next steps decode plainly, twice as many after each further miss. Measured with
bench/prompt_lookup.py. Per request: on or off, and the longest draft. Runs in the host process only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

# The shortest repeat worth a draft. Pairs and triples of tokens recur in any text; what followed them rarely comes
# again, and on a CPU a step that checks even a one-token draft costs over twice a plain step (2-core x86: 15 ms
# against 6.5). From five, drafts come almost only from copies: on the starter model free writing went from 0.98x
# to 1.01x, an explanation from 1.00x to 1.10x, and a quote from 1.53x to 1.45x (bench/prompt_lookup.py).
MIN_NGRAM = 5
MAX_NGRAM = 6  # the longest repeat looked for (the longest found wins: the surest continuation)
FIRST_DRAFT = 1  # tokens in a first draft, and after a miss (a miss then costs least); doubled while kept whole
MAX_BACK_OFF = 32  # the most plain steps between two drafts after misses in a row


class AdaptiveLookup:
    """A draft model for `Llama.draft_model`: prompt lookup that lengthens drafts the model keeps and backs off
    after drafts it rejects.

    Llama calls it once per generation step with the tokens so far (the last one just sampled). A draft of k
    tokens proposed at length n was kept for j tokens when the next call sees n + j + 1 tokens, so its acceptance
    is read from the lengths alone.

    Attributes:
        max_draft: the longest draft (the host evaluates at most 1 + max_draft tokens per step).
        drafted, kept: drafts proposed this request, and how many of them the model kept at least in part.
    """

    def __init__(self, max_draft: int) -> None:
        self.max_draft = max_draft
        self._size = min(FIRST_DRAFT, max_draft)  # the next draft's length
        self._pending: tuple[int, int] | None = None  # (length at which the last draft was proposed, its size)
        self._back_off = 0  # plain steps to take after the next miss
        self._skip = 0  # plain steps left before drafting again
        self.drafted = 0
        self.kept = 0

    def __call__(self, input_ids: Any, /, **_kwargs: Any) -> Any:
        length = len(input_ids)
        if self._pending is not None:
            at, size = self._pending
            kept = length - at - 1
            if kept > 0:
                self.kept += 1
                self._back_off = 0
                self._size = min(2 * size, self.max_draft) if kept >= size else max(kept, 1)
            else:
                self._back_off = min(max(1, 2 * self._back_off), MAX_BACK_OFF)
                self._skip = self._back_off
                self._size = min(FIRST_DRAFT, self.max_draft)
            self._pending = None
        if self._skip:
            self._skip -= 1
            return input_ids[:0]
        draft = _continuation(input_ids, self._size)
        if len(draft):
            self._pending = (length, len(draft))
            self.drafted += 1
        return draft


def _continuation(input_ids: Any, size: int) -> Any:
    """Up to `size` tokens that followed the earliest earlier occurrence of the longest repeated tail (from
    MAX_NGRAM down to MIN_NGRAM tokens); none when no such tail occurred before.

    One pass over the tokens per step (where the last token occurred before), then only those places are
    followed backwards: a few microseconds, where comparing every window costs 0.2 ms at 2,000 tokens.
    """
    import numpy as np

    length = len(input_ids)
    ends = np.flatnonzero(input_ids[: length - 1] == input_ids[length - 1])  # each matches the tail for 1 token
    matched = 1
    while len(ends) and matched < min(MAX_NGRAM, length - 1):
        room = ends[ends >= matched]  # a match cannot reach back past the first token
        longer = room[input_ids[room - matched] == input_ids[length - 1 - matched]]
        if not len(longer):
            break
        ends, matched = longer, matched + 1
    if matched < MIN_NGRAM or not len(ends):
        return input_ids[:0]
    start = int(ends[0]) + 1
    return input_ids[start : start + size]


def install(llm: Any) -> Callable[[int], None]:
    """Let `llm` draft tokens from its prompt, without an n_ctx x vocabulary buffer; returns `use(n)`, which sets
    the longest draft for the next request (0: none, plain decoding), with a fresh `AdaptiveLookup`.

    WORKAROUND for llama-cpp-python 0.3.x: a `draft_model` needs logits for every drafted token, and its `eval`
    then copies every evaluated token's logits into `Llama.scores`, a buffer of n_batch rows unless the model was
    loaded with `logits_all` (n_ctx x vocabulary floats: 400 MB for SmolLM2 at 2,048 tokens) — past n_batch tokens
    it fails ("could not broadcast"). Sampling reads the logits from the llama.cpp context, so this `eval` asks
    for logits only where a token will be sampled (every position of a short batch: the next token and its
    drafts; the last position of a prompt) and copies none.
    """
    max_step = [1]  # the longest batch a generation step evaluates: the next token plus its drafts

    def eval_tokens(tokens: Sequence[int]) -> None:
        llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
        for start in range(0, len(tokens), llm.n_batch):
            batch = tokens[start : start + llm.n_batch]
            n_past = llm.n_tokens
            llm._batch.set_batch(batch=batch, n_past=n_past, logits_all=len(tokens) <= max_step[0])
            llm._ctx.decode(llm._batch)
            llm.input_ids[n_past : n_past + len(batch)] = batch
            llm.n_tokens += len(batch)
            llm._requires_eval = False

    def use(num_pred_tokens: int) -> None:
        max_step[0] = 1 + num_pred_tokens
        llm.draft_model = AdaptiveLookup(num_pred_tokens) if num_pred_tokens else None

    llm.eval = eval_tokens
    return use
