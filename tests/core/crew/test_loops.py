"""Replies that don't loop: the repetition measure, the guard on the stream, and sampling against repetition."""

from app.core.crew.engine import CrewRun
from app.core.crew.events import CrewError, MessageEvent
from app.core.crew.loops import LoopGuard, repeated_share
from app.core.crew.reply import ANTI_REPEAT, reply_sampling
from tests.core.crew.remote import add_remote

PROSE = (
    "A bond coupon is the interest a bond pays each year, stated as a share of its face value. A bond with a "
    "face value of 1,000 and a 5% coupon pays 50 a year, usually in two payments of 25. The coupon stays fixed "
    "while the bond's price moves with interest rates, so its yield changes when the price does."
)
LOOP = "The coupon is paid twice a year to the holder. " * 12


def fed(text: str, size: int = 7) -> LoopGuard:
    guard = LoopGuard()
    for start in range(0, len(text), size):  # deltas cut words in two, as tokens do
        guard.feed(text[start : start + size])
    return guard


def test_the_repeated_share_counts_4_word_sequences_seen_before() -> None:
    assert repeated_share("") == 0.0 and repeated_share("one two three") == 0.0
    assert repeated_share(PROSE) < 0.05
    assert repeated_share("a b c d a b c d") == 1 / 5  # a-b-c-d comes back once among five
    assert repeated_share(LOOP) > 0.8


def test_the_guard_stops_a_clause_said_again_and_again_and_not_prose() -> None:
    assert fed(LOOP).tripped
    assert not fed(PROSE).tripped
    assert not fed("It is very, very, very good. " + PROSE).tripped
    places = ["bank", "fund", "state", "city", "firm", "market", "nation", "world", "town", "group", "team", "desk"]
    varied = " ".join(f"The price of the bond rises when the rate of the {place} falls." for place in places)
    assert fed(varied).tripped  # a loop that changes one word each time
    sentence = "Vaccines teach the immune system to recognise a germ, so that it can fight the real one quickly. "
    assert fed(PROSE + " " + sentence + "In short: " + sentence).tripped  # a long sentence said again
    assert not fed(PROSE + " " + sentence).tripped


def test_a_looping_reply_is_stopped_kept_and_marked_repeating(ctx) -> None:
    add_remote(ctx, "parrot", [{"text": LOOP * 4}], [])
    thread = ctx.store.create_thread("loop")
    events = list(CrewRun(ctx, thread.id, [ctx.copilot("parrot")], max_hops=0).handle("@parrot talk"))
    (error,) = [e for e in events if isinstance(e, CrewError)]
    assert error.kind == "repeating" and "repeating" in error.message
    final = [e for e in events if isinstance(e, MessageEvent) and e.status != "streaming"][-1]
    assert final.status == "complete"
    (stored,) = [m for m in ctx.store.messages(thread.id) if m.author == "parrot"]
    assert 0 < len(stored.text) < len(LOOP * 4) / 4  # stopped within the third time round
    ctx.settings.stop_loops = False
    events = list(CrewRun(ctx, thread.id, [ctx.copilot("parrot")], max_hops=0).handle("@parrot again"))
    assert not [e for e in events if isinstance(e, CrewError)]


def test_local_replies_resist_repetition_unless_the_manifest_or_the_settings_say_otherwise(ctx) -> None:
    writer = ctx.copilot("writer")
    assert reply_sampling(writer, 100).repeat_penalty == ANTI_REPEAT["repeat_penalty"]
    assert reply_sampling(writer, 100, anti_repeat=False).repeat_penalty == 1.0
    own = writer.model_copy(update={"sampling": writer.sampling.model_copy(update={"repeat_penalty": 1.3})})
    assert reply_sampling(own, 100).repeat_penalty == 1.3
    remote = writer.model_copy(update={"provider": "openai"})
    assert reply_sampling(remote, 100).repeat_penalty == 1.0  # a remote server keeps its own sampling


def test_the_repeat_penalty_reaches_the_model(ctx) -> None:
    # greedy, with a prompt that invites repetition: a strong penalty changes what the starter model writes
    add = "Write the word 'bond' twenty times, separated by spaces."
    texts = []
    for penalty in (1.0, 1.8):
        copilot = ctx.copilot("generalist")
        sampling = copilot.sampling.model_copy(update={"temperature": 0.0, "max_tokens": 40, "repeat_penalty": penalty})
        ctx.store.save_copilot(
            "generalist", copilot.name, copilot.model_copy(update={"sampling": sampling}).model_dump()
        )
        thread = ctx.store.create_thread(add)
        list(CrewRun(ctx, thread.id, [ctx.copilot("generalist")], max_hops=0).handle(add))
        texts.append(next(m.text for m in ctx.store.messages(thread.id) if m.author == "generalist"))
    assert texts[0] != texts[1]
