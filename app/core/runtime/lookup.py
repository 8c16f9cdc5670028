"""Prompt-lookup decoding in the model host: draft tokens copied from the prompt, verified in one batch.

Answers from documents, summaries and rewrites repeat long spans of their prompt. llama-cpp-python's
`LlamaPromptLookupDecoding` proposes the tokens that followed the last n-gram's earlier occurrence; the model
evaluates them together with the next token and keeps the ones it would have chosen itself, so greedy output is
unchanged and a copied span costs one batch instead of one evaluation per token. Per request: on or off, and how
many tokens to draft. Runs in the host process only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def install(llm: Any) -> Callable[[int], None]:
    """Let `llm` draft tokens from its prompt, without an n_ctx x vocabulary buffer; returns `use(n)`, which sets
    the tokens drafted per step for the next requests (0: none, plain decoding).

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
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

        max_step[0] = 1 + num_pred_tokens
        llm.draft_model = LlamaPromptLookupDecoding(num_pred_tokens=num_pred_tokens) if num_pred_tokens else None

    llm.eval = eval_tokens
    return use
