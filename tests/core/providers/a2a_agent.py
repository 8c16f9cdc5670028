"""A stand-in A2A agent (the far side of a network), speaking A2A 0.3 or 1.0, streaming or not."""

from __future__ import annotations

from tests.loopback import LoopbackServer, Request, Response, sse


def serve_a2a_agent(server: LoopbackServer, version: str = "0.3", streaming: bool = True, fail: bool = False) -> None:
    card = {
        "name": "Rates agent",
        "description": "Knows interest rates.",
        "version": "1.0.0",
        "capabilities": {"streaming": streaming},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "rates", "name": "Rates", "description": "Rates", "tags": ["finance"]}],
    }
    if version == "1.0":
        card["supportedInterfaces"] = [
            {"url": f"{server.url}/a2a", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
        ]
    else:
        card |= {"url": f"{server.url}/a2a", "protocolVersion": "0.3.0"}
    server.routes[("GET", "/.well-known/agent-card.json")] = lambda _r: Response(body=card)
    server.routes[("POST", "/a2a")] = lambda request: _rpc(request, version, fail)


def _rpc(request: Request, version: str, fail: bool) -> Response:
    method, rid = request.body["method"], request.body["id"]
    if method in ("tasks/cancel", "CancelTask"):
        return Response(body={"jsonrpc": "2.0", "id": rid, "result": {"id": request.body["params"]["id"]}})
    text = request.body["params"]["message"]["parts"][0]["text"]
    state = "failed" if fail else "completed"
    answer = f"Rates agent here: you asked {len(text.split())} words."
    if version == "1.0":
        events = [
            {"task": {"id": "t1", "contextId": "c1", "status": {"state": "TASK_STATE_SUBMITTED"}}},
            {
                "statusUpdate": {
                    "taskId": "t1",
                    "contextId": "c1",
                    "status": {
                        "state": "TASK_STATE_WORKING",
                        "message": {"messageId": "m", "role": "ROLE_AGENT", "parts": [{"text": "Looking up rates"}]},
                    },
                }
            },
            {
                "artifactUpdate": {
                    "taskId": "t1",
                    "contextId": "c1",
                    "artifact": {"artifactId": "a1", "parts": [{"text": answer}]},
                }
            },
            {"statusUpdate": {"taskId": "t1", "contextId": "c1", "status": {"state": f"TASK_STATE_{state.upper()}"}}},
        ]
    else:
        events = [
            {"kind": "task", "id": "t1", "contextId": "c1", "status": {"state": "submitted"}},
            {
                "kind": "status-update",
                "taskId": "t1",
                "contextId": "c1",
                "status": {
                    "state": "working",
                    "message": {
                        "kind": "message",
                        "messageId": "m",
                        "role": "agent",
                        "parts": [{"kind": "text", "text": "Looking up rates"}],
                    },
                },
                "final": False,
            },
            {
                "kind": "artifact-update",
                "taskId": "t1",
                "contextId": "c1",
                "artifact": {"artifactId": "a1", "parts": [{"kind": "text", "text": answer[:10]}]},
            },
            {
                "kind": "artifact-update",
                "taskId": "t1",
                "contextId": "c1",
                "artifact": {"artifactId": "a1", "parts": [{"kind": "text", "text": answer[10:]}]},
                "append": True,
            },
            {
                "kind": "status-update",
                "taskId": "t1",
                "contextId": "c1",
                "status": {
                    "state": state,
                    "message": {
                        "kind": "message",
                        "messageId": "n",
                        "role": "agent",
                        "parts": [{"kind": "text", "text": "no rates today" if fail else "done"}],
                    },
                },
                "final": True,
            },
        ]
    if method in ("message/send", "SendMessage"):
        task = {
            "kind": "task",
            "id": "t1",
            "status": {"state": state},
            "artifacts": [{"artifactId": "a1", "parts": [{"kind": "text", "text": answer}]}],
        }
        return Response(body={"jsonrpc": "2.0", "id": rid, "result": {"task": task} if version == "1.0" else task})
    return Response(chunks=[sse(None, {"jsonrpc": "2.0", "id": rid, "result": e}) for e in events])
