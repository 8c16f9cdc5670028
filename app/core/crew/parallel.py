"""Answers worked at the same time: whether a roundtable's copilots can answer in parallel, and running them so.

In parallel only where it is faster and safe: remote copilots always (they wait on the network); local ones when
each runs on a model host of its own (different models or settings: copilots on one host take turns anyway), the
hosts fit the memory budget together (and the GPU's free memory where they are offloaded), and, on the CPU, their
threads together fit this machine's cores (two CPU-bound models on the same cores each go slower than one alone).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from app.core.errors import RoundtableError
from app.core.hardware import llama_backend, probe
from app.core.providers.base import Event, Provider
from app.core.providers.local import LocalProvider, check_model, host_memory_estimate
from app.core.runtime.pool import HostPool


def can_run_together(providers: list[Provider], pool: HostPool) -> tuple[bool, str]:
    """Whether these backends can answer at the same time, and why (or why not) in words."""
    if len(providers) < 2:
        return False, "one copilot answers"
    local = [p for p in providers if isinstance(p, LocalProvider)]
    if len({p.spec for p in local}) < len(local):
        return False, "some of them share a model host, which answers one request at a time"
    try:
        needs = [host_memory_estimate(check_model(p.path), p.path, p.spec, [a for a, _ in p.adapters]) for p in local]
    except RoundtableError as exc:
        return False, f"a model could not be read: {exc}"
    if sum(needs) > pool.budget_bytes:
        return (
            False,
            f"their models need {sum(needs) >> 20} MB together, over the budget of {pool.budget_bytes >> 20} MB",
        )
    gpu = llama_backend() != "cpu"
    on_cpu = [p for p in local if not gpu or p.spec.n_gpu_layers == 0]
    threads, cores = sum(p.spec.n_threads for p in on_cpu), os.cpu_count() or 1
    if len(on_cpu) > 1 and threads > cores:
        return False, f"their models would share {cores} CPU cores ({threads} threads)"
    offloaded = sum(need for p, need in zip(local, needs, strict=True) if p not in on_cpu)
    if len(local) - len(on_cpu) > 1 and offloaded > (free := probe().gpu_free_bytes):
        return False, f"their models need {offloaded >> 20} MB of GPU memory, {free >> 20} MB is free"
    return True, "each answers on a backend of its own"


@dataclass
class _Returned:
    value: Any


@dataclass
class _Raised:
    error: BaseException


def run_together(
    work: Sequence[Callable[[], Generator[Event, None, Any]]],
) -> Generator[Event, None, list[Any]]:
    """Run each generator in a thread of its own, all at once; yield their events one generator after another (the
    first one's as they come, the others' as soon as those before them are done), so every view still reads one
    reply at a time. Returns their return values in order; an exception in one is raised here, in its turn."""
    channels: list[queue.Queue[Any]] = [queue.Queue() for _ in work]

    def drive(make: Callable[[], Generator[Event, None, Any]], channel: queue.Queue[Any]) -> None:
        try:
            channel.put(_Returned(yield_into(make(), channel)))
        except BaseException as exc:  # handed to the caller's thread
            channel.put(_Raised(exc))

    threads = [threading.Thread(target=drive, args=pair, daemon=True) for pair in zip(work, channels, strict=True)]
    for thread in threads:
        thread.start()
    results = []
    for channel in channels:
        results.append((yield from _drain(channel)))
    for thread in threads:
        thread.join()
    return results


def yield_into(generator: Generator[Event, None, Any], channel: queue.Queue[Any]) -> Any:
    """Put every event of `generator` into `channel`; returns its return value."""
    while True:
        try:
            channel.put(next(generator))
        except StopIteration as stop:
            return stop.value


def _drain(channel: queue.Queue[Any]) -> Generator[Event, None, Any]:
    while True:
        item = channel.get()
        if isinstance(item, _Returned):
            return item.value
        if isinstance(item, _Raised):
            raise item.error
        yield item
