"""The model pool: copilots on one model share a host; a memory budget unloads the least recently used."""

import shutil
from pathlib import Path

from app.core.crew.runs import ask
from app.core.runtime.host import HostSpec
from app.core.runtime.pool import HostPool
from tests.conftest import write_settings


def test_copilots_on_the_same_model_share_one_host(ctx) -> None:
    list(ask(ctx, "Hi", copilot_id="analyst"))
    list(ask(ctx, "Hi", copilot_id="writer"))
    assert len([h for h in ctx.pool.hosts.values() if h.alive]) == 1


def test_a_new_model_over_budget_unloads_the_least_recently_used(home: Path, starter_model: Path) -> None:
    from app.core.context import AppContext

    write_settings(home, "memory_budget_mb = 400\nprompt_cache_mb = 0\n")
    second = home / "second.gguf"
    shutil.copy(starter_model, second)
    with AppContext() as ctx:
        list(ask(ctx, "Hi"))
        (first_spec,) = [s for s, h in ctx.pool.hosts.items() if h.alive]
        list(ask(ctx, "Hi", model=str(second)))
        alive = [s for s, h in ctx.pool.hosts.items() if h.alive]
        assert [s.path for s in alive] == [str(second)]  # ~300 MB each: only one fits in 400 MB
        assert not ctx.pool.hosts[first_spec].alive
        list(ask(ctx, "Hi again"))  # the first model loads again, and the second makes way
        assert [s.path for s, h in ctx.pool.hosts.items() if h.alive] == [first_spec.path]


def test_a_budget_that_fits_both_keeps_both(starter_model: Path, tmp_path: Path) -> None:
    pool = HostPool(budget_bytes=10**12)
    one = HostSpec(str(starter_model), 512, 1, 0)
    two = HostSpec(str(starter_model), 1024, 1, 0)
    pool.host_for(one)
    pool.host_for(two)
    assert pool.make_room(one, 300_000_000) == [] and pool.make_room(two, 300_000_000) == []
    pool.shutdown()
