"""Token confidence: each generated token's probability and its most likely alternatives, packed into one blob.

A local model host records them as it samples (`runtime/confidence.py`); an OpenAI-compatible server sends them
when asked for `logprobs`. Either way a reply's tokens travel and are stored as one packed blob (`pack`), never a
row per token, and its trace gets their `summary`. Views read them back with `unpack` and place them on the
reply's text with `spans`.

The blob, little-endian (stored on disk: never change the meaning of version 1; a new layout is a new version):
    header  "<4sBBII": b"RTCF", version, alternatives per token (k), tokens (n), pieces (m)
    n uint32        each token's text, an index into the pieces
    n float16       each token's log probability
    n*k uint32      each token's alternatives, most likely first (NO_PIECE: fewer were known)
    n*k float16     their log probabilities
    m uint16        each piece's length in bytes
    the pieces' UTF-8 bytes, one after another
Log probabilities are kept, not probabilities: float16 holds a probability of 1e-30 as well as one of 0.9999.
"""

from __future__ import annotations

import codecs
import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAGIC = b"RTCF"
VERSION = 1  # stored on disk: never change or reuse
ALTERNATIVES = 5  # the most likely tokens kept at each position
LOW = 0.5  # a token under this probability is marked in the confidence view and counted in `under_half`
MAX_TOKENS = 32_768  # tokens recorded per reply (a longer reply keeps the first ones)
MAX_PIECE_BYTES = 1024  # one token's text (a real tokenizer's longest are a few dozen bytes)
MIN_LOGPROB = -100.0  # where log probabilities are clamped: exp(-100) is still above zero, and float16 holds it
NO_PIECE = 0xFFFF_FFFF
NO_DATA = "no confidence data"

_HEADER = struct.Struct("<4sBBII")


class ConfidenceError(ValueError):
    """A blob that is not one `pack` wrote, or token data that cannot be packed; the message says why."""


@dataclass(frozen=True)
class Choice:
    """A token the model could have written at a position, and its probability."""

    text: str
    p: float


@dataclass(frozen=True)
class TokenConfidence:
    """One generated token: its text, its probability, and the most likely tokens at its position (itself
    among them when it was one of them)."""

    text: str
    p: float
    alternatives: tuple[Choice, ...]

    @property
    def low(self) -> bool:
        return self.p < LOW


# What `pack` takes for one token: (text, log probability, [(alternative text, log probability), ...]).
Row = tuple[str, float, Sequence[tuple[str, float]]]


def pack(rows: Iterable[Row], alternatives: int = ALTERNATIVES) -> bytes:
    """The blob of these tokens (at most MAX_TOKENS; at most `alternatives` each, most likely first).

    Log probabilities are clamped to [MIN_LOGPROB, 0]; ConfidenceError for one that is not a number, or a text
    longer than MAX_PIECE_BYTES (remote data is checked before it gets here: this is the last guard).
    """
    pieces: dict[str, int] = {}
    texts: list[int] = []
    logprobs: list[float] = []
    alt_texts: list[int] = []
    alt_logprobs: list[float] = []

    def piece(text: str) -> int:
        index = pieces.get(text)
        if index is None:
            if len(text.encode("utf-8", "surrogatepass")) > MAX_PIECE_BYTES:
                raise ConfidenceError(f"a token of more than {MAX_PIECE_BYTES} bytes")
            index = pieces[text] = len(pieces)
        return index

    for count, (text, logprob, others) in enumerate(rows):
        if count == MAX_TOKENS:
            break
        texts.append(piece(text))
        logprobs.append(_clamped(logprob))
        kept = list(others)[:alternatives]
        for other_text, other_logprob in kept:
            alt_texts.append(piece(other_text))
            alt_logprobs.append(_clamped(other_logprob))
        for _ in range(alternatives - len(kept)):
            alt_texts.append(NO_PIECE)
            alt_logprobs.append(MIN_LOGPROB)
    encoded = [text.encode("utf-8", "replace") for text in pieces]
    n, m = len(texts), len(encoded)
    return b"".join(
        [
            _HEADER.pack(MAGIC, VERSION, alternatives, n, m),
            struct.pack(f"<{n}I", *texts),
            struct.pack(f"<{n}e", *logprobs),
            struct.pack(f"<{n * alternatives}I", *alt_texts),
            struct.pack(f"<{n * alternatives}e", *alt_logprobs),
            struct.pack(f"<{m}H", *map(len, encoded)),
            *encoded,
        ]
    )


def _clamped(logprob: float) -> float:
    if not isinstance(logprob, int | float) or math.isnan(logprob):
        raise ConfidenceError(f"a log probability that is not a number ({str(logprob)[:20]})")
    return min(0.0, max(MIN_LOGPROB, float(logprob)))


def unpack(blob: bytes) -> list[TokenConfidence]:
    """The tokens a blob holds; ConfidenceError if it is not one `pack` wrote (another version, cut short)."""
    if len(blob) < _HEADER.size:
        raise ConfidenceError("confidence data cut short")
    magic, version, k, n, m = _HEADER.unpack_from(blob)
    if magic != MAGIC or version != VERSION:
        raise ConfidenceError(f"confidence data of an unknown format (version {version})")
    if n > MAX_TOKENS or k > 64 or m > n * (k + 1):
        raise ConfidenceError("confidence data with impossible counts")
    offset = _HEADER.size
    try:
        texts = struct.unpack_from(f"<{n}I", blob, offset)
        offset += 4 * n
        logprobs = struct.unpack_from(f"<{n}e", blob, offset)
        offset += 2 * n
        alt_texts = struct.unpack_from(f"<{n * k}I", blob, offset)
        offset += 4 * n * k
        alt_logprobs = struct.unpack_from(f"<{n * k}e", blob, offset)
        offset += 2 * n * k
        lengths = struct.unpack_from(f"<{m}H", blob, offset)
        offset += 2 * m
    except struct.error as exc:
        raise ConfidenceError("confidence data cut short") from exc
    if offset + sum(lengths) != len(blob):
        raise ConfidenceError("confidence data of the wrong length")
    pieces = []
    for length in lengths:
        pieces.append(blob[offset : offset + length].decode("utf-8", "replace"))
        offset += length
    if any(index >= m for index in texts) or any(index >= m and index != NO_PIECE for index in alt_texts):
        raise ConfidenceError("confidence data naming a token it does not hold")
    if any(not -math.inf < lp <= 0 for lp in (*logprobs, *alt_logprobs)):
        raise ConfidenceError("confidence data with a log probability out of range")
    tokens = []
    for i in range(n):
        others = tuple(
            Choice(pieces[alt_texts[j]], math.exp(alt_logprobs[j]))
            for j in range(i * k, i * k + k)
            if alt_texts[j] != NO_PIECE
        )
        tokens.append(TokenConfidence(pieces[texts[i]], math.exp(logprobs[i]), others))
    return tokens


def summary(tokens: Sequence[TokenConfidence]) -> dict[str, float | int]:
    """A reply trace's figures: tokens recorded, mean and minimum probability, share of tokens under LOW."""
    if not tokens:
        return {"tokens": 0}
    ps = [token.p for token in tokens]
    return {
        "tokens": len(ps),
        "mean_p": round(sum(ps) / len(ps), 4),
        "min_p": round(min(ps), 4),
        "under_half": round(sum(p < LOW for p in ps) / len(ps), 4),
    }


@dataclass
class ReplyConfidence:
    """What a view shows of one stored reply's confidence: its tokens, or why there are none."""

    tokens: list[TokenConfidence] = field(default_factory=list)
    missing: str | None = None


def stored(blob: bytes | None, trace: Any) -> ReplyConfidence:
    """A stored reply's confidence: its blob read back, else the reason its trace gives (or plain NO_DATA)."""
    entry = trace.get("confidence") if isinstance(trace, dict) else None
    reason = entry.get("missing") if isinstance(entry, dict) else None
    if blob is None:
        return ReplyConfidence(missing=str(reason or NO_DATA))
    try:
        return ReplyConfidence(unpack(blob))
    except ConfidenceError as exc:
        return ReplyConfidence(missing=f"{NO_DATA}: the stored data does not read ({exc})")


def missing(reason: str = NO_DATA) -> dict[str, str | int]:
    """A reply trace's confidence entry where there is no data, saying why."""
    return {"tokens": 0, "missing": reason}


def texts_of(pieces: Iterable[bytes]) -> list[str]:
    """Each token's text from its bytes, as they read one after another: a character split over two tokens
    belongs to the token that completes it (the one before shows nothing), so the texts join to the reply."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    texts = [decoder.decode(piece) for piece in pieces]
    rest = decoder.decode(b"", final=True)
    if rest and texts:
        texts[-1] += rest
    return texts


def spans(text: str, tokens: Sequence[TokenConfidence]) -> list[tuple[int, int, TokenConfidence]]:
    """Where each token lies in the reply's `text` (start, end, token), for as long as the tokens spell it.

    The stored text is what a view shows; the tokens are placed on it, never the other way round. Tokens that
    spell nothing (an end-of-text token) are skipped; at the first token that is not the text's next characters
    (a tool call taken out of the text, a remote server's tokens that do not match its text) the placing stops,
    and the rest of the text is shown without marks.
    """
    placed: list[tuple[int, int, TokenConfidence]] = []
    at = 0
    for token in tokens:
        if not token.text:
            continue
        if not text.startswith(token.text, at):
            break
        placed.append((at, at + len(token.text), token))
        at += len(token.text)
    return placed
