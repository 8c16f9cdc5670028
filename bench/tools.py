"""The latency of an MCP tool call: a session kept while Roundtable runs versus a fresh session per call (what
Roundtable did before: a process start, the handshake, the call, the exit).

Both sides call the same tool of the same local stdio server (`mcp-server-time`'s get_current_time, a server
nobody here wrote; the test suite's bond server with --ours). Rounds alternate; medians are printed.

    python bench/tools.py [--calls 20] [--ours]
Target: a kept session <= 50 ms per call after the first.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.tools.mcp import McpServer  # noqa: E402 (the repository's app, found through sys.path)
from app.core.tools.sessions import SessionPool  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def server_under_test(ours: bool) -> tuple[list[str], str, dict]:
    if ours:
        return (
            [sys.executable, str(REPO / "tests" / "core" / "tools" / "bond_server.py")],
            "coupon",
            {"face": 1000, "rate_percent": 4},
        )
    found = shutil.which("mcp-server-time") or str(Path(sys.executable).with_name("mcp-server-time"))
    return [found, "--local-timezone", "UTC"], "get_current_time", {"timezone": "Europe/London"}


def timed(call) -> float:
    started = time.perf_counter()
    result = call()
    elapsed = time.perf_counter() - started
    assert not result.is_error, result.text
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--ours", action="store_true", help="the tests' bond server instead of mcp-server-time")
    args = parser.parse_args()
    command, tool, arguments = server_under_test(args.ours)
    log = Path(tempfile.mkdtemp()) / "mcp.log"

    kept_pool = SessionPool()
    kept = McpServer("bench", command, log_file=log, sessions=kept_pool)
    first = timed(lambda: kept.call(tool, arguments))
    kept_times, fresh_times = [], []
    for _ in range(args.calls):
        kept_times.append(timed(lambda: kept.call(tool, arguments)))
        fresh_pool = SessionPool()  # a session of its own, ended after the call: the old way
        fresh = McpServer("bench", command, log_file=log, sessions=fresh_pool)
        fresh_times.append(timed(lambda server=fresh: server.call(tool, arguments)))
        fresh_pool.shutdown()
    kept_pool.shutdown()

    kept_ms, fresh_ms = statistics.median(kept_times) * 1000, statistics.median(fresh_times) * 1000
    print(f"server: {' '.join(Path(c).name for c in command[:2])} · tool: {tool} · {args.calls} calls each")
    print(f"first call on a kept session (starts it): {first * 1000:.1f} ms")
    print(f"kept session, median per call:  {kept_ms:.1f} ms (max {max(kept_times) * 1000:.1f} ms)")
    print(f"fresh session, median per call: {fresh_ms:.1f} ms")
    print(f"kept ÷ fresh: {kept_ms / fresh_ms:.3f}   target: kept <= 50 ms per call after the first")


if __name__ == "__main__":
    main()
