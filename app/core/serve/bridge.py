"""A blocking run in a worker thread, read by the server's event loop; and the per-target queue in front of it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from app.core.providers.base import CancelToken

_Item = TypeVar("_Item")
_END = object()  # the worker is done: nothing follows


class _Raised:
    """What the worker raised, handed to the reader to raise there."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Lanes:
    """Calls admitted per target (one `model` name), running or waiting for their model host; at most `depth`.

    A model host answers one request at a time (`ModelHost`): the calls admitted wait for it in its own lock,
    in the worker threads, and a call over `depth` is refused at once (429) rather than left to hang.
    """

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self._busy: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, target: str) -> bool:
        """Take a place for `target`; False when its queue is full."""
        with self._lock:
            if self._busy.get(target, 0) >= self.depth:
                return False
            self._busy[target] = self._busy.get(target, 0) + 1
            return True

    def leave(self, target: str) -> None:
        with self._lock:
            self._busy[target] -= 1
            if not self._busy[target]:
                del self._busy[target]

    def busy(self, target: str) -> int:
        with self._lock:
            return self._busy.get(target, 0)


class RunBridge(Generic[_Item]):
    """Runs `work()` (a blocking iterator) in its own thread; `async for` reads its items on the event loop.

    What `work` raises is raised to the reader. `close()` (a client gone) sets the run's CancelToken, which stops
    a model within a token; the thread then ends the run as every run ends, stored as interrupted. `done` runs in
    the thread once the work has ended, whatever happened (the lane is free only when the model host is).
    """

    def __init__(self, work: Callable[[], Iterator[_Item]], cancel: CancelToken, done: Callable[[], None]) -> None:
        self.cancel = cancel
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()  # unbounded: a reply is bounded by its max_tokens
        self._work = work
        self._done = done
        self._held: object | None = None  # read from the queue by `batch`, for the next read
        self._thread = threading.Thread(target=self._run, name="roundtable-api-run", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._work():
                self._put(item)
        except BaseException as exc:  # noqa: B036 (handed over whole: the reader raises it as its own)
            self._put(_Raised(exc))
        finally:
            self._done()
            self._put(_END)

    def _put(self, item: object) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the server's loop has closed (shutdown): nobody is reading
            self.cancel.cancel()

    def __aiter__(self) -> RunBridge[_Item]:
        return self

    async def __anext__(self) -> _Item:
        item = self._held if self._held is not None else await self._queue.get()
        self._held = None
        if item is _END:
            self._held = _END  # a later read ends too
            raise StopAsyncIteration
        if isinstance(item, _Raised):
            raise item.error
        return item  # type: ignore[return-value]

    async def batch(self, window_s: float) -> list[_Item]:
        """The next item and those that follow within `window_s` of it: one write to the client for several
        tokens costs the server and the client a fraction of one each (StopAsyncIteration at the end)."""
        items = [await self.__anext__()]
        if window_s > 0:
            await asyncio.sleep(window_s)  # then take what came: no timed get, whose cancel could lose an item
        while self._held is None:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if item is _END or isinstance(item, _Raised):
                self._held = item  # the next read ends or raises, after these items are used
            else:
                items.append(item)  # type: ignore[arg-type]
        return items

    def close(self) -> None:
        """The reader has gone: stop the run."""
        self.cancel.cancel()
