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


def test_the_host_drafts_where_the_answer_quotes_and_seldom_in_free_writing(starter_model: Path) -> None:
    story = {
        "messages": [{"role": "user", "content": "Write a short story about a lighthouse keeper."}],
        "sampling": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 96, "seed": None},
        "json_schema": None,
        "prompt_lookup": 8,
    }
    host = ModelHost(HostSpec(str(starter_model), 2048, 2, 0))
    try:
        usage = {}
        for name, request in (("quote", quote(8)), ("story", story), ("plain", quote(0))):
            events = list(host.chat(request, CancelToken()))
            usage[name] = next(e for e in events if e["type"] == "usage")
        assert usage["quote"]["drafts_kept"] >= 3  # the copied clauses came in drafts the model kept
        assert usage["story"]["drafts"] - usage["story"]["drafts_kept"] <= 4  # few misses: it backs off
        assert usage["plain"]["drafts"] == 0
    finally:
        host.stop()


def test_every_local_reply_asks_for_drafts_with_or_without_documents(ctx) -> None:
    from app.core.providers.base import ChatMessage, ChatRequest
    from app.core.settings import PROMPT_LOOKUP_TOKENS

    provider = ctx.provider_for(Copilot(id="a", name="A"))
    plain = ChatRequest(messages=[ChatMessage("user", "Rewrite: the bond pays a coupon twice a year.")])
    with_documents = ChatRequest(messages=plain.messages, documents=[{"source": "a.txt", "text": PASSAGE}])
    assert provider.wire(plain)["prompt_lookup"] == provider.wire(with_documents)["prompt_lookup"]
    assert provider.wire(plain)["prompt_lookup"] == PROMPT_LOOKUP_TOKENS > 0
    assert ctx.provider_for(Copilot(id="b", name="B", prompt_lookup=False)).wire(plain)["prompt_lookup"] == 0


def test_the_setting_and_the_copilot_decide_how_many_tokens_are_drafted(home: Path) -> None:
    from app.core.context import AppContext

    write_settings(home, "prompt_lookup_tokens = 6\n")
    with AppContext() as ctx:
        assert ctx.provider_for(Copilot(id="a", name="A")).prompt_lookup == 6
        assert ctx.provider_for(Copilot(id="b", name="B", prompt_lookup=False)).prompt_lookup == 0
    write_settings(home, "prompt_lookup_tokens = 0\n")
    with AppContext() as ctx:
        assert ctx.provider_for(Copilot(id="a", name="A")).prompt_lookup == 0
