"""Token probabilities from an OpenAI-compatible server (`logprobs`, `top_logprobs`), read as untrusted data.

A chunk's `choices[].logprobs.content` lists, per token, `{token, logprob, bytes?, top_logprobs: [{token,
logprob, bytes?}]}` (openai-python's ChatCompletionTokenLogprob). Every number and string is checked and the
whole is bounded: a server that sends a log probability that is not a finite number or is above zero, texts or
lists longer than any tokenizer makes, or more tokens than a reply can hold loses its confidence data for that
reply (the reply itself stands), and the trace says why.
"""

from __future__ import annotations

import base64
import math
from typing import Any

from app.core.confidence import ALTERNATIVES, MAX_TOKENS, NO_DATA, ConfidenceError, pack, texts_of
from app.core.providers.base import Confidence

TOP_LOGPROBS = ALTERNATIVES  # asked for per token
MAX_TOP_LOGPROBS = 20  # OpenAI's own maximum: a server listing more is misbehaving
MAX_TOKEN_CHARS = 256  # one token's text
MAX_TOTAL_CHARS = 4_000_000  # all the texts of one reply's token probabilities together
LOGPROB_SLACK = 1e-3  # a log probability this far above 0 is rounding (p = 1); beyond, p > 1 is nonsense


class _Unusable(Exception):
    """What is wrong with the server's token probabilities, in words."""


class LogprobReader:
    """Collects one reply's token probabilities as its chunks arrive.

    Attributes:
        where: the server, for messages.
        seen: whether any chunk carried token probabilities.
        problem: why they were dropped (None: they were not).
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.seen = False
        self.problem: str | None = None
        self._pieces: list[bytes] = []
        self._logprobs: list[float] = []
        self._alternatives: list[list[tuple[str, float]]] = []
        self._chars = 0

    def add(self, logprobs: Any) -> None:
        """Take a choice's `logprobs` (None or absent: nothing); a malformed one drops all of them."""
        if logprobs is None or self.problem is not None:
            return
        try:
            if not isinstance(logprobs, dict):
                raise _Unusable("'logprobs' is not an object")
            content = logprobs.get("content")
            if content is None:
                return
            if not isinstance(content, list):
                raise _Unusable("'logprobs.content' is not a list")
            self.seen = True
            if len(self._pieces) + len(content) > MAX_TOKENS:
                raise _Unusable(f"more than {MAX_TOKENS:,} tokens")
            for entry in content:
                self._add_token(entry)
        except _Unusable as exc:
            self.problem = str(exc)
            self._pieces, self._logprobs, self._alternatives = [], [], []

    def _add_token(self, entry: Any) -> None:
        if not isinstance(entry, dict):
            raise _Unusable("a token that is not an object")
        text, logprob = self._choice(entry)
        top = entry.get("top_logprobs") or []
        if not isinstance(top, list) or len(top) > MAX_TOP_LOGPROBS:
            raise _Unusable(f"'top_logprobs' that is not a list of at most {MAX_TOP_LOGPROBS}")
        alternatives = sorted((self._choice(other) for other in top), key=lambda choice: -choice[1])
        self._pieces.append(_bytes_of(entry.get("bytes"), text))
        self._logprobs.append(logprob)
        self._alternatives.append(alternatives[:ALTERNATIVES])

    def _choice(self, entry: Any) -> tuple[str, float]:
        """(text, log probability) of a token or an alternative, checked."""
        if not isinstance(entry, dict):
            raise _Unusable("an alternative that is not an object")
        text, logprob = entry.get("token"), entry.get("logprob")
        if not isinstance(text, str) or len(text) > MAX_TOKEN_CHARS:
            raise _Unusable(f"a token that is not text of at most {MAX_TOKEN_CHARS} characters")
        self._chars += len(text)
        if self._chars > MAX_TOTAL_CHARS:
            raise _Unusable(f"more than {MAX_TOTAL_CHARS:,} characters of tokens")
        if isinstance(logprob, bool) or not isinstance(logprob, int | float) or not math.isfinite(logprob):
            raise _Unusable(f"a log probability that is not a number ({str(logprob)[:20]})")
        if logprob > LOGPROB_SLACK:
            raise _Unusable(f"a log probability above 0 ({logprob:.3g}: a probability above 1)")
        return text, float(logprob)

    def event(self, secrets: list[str]) -> Confidence:
        """The reply's Confidence: the tokens packed, or why there are none."""
        if self.problem is not None:
            return Confidence(missing=f"{NO_DATA}: {self.where} sent unusable token probabilities ({self.problem})")
        if not self.seen:
            return Confidence(missing=f"{NO_DATA}: {self.where} sent no token probabilities")
        texts = texts_of(self._pieces)
        everything = "".join(texts) + "\n".join(t for row in self._alternatives for t, _ in row)
        if any(secret in everything for secret in secrets if secret):
            return Confidence(missing=f"{NO_DATA}: the token probabilities quoted the key; they were dropped")
        try:
            packed = pack(zip(texts, self._logprobs, self._alternatives, strict=True))
        except ConfidenceError as exc:
            return Confidence(missing=f"{NO_DATA}: {self.where} sent unusable token probabilities ({exc})")
        return Confidence(base64.b64encode(packed).decode("ascii"))


def _bytes_of(raw: Any, text: str) -> bytes:
    """A token's UTF-8 bytes: the server's `bytes` (a character split over tokens is whole only in them) when
    they are a list of bytes no longer than the text allows, else its text."""
    if isinstance(raw, list) and len(raw) <= 4 * MAX_TOKEN_CHARS:
        if all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in raw):
            return bytes(raw)
    return text.encode("utf-8", "replace")
