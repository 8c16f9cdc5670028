"""ModelHost: one loaded model in its own child process, streamed to over a pipe, restartable after a crash."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from app.core.providers.base import CancelToken

if TYPE_CHECKING:
    from multiprocessing.context import SpawnContext

_POLL_S = 0.05
_LOAD_TIMEOUT_S = 600
_STOP_TIMEOUT_S = 5


def spawn() -> SpawnContext:
    """How hosts and probes start: a fresh interpreter, safe beside Qt's threads and in a frozen app.
    (multiprocessing is imported when the first one starts: ~15 ms of start-up time.)"""
    import multiprocessing

    return multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class HostSpec:
    """How to load a model; hosts with equal specs are interchangeable (and shared by the pool).

    LoRA adapters and control vectors are no part of it: each chat request names its own, so specialists on one
    base share a host.
    """

    path: str
    n_ctx: int
    n_threads: int
    n_gpu_layers: int | None  # None: all layers when llama.cpp was built with GPU offload, else none
    # saved llama.cpp states, found again by longest token prefix: each copilot's history stays evaluated
    prompt_cache_mb: int = 0
    embedding: bool = False  # loaded to embed texts (`ModelHost.embed`) rather than to chat


def describe_exit(exitcode: int | None) -> str:
    """Say in words how a host process ended."""
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if name == "SIGKILL":
            return "was killed (SIGKILL; often the system ran out of memory)"
        if name == "SIGSEGV":
            return "crashed (SIGSEGV: a segmentation fault inside llama.cpp)"
        if name == "SIGABRT":
            return "aborted (SIGABRT: llama.cpp hit an internal error)"
        return f"was stopped by {name}"
    return f"exited unexpectedly with status {exitcode}"


class HostCrashed(RuntimeError):
    """The host process died; the message says how."""


class ModelHost:
    """A child process holding one llama.cpp model; one request at a time, cancellable, crash-safe.

    Attributes:
        spec: what model is loaded and how.
        n_ctx: the context size the model was loaded with (after start).
        adapters: the adapter and control vector files requests have asked the running process for (each loaded
            once, kept loaded).
    """

    def __init__(self, spec: HostSpec) -> None:
        self.spec = spec
        self.n_ctx: int | None = None
        self.adapters: set[str] = set()
        self._process: Any = None
        self._conn: Any = None
        self._cancel_flag = spawn().Event()
        self._current: CancelToken | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def busy(self) -> bool:
        """Whether a request is being answered right now."""
        return self._lock.locked()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def _start(self) -> None:
        from app.core.runtime.worker import host_main  # the child's side, with the runtime's modules: start-up time

        parent_conn, child_conn = spawn().Pipe()
        self._process = spawn().Process(
            target=host_main,
            args=(child_conn, self._cancel_flag, asdict(self.spec)),
            name="roundtable-model-host",
            daemon=True,
        )
        self._process.start()
        child_conn.close()  # only the child holds its end now: its death reads as EOF here
        self._conn = parent_conn
        self.adapters = set()
        first = self._receive(timeout=_LOAD_TIMEOUT_S)
        if first is None or first.get("type") != "ready":
            self._discard()
            message = first.get("message") if first else "did not load in time"
            raise HostCrashed(str(message))
        self.n_ctx = first["n_ctx"]

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        """The next message from the child; raises HostCrashed when it died. None on timeout."""
        waited = 0.0
        while waited < timeout:
            try:
                if self._conn.poll(_POLL_S):
                    received: dict[str, Any] = self._conn.recv()
                    return received
            except (EOFError, OSError):
                break
            if not self._process.is_alive() and not self._conn.poll(0):
                break
            waited += _POLL_S
        else:
            return None
        self._process.join(1)
        exitcode = self._process.exitcode
        self._discard()
        raise HostCrashed(f"The model host {describe_exit(exitcode)}")

    def _cancel_current(self, cancel: CancelToken) -> None:
        # a late cancel of an earlier request must not stop this one
        if self._current is cancel:
            self._cancel_flag.set()

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(_STOP_TIMEOUT_S)
        self._process = None
        self._conn = None

    def chat(self, request: dict[str, Any], cancel: CancelToken) -> Iterator[dict[str, Any]]:
        """Send one chat request; yield the child's events until `done` or `error`.

        `request["adapters"]`, [path, scale] pairs, are the LoRA adapters to answer with (none: the base model);
        `request["control_vectors"]`, [path, strength] pairs, the control vectors that steer it.
        Starts the process on first use (and again after a crash). Raises HostCrashed if it dies.
        """
        return self._ask({"op": "chat", **request}, cancel)

    def embed(self, texts: list[str], cancel: CancelToken) -> Iterator[dict[str, Any]]:
        """Embed `texts` (the host must be loaded with `spec.embedding`): yields `embeddings` events, a batch of
        unit vectors each with the index of its first text, then `done` (with `prompt_tokens`) or `error`."""
        return self._ask({"op": "embed", "texts": texts}, cancel)

    def _ask(self, request: dict[str, Any], cancel: CancelToken) -> Iterator[dict[str, Any]]:
        with self._lock:
            if not self.alive:
                self._discard()
                yield {"type": "status", "message": "Loading model"}
                self._start()
            for path, _ in [*request.get("adapters", []), *request.get("control_vectors", [])]:
                self.adapters.add(str(path))
            self._cancel_flag.clear()
            self._current = cancel
            take_back = cancel.on_cancel(lambda: self._cancel_current(cancel))
            finished = False
            try:
                self._conn.send(request)
                while not finished:
                    event = self._receive(timeout=float("inf"))
                    if event is None:
                        continue
                    finished = event["type"] in ("done", "error")
                    yield event
            finally:
                take_back()
                self._current = None
                if not finished and self.alive:
                    self._abandon()

    def _abandon(self) -> None:
        """The caller stopped listening mid-answer: stop generating and drain, so the next request starts clean."""
        self._cancel_flag.set()
        try:
            while (event := self._receive(timeout=_STOP_TIMEOUT_S)) is not None:
                if event["type"] in ("done", "error"):
                    return
        except HostCrashed:
            return
        self._discard()

    def stop(self) -> None:
        """Unload the model: end the process, which gives all its memory back."""
        if self._conn is not None and self.alive:
            try:
                self._conn.send({"op": "shutdown"})
                self._process.join(_STOP_TIMEOUT_S)
            except (OSError, BrokenPipeError):
                pass
        self._discard()
