"""Agents built with the official SDKs (`openbb-ai`, `a2a-sdk`), served by uvicorn on loopback: what a user
would run, so the tests see exactly what such an agent receives from Roundtable."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

STARTUP_S = 60.0  # a loaded 2-core machine may take a while to import and bind; never decides a test


@contextmanager
def serving(make_app: Callable[[str], Any]) -> Iterator[str]:
    """Serve `make_app(base_url)` (an ASGI app) on 127.0.0.1 in a thread; yields its base URL, stops it on exit."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(make_app(url), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the SDK agent's server did not start")
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(STARTUP_S)
        sock.close()


# -- OpenBB Workspace agent (openbb-ai) --------------------------------------------------------------------


@dataclass
class OpenBBAgentLog:
    """Every `QueryRequest` the agent received, parsed by the SDK's own model."""

    requests: list[Any] = field(default_factory=list)


def openbb_app(_base_url: str, agent_id: str, log: OpenBBAgentLog, chart: bool = False) -> Any:
    """An agent written the way openbb-ai's README shows: `agents.json`, a `QueryRequest` in, SSE made by the
    SDK's helpers out (served by Starlette, which FastAPI wraps).

    It answers with a chunk, a citation made by `cite()` of the first primary widget, and a table artifact
    (or a chart artifact with `chart=True`)."""
    from openbb_ai import chart as chart_artifact
    from openbb_ai import citations, cite, message_chunk, table
    from openbb_ai.models import QueryRequest
    from sse_starlette.sse import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def agents(_request: Request) -> JSONResponse:
        descriptor = {
            "name": "Bond desk",
            "description": "Built with openbb-ai.",
            "endpoints": {"query": "/v1/query"},
            "features": {"streaming": True, "widget-dashboard-select": True},
        }
        return JSONResponse({agent_id: descriptor})

    async def query(posted: Request) -> EventSourceResponse:
        request = QueryRequest.model_validate(await posted.json())  # as FastAPI reads a typed body
        log.requests.append(request)
        rows = [{"bond": "UST 10y", "coupon": 4.25}, {"bond": "Bund 10y", "coupon": 2.5}]

        async def events() -> AsyncIterator[dict[str, Any]]:
            yield message_chunk("A bond pays a fixed coupon.").model_dump()
            if request.widgets and request.widgets.primary:
                yield citations([cite(request.widgets.primary[0], {"symbol": "UST"})]).model_dump()
            if chart:
                yield chart_artifact(
                    type="bar", data=rows, x_key="bond", y_keys=["coupon"], name="Coupons", description="By bond"
                ).model_dump()
            else:
                yield table(data=rows, name="Coupons", description="By bond").model_dump()

        return EventSourceResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/agents.json", agents), Route("/v1/query", query, methods=["POST"])])


# -- A2A agent (a2a-sdk) -------------------------------------------------------------------------------------


@dataclass
class A2AAgentLog:
    """The text of every message the agent was asked, as `RequestContext.get_user_input()` reads it."""

    inputs: list[str] = field(default_factory=list)


def a2a_app(base_url: str, log: A2AAgentLog, protocol_version: str = "1.0") -> Any:
    """An agent written the way a2a-sdk's samples show: an `AgentExecutor` behind the SDK's JSON-RPC routes.

    The card offers one JSON-RPC interface, at `protocol_version`; the SDK answers 1.0 and 0.3 on it."""
    from a2a.helpers.proto_helpers import new_task_from_user_message, new_text_part
    from a2a.server.agent_execution import AgentExecutor, RequestContext
    from a2a.server.events import EventQueue
    from a2a.server.request_handlers import DefaultRequestHandler
    from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
    from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
    from a2a.types import AgentCapabilities, AgentCard, AgentInterface, AgentSkill
    from starlette.applications import Starlette

    class Counter(AgentExecutor):
        async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
            asked = context.get_user_input()
            log.inputs.append(asked)
            assert context.message is not None
            task = context.current_task or new_task_from_user_message(context.message)
            await event_queue.enqueue_event(task)
            updater = TaskUpdater(event_queue, task.id, task.context_id)
            await updater.start_work()
            await updater.add_artifact([new_text_part(f"Rates agent here: you asked {len(asked.split())} words.")])
            await updater.complete()

        async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
            raise NotImplementedError

    card = AgentCard(
        name="Rates agent",
        description="Built with a2a-sdk.",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(url=f"{base_url}/a2a", protocol_binding="JSONRPC", protocol_version=protocol_version)
        ],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="rates", name="Rates", description="Rates", tags=["finance"])],
    )
    handler = DefaultRequestHandler(agent_executor=Counter(), task_store=InMemoryTaskStore(), agent_card=card)
    routes = create_agent_card_routes(card) + create_jsonrpc_routes(handler, "/a2a", enable_v0_3_compat=True)
    return Starlette(routes=routes)
