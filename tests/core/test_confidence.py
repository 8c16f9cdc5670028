"""The token confidence blob: packed and read back, checked, summarised, placed on a reply's text."""

import math
import struct

import pytest

from app.core.confidence import (
    ALTERNATIVES,
    MAX_TOKENS,
    MIN_LOGPROB,
    ConfidenceError,
    pack,
    spans,
    summary,
    texts_of,
    unpack,
)

ROWS = [
    ("Bonds", math.log(0.9), [("Bonds", math.log(0.9)), ("A", math.log(0.05))]),
    (" are", math.log(0.3), [(" pay", math.log(0.4)), (" are", math.log(0.3)), (" is", 0.0 - 2.0)]),
    (" loans", math.log(0.999), [(" loans", math.log(0.999))] + [(f" x{i}", -9.0 - i) for i in range(6)]),
    ("", -0.01, [("<|im_end|>", -0.01)]),
]


def test_a_packed_reply_reads_back_with_its_texts_probabilities_and_alternatives() -> None:
    tokens = unpack(pack(ROWS))
    assert [t.text for t in tokens] == ["Bonds", " are", " loans", ""]
    for token, (_, logprob, others) in zip(tokens, ROWS, strict=True):
        assert token.p == pytest.approx(math.exp(logprob), rel=2e-3)  # float16 log probabilities
        assert 0 < token.p <= 1
        kept = others[:ALTERNATIVES]
        assert [c.text for c in token.alternatives] == [text for text, _ in kept]
        assert [c.p for c in token.alternatives] == pytest.approx([math.exp(lp) for _, lp in kept], rel=2e-3)
    assert tokens[1].low and not tokens[0].low


def test_the_blob_is_compact_a_few_dozen_bytes_a_token() -> None:
    rows = [(f"w{i % 50}", -0.5, [(f"w{(i + j) % 50}", -0.5 - j) for j in range(5)]) for i in range(1000)]
    blob = pack(rows)
    assert len(blob) < 1000 * 40
    assert len(unpack(blob)) == 1000


def test_log_probabilities_are_clamped_so_every_probability_stays_in_0_1() -> None:
    tokens = unpack(pack([("a", -9999.0, [("b", 0.0005)])]))  # OpenAI's "very unlikely"; rounding above 0
    assert tokens[0].p == pytest.approx(math.exp(MIN_LOGPROB), rel=0.01) and tokens[0].p > 0
    assert tokens[0].alternatives[0].p == 1.0
    with pytest.raises(ConfidenceError, match="not a number"):
        pack([("a", float("nan"), [])])


def test_a_reply_longer_than_the_cap_keeps_its_first_tokens() -> None:
    blob = pack(("t", -0.1, []) for _ in range(MAX_TOKENS + 10))
    assert len(unpack(blob)) == MAX_TOKENS


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:10],  # cut inside the header
        lambda b: b[:-1],  # cut inside the texts
        lambda b: b + b"x",  # trailing bytes
        lambda b: b"XXXX" + b[4:],  # not ours
        lambda b: b[:4] + bytes([9]) + b[5:],  # another version
        lambda b: b[:14] + struct.pack("<I", 99) + b[18:],  # a token naming a text that is not there
    ],
)
def test_a_damaged_blob_is_refused(damage) -> None:
    with pytest.raises(ConfidenceError):
        unpack(damage(pack(ROWS)))


def test_the_summary_is_the_mean_the_minimum_and_the_share_under_a_half() -> None:
    tokens = unpack(pack(ROWS))
    figures = summary(tokens)
    ps = [t.p for t in tokens]
    assert figures == {
        "tokens": 4,
        "mean_p": round(sum(ps) / 4, 4),
        "min_p": round(min(ps), 4),
        "under_half": 0.25,
    }
    assert summary([]) == {"tokens": 0}


def test_a_character_split_over_two_tokens_belongs_to_the_second() -> None:
    euro = "€".encode()
    assert texts_of([b"5 ", euro[:2], euro[2:], b"!"]) == ["5 ", "", "€", "!"]


def test_tokens_are_placed_on_the_text_while_they_spell_it() -> None:
    tokens = unpack(pack(ROWS))
    text = "Bonds are loans"
    assert [(a, b, t.text) for a, b, t in spans(text, tokens)] == [(0, 5, "Bonds"), (5, 9, " are"), (9, 15, " loans")]
    # a text the tokens do not spell (a tool call taken out of it): marks stop where they part
    assert [t.text for _, _, t in spans("Bonds were loans", tokens)] == ["Bonds"]
