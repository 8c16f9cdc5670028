"""Replies that repeat themselves: how much a text repeats, and a guard that stops a stream once it loops.

Small models fall into loops: one clause again and again until the token cap. `LoopGuard` reads the reply's words
as they stream and trips when the same span of words comes back three times in a row at the end, when a long
span (`ECHO` words, a sentence) comes back word for word, or when most of the recent 4-word sequences are repeats
of earlier ones (a loop that varies a word or two).
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[\w']+")
NGRAM = 4
WINDOW = 48  # words: the recent stretch whose 4-word sequences are compared with everything before
WINDOW_SHARE = 0.5  # of those sequences seen before in the reply: a loop
MIN_WORDS = 24  # never trip on less
SPAN_REPEATS = 3  # the same span of words this many times in a row at the end: a loop
MAX_SPAN = 30  # words: the longest span checked
MIN_SPAN_WORDS = 9  # at least this many words repeated in all (so "very, very, very good" is fine)
ECHO = 16  # words: a span this long said again word for word is a loop (a sentence a small model says twice)


def words(text: str) -> list[str]:
    """The words of `text`, lowercased, as the repetition measures count them."""
    return [w.casefold() for w in _WORD.findall(text)]


def repeated_share(text: str, n: int = NGRAM) -> float:
    """The share of `text`'s n-word sequences that repeat an earlier one (0 for a text too short to have any)."""
    seq = words(text)
    grams = [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]
    return (len(grams) - len(set(grams))) / len(grams) if grams else 0.0


class LoopGuard:
    """Fed a reply's text as it streams; `feed` returns True once the reply is looping."""

    def __init__(self) -> None:
        self._tail = ""  # a word may be cut between two deltas: the unfinished end waits for the next one
        self._words: list[str] = []
        self._seen: dict[tuple[str, ...], int] = {}  # each 4-word sequence -> where it first ended
        self._spans: set[tuple[str, ...]] = set()  # each ECHO-word span said so far
        self._echoed = False
        self.tripped = False

    def feed(self, delta: str) -> bool:
        if self.tripped:
            return True
        text = self._tail + delta
        found = words(text)
        complete = found if not text or not text[-1].isalnum() else found[:-1]
        self._tail = "" if complete is found else found[-1] if found else ""
        for word in complete:
            self._add(word)
            if self._looping():
                self.tripped = True
                break
        return self.tripped

    def _add(self, word: str) -> None:
        self._words.append(word)
        if len(self._words) >= NGRAM:
            gram = tuple(self._words[-NGRAM:])
            self._seen.setdefault(gram, len(self._words))
        if len(self._words) >= ECHO:
            span = tuple(self._words[-ECHO:])
            self._echoed = self._echoed or span in self._spans
            self._spans.add(span)

    def _looping(self) -> bool:
        count = len(self._words)
        if count < MIN_WORDS:
            return False
        return self._echoed or self._span_repeats() or self._window_share() >= WINDOW_SHARE

    def _window_share(self) -> float:
        count = len(self._words)
        start = max(NGRAM, count - WINDOW + 1)
        recent = range(start, count + 1)  # ends of the recent 4-word sequences
        if len(recent) < WINDOW // 2:
            return 0.0
        repeats = sum(1 for end in recent if self._seen[tuple(self._words[end - NGRAM : end])] < end)
        return repeats / len(recent)

    def _span_repeats(self) -> bool:
        seq = self._words
        for span in range(1, MAX_SPAN + 1):
            if span * SPAN_REPEATS > len(seq) or span * SPAN_REPEATS < MIN_SPAN_WORDS:
                continue
            last = seq[-span:]
            if all(seq[-span * (k + 1) : len(seq) - span * k] == last for k in range(1, SPAN_REPEATS)):
                return True
        return False
