"""The local API as an ASGI app (Starlette): OpenAI's `/v1/models`, `/v1/chat/completions`, `/v1/embeddings`,
and `/health`, every one behind the bearer token.

A call runs in a worker thread (`RunBridge`) after taking a place in its target's queue (`Lanes`: full -> 429);
streams are server-sent events (sse-starlette). A client that goes away cancels its run: a stream's generator is
cancelled by sse-starlette, a plain call is watched with `Request.is_disconnected`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app import __version__
from app.core.crew.events import CrewError, CrewText, MessageEvent, RunDone
from app.core.errors import Cancelled, RoundtableError, UsageError
from app.core.logs import log_unexpected
from app.core.providers.base import CancelToken, Event
from app.core.providers.local import Embeddings, LocalEmbedder
from app.core.serve.bridge import Lanes, RunBridge
from app.core.serve.targets import MODEL, model_list, not_found, start_run
from app.core.serve.wire import (
    MAX_BODY_BYTES,
    ApiError,
    ChatCompletionRequest,
    Completion,
    EmbeddingRequest,
    embedding_value,
    parse,
    usage_body,
)
from app.core.store import STATUS_COMPLETE, STATUS_STREAMING

if TYPE_CHECKING:
    from app.core.context import AppContext

RETRY_AFTER_S = 2  # what a 429 asks a client to wait: about one short reply of a small model
# a stream's text after its first piece: what arrives within this long goes in one chunk. 25 chunks a second read
# as smoothly as one a token, and cost the server and the client a third as much at 75 tokens/s
COALESCE_S = 0.04
PING_S = 15  # an SSE comment this often keeps proxies from closing a crew's long silence
_DISCONNECT_POLL_S = 0.1

# a run's error kinds -> the HTTP status of the call (anything else: 500)
_KIND_STATUS = {
    "context": 400,
    **dict.fromkeys(
        ("auth", "network", "timeout", "not_found", "rate_limit", "server", "protocol", "remote", "rejected", "tool"),
        502,
    ),
}


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def as_api_error(exc: BaseException) -> ApiError:
    """Any failure of a call as the error the client gets; a bug is logged with its traceback, never shown."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, UsageError):
        return ApiError(400, str(exc))
    if isinstance(exc, RoundtableError):
        return ApiError(500, str(exc), kind="server_error")
    log_unexpected(exc, "the local API")
    return ApiError(500, f"Unexpected error ({type(exc).__name__}); details in Roundtable's log.", kind="server_error")


class BearerAuth:
    """Refuses, with 401, every request without `Authorization: Bearer <token>` (compared in constant time)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scheme, _, given = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token):
            refused = ApiError(
                401,
                "Missing or wrong bearer token: send `Authorization: Bearer <token>` "
                "(`roundtable serve token` prints it).",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
            await error_response(refused)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def read_json(request: Request) -> Any:
    """The request's JSON body, read at most MAX_BODY_BYTES far (413 beyond)."""
    too_big = ApiError(413, f"The request body is over {MAX_BODY_BYTES // 1024} KiB.", code="request_too_large")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise too_big
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(400, "The request body is not JSON.") from None


class _Finished(Event):
    """Last item of a chat run, after its RunDone: why the last reply stopped (`stop` or `length`)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _chat_items(ctx: AppContext, request: ChatCompletionRequest, cancel: CancelToken) -> Iterator[Event]:
    """The run's events, then `_Finished` read from the last reply's trace (in the worker: a store read)."""
    for event in start_run(ctx, request, cancel):
        yield event
        if isinstance(event, RunDone) and event.message_id:
            trace = ctx.store.get_message(event.message_id).data.get("trace") or {}
            yield _Finished("length" if trace.get("finish_reason") == "length" else "stop")


class _Answer:
    """Turns a chat run's events into OpenAI's shapes as they come.

    The content is the text of the run's replies in order, one blank line between two replies (a crew's last
    reply is its answer; the earlier ones are the work that led there). `usage` adds up every reply's.
    """

    def __init__(self, request: ChatCompletionRequest) -> None:
        self.request = request
        self.completion = Completion(request.model)
        self.parts: list[str] = []
        self.last_message: str | None = None
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.finish_reason = "stop"
        self.thread_id: str | None = None
        self.error: ApiError | None = None
        self.events: list[dict[str, Any]] = []

    def take(self, event: Event) -> str:
        """Note `event`; returns the content it adds."""
        if isinstance(event, _Finished):
            self.finish_reason = event.reason
            return ""
        if self.request.roundtable.events and not isinstance(event, CrewText):
            self.events.append(event.to_dict())
        if isinstance(event, CrewText) and event.delta:
            text = event.delta
            if self.last_message not in (None, event.message_id):
                text = "\n\n" + text
            self.last_message = event.message_id
            self.parts.append(text)
            return text
        if isinstance(event, MessageEvent) and event.status != STATUS_STREAMING and event.usage is not None:
            self.prompt_tokens += event.usage.prompt_tokens
            self.completion_tokens += event.usage.completion_tokens
        elif isinstance(event, CrewError):
            status = _KIND_STATUS.get(event.kind, 500)
            self.error = ApiError(status, event.message, kind="server_error", code=event.kind)
        elif isinstance(event, RunDone):
            self.thread_id = event.thread_id
            if event.status != STATUS_COMPLETE and self.error is None:
                self.error = ApiError(503, f"The run ended {event.status}: it was stopped.", kind="server_error")
            elif event.status == STATUS_COMPLETE:
                self.error = None  # an earlier reply failed, yet the crew went on and finished
        return ""

    def usage(self) -> dict[str, int]:
        return usage_body(self.prompt_tokens, self.completion_tokens)

    def extension(self) -> dict[str, Any]:
        """The `roundtable` field: the stored thread's id, and the run's events when asked for."""
        found: dict[str, Any] = {"thread_id": self.thread_id}
        if self.request.roundtable.events:
            found["events"] = self.events
        return found

    async def stream(self, first: Event | None, bridge: RunBridge[Event]) -> AsyncIterator[dict[str, str]]:
        """The SSE stream: a role chunk, content chunks (and event chunks, when asked), the finish, [DONE].

        `first` is the run's first event, read before the response began."""
        completion = self.completion

        def sse(payload: dict[str, Any]) -> dict[str, str]:
            return {"data": json.dumps(payload, ensure_ascii=False)}

        async def batches() -> AsyncIterator[list[Event]]:
            if first is not None:
                yield [first]
            sent_text = False
            while True:
                try:  # the first text goes out at once; after it, what arrives within COALESCE_S goes together
                    batch = await bridge.batch(COALESCE_S if sent_text else 0.0)
                except StopAsyncIteration:
                    return
                sent_text = sent_text or any(isinstance(event, CrewText) for event in batch)
                yield batch

        try:
            yield sse(completion.chunk({"role": "assistant", "content": ""}))
            async for batch in batches():
                text = ""
                for event in batch:
                    text += self.take(event)
                    if self.events and text:  # the text so far goes before the event that followed it
                        yield sse(completion.chunk({"content": text}))
                        text = ""
                    while self.events:  # each run event in a chunk of its own, with no choices (README, Local API)
                        yield sse(completion.side_chunk(roundtable=self.events.pop(0)))
                if text:
                    yield sse(completion.chunk({"content": text}))
            if self.error is not None:
                yield sse(self.error.body())  # OpenAI's clients raise it as an APIError
                return
            finish = completion.chunk({}, self.finish_reason)
            yield sse({**finish, "roundtable": {"thread_id": self.thread_id}})
            if self.request.stream_options is not None and self.request.stream_options.include_usage:
                yield sse(completion.side_chunk(usage=self.usage()))
            yield {"data": "[DONE]"}
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError | GeneratorExit):
                yield sse(as_api_error(exc).body())
                return
            raise
        finally:
            bridge.close()  # the client went away (or the stream ended): a run still going stops within a token

    async def whole(self, bridge: RunBridge[Event], request: Request) -> dict[str, Any]:
        """The `chat.completion` of a call that does not stream."""
        async with _watching(request, bridge.close):
            async for event in bridge:
                self.take(event)
        if self.error is not None:
            raise self.error
        return self.completion.whole("".join(self.parts), self.finish_reason, self.usage(), roundtable=self.extension())


class _watching:
    """While a plain (not streamed) call runs: when its client disconnects, call `gone`."""

    def __init__(self, request: Request, gone: Callable[[], None]) -> None:
        self.request = request
        self.gone = gone
        self.task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while not await self.request.is_disconnected():
            await asyncio.sleep(_DISCONNECT_POLL_S)
        self.gone()

    async def __aenter__(self) -> None:
        self.task = asyncio.create_task(self._watch())

    async def __aexit__(self, *_exc: object) -> None:
        assert self.task is not None
        self.task.cancel()


class LocalApi:
    """The endpoints, over one AppContext.

    Attributes:
        lanes: the calls admitted per target.
    """

    def __init__(self, ctx: AppContext, queue_depth: int) -> None:
        self.ctx = ctx
        self.lanes = Lanes(queue_depth)

    def _admit(self, target: str) -> str:
        lane = target.strip().lower()
        if not self.lanes.enter(lane):
            raise ApiError(
                429,
                f"'{target}' has {self.lanes.depth} calls running or waiting: retry in {RETRY_AFTER_S} s.",
                kind="rate_limit_error",
                code="rate_limit_exceeded",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        return lane

    async def health(self, _request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def models(self, _request: Request) -> Response:
        listed = await run_in_threadpool(model_list, self.ctx)
        return JSONResponse({"object": "list", "data": listed})

    async def chat(self, request: Request) -> Response:
        body = parse(ChatCompletionRequest, await read_json(request))
        lane = self._admit(body.model)
        cancel = CancelToken()
        bridge: RunBridge[Event] = RunBridge(
            lambda: _chat_items(self.ctx, body, cancel), cancel, lambda: self.lanes.leave(lane)
        )
        answer = _Answer(body)
        if body.stream:
            # the first event comes once the target is found and the question stored: an error before it is
            # still an HTTP error, not a stream that breaks off
            first = await anext(bridge, None)
            return EventSourceResponse(answer.stream(first, bridge), ping=PING_S, sep="\n")
        return JSONResponse(await answer.whole(bridge, request))

    async def embeddings(self, request: Request) -> Response:
        body = parse(EmbeddingRequest, await read_json(request))
        kind, _, ref = body.model.partition(":")
        record = await run_in_threadpool(self.ctx.store.get_model, ref) if kind == MODEL and ref else None
        if record is None:
            raise not_found(body.model)
        lane = self._admit(body.model)
        cancel = CancelToken()
        texts = body.texts()
        embedder = LocalEmbedder.for_model(Path(record["path"]), self.ctx.services)

        def work() -> Iterator[Embeddings]:
            yield embedder.embed(texts, cancel)

        bridge: RunBridge[Embeddings] = RunBridge(work, cancel, lambda: self.lanes.leave(lane))
        try:
            async with _watching(request, bridge.close):
                result = await anext(bridge)
        except Cancelled:
            raise ApiError(499, "The client went away.") from None
        data = [
            {"object": "embedding", "index": i, "embedding": embedding_value(vector, body.encoding_format)}
            for i, vector in enumerate(result.vectors)
        ]
        usage = {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens}
        return JSONResponse({"object": "list", "data": data, "model": body.model, "usage": usage})


async def _api_error_handler(_request: Request, exc: Exception) -> Response:
    return error_response(as_api_error(exc))


async def _http_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = "not_found" if exc.status_code == 404 else None
    return error_response(ApiError(exc.status_code, f"{exc.detail}: see GET /v1/models and the README.", code=code))


def create_app(ctx: AppContext, token: str, *, cors_origins: list[str] | None = None) -> Starlette:
    """The local API over `ctx`; every request needs `token`. CORS only for `cors_origins` (default: settings)."""
    api = LocalApi(ctx, ctx.settings.api_queue)
    origins = ctx.settings.api_cors_origins if cors_origins is None else cors_origins
    middleware = []
    if origins:  # outermost: a browser's preflight carries no token
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )
    middleware.append(Middleware(BearerAuth, token=token))
    routes = [
        Route("/health", api.health),
        Route("/v1/models", api.models),
        Route("/v1/chat/completions", api.chat, methods=["POST"]),
        Route("/v1/embeddings", api.embeddings, methods=["POST"]),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Any]] = {
        ApiError: _api_error_handler,
        RoundtableError: _api_error_handler,
        HTTPException: _http_error_handler,
        Exception: _api_error_handler,
    }
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)
    app.state.api = api
    return app
