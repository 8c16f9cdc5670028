"""Live MCP sessions: one per registered server, started on first use and kept while Roundtable runs.

A fresh stdio session per call costs a process start (about 0.9 s for a Python server); a kept one answers in
milliseconds. All sessions run on one asyncio loop in a daemon thread; callers on any thread submit work and wait
for it with a timeout. A session whose server exits, or that times out, is closed; the next call starts it again,
after a back-off that doubles with each failure in a row (so a server that crashes at once is not restarted in a
tight loop). `shutdown` (at quit, and at interpreter exit) closes every session and ends the servers.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

_T = TypeVar("_T")
_log = logging.getLogger("roundtable.mcp")

FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
_CLOSE_S = 5.0  # how long shutdown waits for a server to end before the loop stops under it

# A connector opens a client for one server: an async context manager whose value is an `mcp.Client`, with the
# given message handler installed. The server module builds it (stdio or Streamable HTTP).
Connector = Callable[[Callable[[Any], Awaitable[None]]], Any]


class SessionGone(Exception):
    """The session ended under a call (the server exited or was stopped); the message says why."""


class _Live:
    """One server's session: a task on the loop holds the client open until closed or broken."""

    def __init__(self, connect: Connector) -> None:
        self.connect = connect
        self.client: Any = None
        self.tools: Any = None  # the cached tools/list result, dropped on the server's list_changed notification
        self.failure: BaseException | None = None
        self.ready = asyncio.Event()
        self.closing = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._hold())

    async def _hold(self) -> None:
        try:
            async with self.connect(self._on_message) as client:
                self.client = client
                self.ready.set()
                watcher = asyncio.get_running_loop().create_task(self._watch(client))
                try:
                    await self.closing.wait()
                finally:
                    watcher.cancel()
                    with contextlib.suppress(BaseException):
                        await watcher
        except BaseException as exc:  # the server died or never started: kept for the waiting calls to report
            self.failure = exc
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self.client = None
            self.closing.set()
            self.ready.set()

    async def _watch(self, client: Any) -> None:
        """Drop the cached tool list whenever the server says it changed (a `subscriptions/listen` stream on
        servers of protocol 2026-07-28 and later; older servers send the notification unasked: `_on_message`)."""
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                async for _event in subscription:
                    self.tools = None
        except Exception as exc:  # an older server, or one that does not offer it: nothing to watch
            _log.debug("No tool list subscription: %s", exc)

    async def _on_message(self, message: Any) -> None:
        from mcp.types import ToolListChangedNotification

        if isinstance(message, ToolListChangedNotification):
            self.tools = None  # listed again on the next use

    @property
    def alive(self) -> bool:
        return not self.closing.is_set()

    async def close(self) -> None:
        self.closing.set()
        if self.task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(self.task), _CLOSE_S)


class SessionPool:
    """Live sessions by key (a server's name and how it is reached), on one background event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._live: dict[Hashable, _Live] = {}
        self._failures: dict[Hashable, tuple[int, float]] = {}  # key -> (failures in a row, when the last was)

    def run(self, key: Hashable, connect: Connector, work: Callable[[_Live], Awaitable[_T]], timeout: float) -> _T:
        """Run `work` on the server's live session (started first if needed) within `timeout` seconds.

        A timeout closes the session (a hung server cannot hold the next call) and raises TimeoutError; a session
        that breaks raises SessionGone or the SDK's error; both count towards the back-off.
        """
        loop = self._ensure_loop()
        future = asyncio.run_coroutine_threadsafe(self._run(key, connect, work, timeout), loop)
        try:
            return future.result(timeout + _CLOSE_S)
        except FutureTimeout as exc:  # the loop itself is stuck: should not happen, but never hang the caller
            future.cancel()
            raise TimeoutError from exc

    async def _run(
        self, key: Hashable, connect: Connector, work: Callable[[_Live], Awaitable[_T]], timeout: float
    ) -> _T:
        live = await self._session(key, connect, timeout)
        try:
            result = await asyncio.wait_for(work(live), timeout)
        except BaseException:
            # a hung server (timeout), one that exited, or one that broke the protocol is closed and started
            # afresh on the next call (a tool's own failure is a result with is_error, not an exception)
            self._failed(key)
            await self._drop(key, live)
            raise
        self._failures.pop(key, None)
        return result

    async def _session(self, key: Hashable, connect: Connector, timeout: float) -> _Live:
        live = self._live.get(key)
        if live is not None and live.alive:
            await asyncio.wait_for(live.ready.wait(), timeout)
            if live.client is not None:
                return live
        failures, last = self._failures.get(key, (0, 0.0))
        if failures:
            wait = min(FIRST_BACKOFF_S * 2 ** (failures - 1), MAX_BACKOFF_S) - (time.monotonic() - last)
            if wait > 0:
                await asyncio.sleep(min(wait, timeout))
        live = _Live(connect)
        self._live[key] = live
        live.start()
        await asyncio.wait_for(live.ready.wait(), timeout)
        if live.client is None:
            self._failed(key)
            failure = live.failure
            raise failure if isinstance(failure, Exception) else SessionGone("the server ended before it answered")
        return live

    def _failed(self, key: Hashable) -> None:
        failures, _ = self._failures.get(key, (0, 0.0))
        self._failures[key] = (failures + 1, time.monotonic())

    async def _drop(self, key: Hashable, live: _Live) -> None:
        if self._live.get(key) is live:
            del self._live[key]
        await live.close()

    def close(self, matching: Callable[[Hashable], bool]) -> None:
        """End the sessions whose key matches (a server removed or registered again with another command)."""
        with self._lock:
            loop = self._loop
        if loop is None:
            return

        async def closing() -> None:
            for key in [k for k in self._live if matching(k)]:
                await self._drop(key, self._live[key])
                self._failures.pop(key, None)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(closing(), loop).result(_CLOSE_S * 2)

    def keys(self) -> list[Hashable]:
        """The keys of the sessions that are live now."""
        return [key for key, live in list(self._live.items()) if live.alive and live.client is not None]

    def shutdown(self) -> None:
        """Close every session (their servers end) and stop the loop; a later call starts a new loop."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return

        async def closing() -> None:
            await asyncio.gather(*(live.close() for live in self._live.values()), return_exceptions=True)
            self._live.clear()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(closing(), loop).result(_CLOSE_S * 2)
        loop.call_soon_threadsafe(loop.stop)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="mcp-sessions", daemon=True)
                thread.start()
                self._loop = loop
            return self._loop


SESSIONS = SessionPool()
atexit.register(SESSIONS.shutdown)
