"""The pool of running model hosts: shared by copilots on the same model, kept within a memory budget."""

from __future__ import annotations

import atexit
import threading
import time
from typing import Any

import psutil

from app.core.runtime.host import HostSpec, ModelHost


class HostPool:
    """Running model hosts keyed by how they were loaded; the least recently used give way to new ones.

    Attributes:
        hosts: the hosts started so far, by spec (a dead one is restarted on its next request).
        budget_bytes: memory the loaded models may use together.
    """

    def __init__(self, budget_bytes: int) -> None:
        self.hosts: dict[HostSpec, ModelHost] = {}
        self.budget_bytes = budget_bytes
        self._estimates: dict[HostSpec, int] = {}
        self._last_used: dict[HostSpec, float] = {}
        self._lock = threading.Lock()
        atexit.register(self.shutdown)

    def set_budget(self, budget_bytes: int) -> None:
        """A new memory budget (from Settings), for the next `make_room`."""
        with self._lock:  # make_room reads it while it unloads
            self.budget_bytes = budget_bytes

    def host_for(self, spec: HostSpec) -> ModelHost:
        with self._lock:
            host = self.hosts.get(spec)
            if host is None:
                host = self.hosts[spec] = ModelHost(spec)
            return host

    def make_room(self, spec: HostSpec, estimate_bytes: int) -> list[HostSpec]:
        """Before `spec` is used: unload idle hosts, least recently used first, until it fits the budget.

        Returns the specs that were unloaded. A model larger than the whole budget still loads, alone.
        """
        with self._lock:
            self._estimates[spec] = estimate_bytes
            self._last_used[spec] = time.monotonic()
            loaded = [s for s, h in self.hosts.items() if h.alive and s != spec]
            used = sum(self._estimates.get(s, 0) for s in loaded)
            evicted = []
            for victim in sorted(loaded, key=lambda s: self._last_used.get(s, 0.0)):
                if used + estimate_bytes <= self.budget_bytes:
                    break
                if self.hosts[victim].busy:
                    continue
                used -= self._estimates.get(victim, 0)
                evicted.append(victim)
        for victim in evicted:
            self.hosts[victim].stop()
        return evicted

    def loaded(self) -> list[dict[str, Any]]:
        """Live hosts: their spec, estimated memory and the memory their process really holds now."""
        result = []
        for spec, host in list(self.hosts.items()):
            if not host.alive:
                continue
            try:
                rss = psutil.Process(host.pid).memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, TypeError):
                continue
            result.append({"spec": spec, "estimate_bytes": self._estimates.get(spec, 0), "rss_bytes": rss})
        return result

    def unload(self, spec: HostSpec) -> None:
        """End a model's host, giving its memory back."""
        with self._lock:
            host = self.hosts.pop(spec, None)
        if host is not None:
            host.stop()

    def shutdown(self) -> None:
        with self._lock:
            hosts, self.hosts = list(self.hosts.values()), {}
        for host in hosts:
            host.stop()
