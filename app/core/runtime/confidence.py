"""Token confidence in the model host: each sampled token's probability and the five most likely tokens at its
position, read from the logits llama.cpp sampled it from.

`Llama.generate` calls `Llama.sample(idx=...)` once per generated token, with or without prompt lookup's drafts
(a draft's tokens are each sampled at their own position, from logits evaluated in one batch), and sample returns
the token. So `install` wraps `sample`: after it, the raw logits at that position are still in the llama.cpp
context (the sampler chain works on a copy), and the token is known — no second pass, no guessing which token a
later call saw. The probabilities are the model's own (a softmax over the raw logits): before repetition
penalties, temperature and top-k/top-p, which shape the choice but not what the model believed.

Per token: a max and a comparison over the vocabulary, then exp and sum over the tokens within TAIL of the most
likely one, and argpartition over those within CLOSE (numpy in C, no Python loop over the vocabulary; ~0.15 ms at
49k tokens while llama.cpp's threads hold the cores); texts are read once, at the end. Runs in the host process
only.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from app.core.confidence import ALTERNATIVES, MAX_TOKENS, pack, texts_of

TAIL = 20.0  # logits further than this below the largest are left out of the softmax's sum: e^-20 * 49k < 1e-4
CLOSE = 6.0  # the top five are looked for within this of the largest logit (and further only if fewer are)


class Capture:
    """Records one request's tokens while `recording`; `packed()` gives the blob (app/core/confidence.py).

    Attributes:
        recording: whether sampled tokens are recorded now (set per request by `start`).
    """

    def __init__(self, llm: Any) -> None:
        import numpy as np

        self._llm = llm
        self._np = np
        self._n_vocab = llm.n_vocab()
        self._row = ctypes.c_float * self._n_vocab  # the logits of one position, read in place
        self._cancelled: Callable[[], bool] = lambda: False
        self.recording = False
        self._count = 0
        self._tokens = np.empty(0, dtype=np.int32)
        self._logprobs = np.empty(0, dtype=np.float32)
        self._top = np.empty((0, ALTERNATIVES), dtype=np.int32)
        self._top_logprobs = np.empty((0, ALTERNATIVES), dtype=np.float32)

    def start(self, recording: bool, max_tokens: int, cancelled: Callable[[], bool]) -> None:
        """Begin a request: record its tokens (up to `max_tokens`, at most MAX_TOKENS) or not."""
        np = self._np
        self.recording = recording
        self._cancelled = cancelled
        self._count = 0
        size = min(max_tokens, MAX_TOKENS) + 1 if recording else 0  # + 1: the end-of-text token
        if len(self._tokens) < size or len(self._tokens) > 4 * size:
            self._tokens = np.empty(size, dtype=np.int32)
            self._logprobs = np.empty(size, dtype=np.float32)
            self._top = np.empty((size, ALTERNATIVES), dtype=np.int32)
            self._top_logprobs = np.empty((size, ALTERNATIVES), dtype=np.float32)

    def record(self, token: int, index: int) -> None:
        """Note `token`, sampled from the logits at batch output `index` (llama_get_logits_ith's numbering)."""
        if self._count >= len(self._tokens) or self._cancelled():
            return  # past the cap; or a token forced by Stop, which the model did not choose
        pointer = self._llm._ctx.get_logits_ith(index)
        if not pointer:
            return
        np = self._np
        logits = np.frombuffer(self._row.from_address(ctypes.addressof(pointer.contents)), dtype=np.float32)
        peak = logits.max()
        # only the tokens within TAIL of the most likely one weigh in the normaliser (each of the others is under
        # e^-TAIL of it: all of them together under 1e-4 of the sum)
        near = np.flatnonzero(logits > peak - TAIL)
        values = logits[near]
        normaliser = peak + np.log(np.exp(values - peak).sum())
        # the top five from the few within CLOSE of it, where there are five (a whole pass less over thousands)
        close = near[values > peak - CLOSE] if len(near) > ALTERNATIVES else near
        if len(close) < ALTERNATIVES:
            close = near if len(near) >= ALTERNATIVES else np.arange(self._n_vocab)
        top = close[np.argpartition(logits[close], -ALTERNATIVES)[-ALTERNATIVES:]]
        at = self._count
        self._tokens[at] = token
        self._logprobs[at] = logits[token] - normaliser
        self._top[at] = top
        self._top_logprobs[at] = logits[top] - normaliser
        self._count += 1

    def packed(self) -> bytes:
        """The recorded tokens as one blob: texts read now, in one pass (the sampled ones in sequence, so a
        character split over two tokens reads as the reply does; the alternatives each alone, special tokens
        named)."""
        np = self._np
        n = self._count
        order = np.argsort(-self._top_logprobs[:n], axis=1, kind="stable")
        top = np.take_along_axis(self._top[:n], order, axis=1).tolist()
        top_logprobs = np.take_along_axis(self._top_logprobs[:n], order, axis=1).tolist()
        tokens = self._tokens[:n].tolist()
        detokenize = self._llm.detokenize
        texts = texts_of(detokenize([token]) for token in tokens)
        named: dict[int, str] = {}
        for token in {t for row in top for t in row}:
            named[token] = detokenize([token], special=True).decode("utf-8", "replace")
        rows = (
            (text, logprob, [(named[t], lp) for t, lp in zip(others, others_lp, strict=True)])
            for text, logprob, others, others_lp in zip(
                texts, self._logprobs[:n].tolist(), top, top_logprobs, strict=True
            )
        )
        return pack(rows)


def install(llm: Any) -> Capture:
    """Record tokens as `llm` samples them, while the returned Capture is `recording`."""
    capture = Capture(llm)
    sample = llm.sample

    def sample_and_record(*args: Any, **kwargs: Any) -> int:
        token: int = sample(*args, **kwargs)
        if capture.recording:
            idx = kwargs.get("idx")
            # Llama.sample's own numbering of the outputs: negative, from the end of the last batch
            capture.record(token, idx - llm.n_tokens if idx is not None else -1)
        return token

    llm.sample = sample_and_record
    return capture
