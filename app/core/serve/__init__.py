"""`roundtable serve`: copilots, crews and installed models as a local OpenAI-compatible API.

`app.create_app` is the ASGI app (Starlette, SSE through sse-starlette); `server.ApiServer` runs it with uvicorn,
blocking (the CLI) or in a thread (Settings → Local API). A call runs in a worker thread (`bridge.RunBridge`),
queued per target (`bridge.Lanes`), and is stored like any other run (`targets.start_run`).
"""
