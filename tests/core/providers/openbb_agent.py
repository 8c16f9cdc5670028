"""A stand-in OpenBB Workspace agent (the far side of a network): it asks for the thread as widget data,
then answers from it with a status update, a citation, a table artifact and an event type it invented."""

from __future__ import annotations

from tests.loopback import LoopbackServer, Request, Response, sse

AGENT_ID = "bond-desk"


def serve_openbb_agent(server: LoopbackServer, legacy: bool = False) -> None:
    descriptor = {
        AGENT_ID: {
            "name": "Bond desk",
            "description": "Answers bond questions from the data it is given.",
            "endpoints": {"query": "/v1/query"},
            **(
                {"hasStreaming": True} if legacy else {"features": {"streaming": True, "widget-dashboard-select": True}}
            ),
        }
    }
    server.routes[("GET", "/copilots.json" if legacy else "/agents.json")] = lambda _r: Response(body=descriptor)
    server.routes[("POST", "/v1/query")] = _query


def _query(request: Request) -> Response:
    messages = request.body["messages"]
    last = messages[-1]
    if last["role"] != "tool":
        widgets = request.body["widgets"]
        primary = widgets["primary"] if isinstance(widgets, dict) else widgets
        call = {
            "function": "get_widget_data",
            "input_arguments": {
                "data_sources": [{"widget_uuid": primary[0]["uuid"], "id": primary[0].get("widget_id")}]
            },
        }
        return Response(
            chunks=[sse("copilotStatusUpdate", {"eventType": "INFO", "message": "Reading the thread"})]
            + [sse("copilotFunctionCall", call)]
        )
    data = last["data"]
    content = data["content"] if isinstance(data, dict) else data[0]["items"][0]["content"]
    words = len(content.split())
    chunks = [
        sse("copilotStatusUpdate", {"eventType": "INFO", "message": "Checking coupons", "group": "reasoning"}),
        sse("copilotMessageChunk", {"delta": f"I read {words} words of the thread. "}),
        sse("copilotSomethingNew", {"whatever": True}),
        sse("copilotMessageChunk", {"delta": "A bond pays a fixed coupon."}),
        sse(
            "copilotCitationCollection",
            {
                "citations": [
                    {
                        "source_info": {
                            "type": "widget",
                            "name": "Roundtable thread",
                            "widget_id": "roundtable-thread",
                        },
                        "details": [{"quote": content[:40]}],
                    }
                ]
            },
        ),
        sse(
            "copilotMessageArtifact",
            {"type": "table", "name": "Coupons", "content": [{"bond": "UST 10y", "coupon": "4.25%"}]},
        ),
    ]
    return Response(chunks=chunks)
