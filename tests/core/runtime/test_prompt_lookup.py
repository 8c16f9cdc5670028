"""Prompt-lookup decoding in a real model host: the same greedy answer, past n_batch tokens, and the knobs."""

from pathlib import Path

from app.core.crew.copilots import Copilot
from app.core.providers.base import CancelToken
from app.core.runtime.host import HostSpec, ModelHost
from tests.conftest import write_settings

# a passage long enough that the prompt passes llama.cpp's n_batch (512 tokens), where drafting once broke
PASSAGE = " ".join(
    f"Clause {i}: the issuer pays a coupon of {i % 7 + 1} percent twice a year until the bond matures."
    for i in range(40)
)


def quote(prompt_lookup: int) -> dict:
    return {
        "messages": [
            {"role": "system", "content": f"Answer by quoting this passage exactly.\n\n{PASSAGE}"},
            {"role": "user", "content": "Quote clauses 3 to 6 word for word."},
        ],
        "sampling": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 48, "seed": None},
        "json_schema": None,
        "prompt_lookup": prompt_lookup,
    }


def test_drafting_from_the_prompt_gives_the_same_greedy_answer(starter_model: Path) -> None:
    host = ModelHost(HostSpec(str(starter_model), 2048, 2, 0))
    try:
        answers = {}
        for n in (0, 4, 0, 8):
            events = list(host.chat(quote(n), CancelToken()))
            assert events[-1] == {"type": "done", "finish_reason": "length"}, events[-1]
            usage = next(e for e in events if e["type"] == "usage")
            assert usage["prompt_tokens"] > 512
            answers.setdefault(n, set()).add("".join(e["delta"] for e in events if e["type"] == "text"))
        assert len(answers[0]) == 1 and answers[4] == answers[8] == answers[0]
        assert "pays a coupon of" in next(iter(answers[0]))  # a quoting answer, where drafting pays
    finally:
        host.stop()


def test_the_setting_and_the_copilot_decide_how_many_tokens_are_drafted(home: Path) -> None:
    from app.core.context import AppContext

    write_settings(home, "prompt_lookup_tokens = 6\n")
    with AppContext() as ctx:
        assert ctx.provider_for(Copilot(id="a", name="A")).prompt_lookup == 6
        assert ctx.provider_for(Copilot(id="b", name="B", prompt_lookup=False)).prompt_lookup == 0
    write_settings(home, "prompt_lookup_tokens = 0\n")
    with AppContext() as ctx:
        assert ctx.provider_for(Copilot(id="a", name="A")).prompt_lookup == 0
