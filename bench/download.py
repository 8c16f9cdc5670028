"""Download throughput of `models pull` versus a plain streaming HTTP GET of the same file, and what an
interruption at 50 % costs.

The loopback fake Hub runs in its own process; both clients fetch the starter model (98 MB) from it,
alternating rounds; medians are printed.

    python bench/download.py [--rounds 3]
Targets: throughput ratio (pull / plain GET) >= 0.9; bytes fetched again after an interruption <= one chunk.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def serve(conn) -> None:
    from app.core.hub.starter import starter_model_path
    from tests.fakehub import TEST_REPO, FakeHub, starter_repo

    hub = FakeHub()
    hub.repos[TEST_REPO] = starter_repo(starter_model_path())
    conn.send(hub.url)
    while True:
        command = conn.recv()
        if command == "stop":
            return
        if command == "served":
            conn.send(dict(hub.bytes_served))
        elif command[0] == "drop":
            hub.drop_after, hub.drop_times = command[1], 1


def plain_get(url: str, target: Path) -> float:
    import httpx2

    started = time.perf_counter()
    with httpx2.Client() as http, http.stream("GET", url) as response, target.open("wb") as out:
        for block in response.iter_bytes():
            out.write(block)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    server_end, bench_end = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(server_end,), daemon=True)
    server.start()
    endpoint = bench_end.recv()
    os.environ["HF_ENDPOINT"] = endpoint
    os.environ.pop("HF_HUB_OFFLINE", None)
    scratch = Path(tempfile.mkdtemp(prefix="rt-bench-dl-"))

    from app.core.hardware import probe
    from app.core.hub import download
    from app.core.hub.catalog import list_files
    from app.core.hub.client import file_url
    from app.core.providers.base import CancelToken
    from tests.fakehub import STARTER_FILE, TEST_REPO

    listing = list_files(TEST_REPO, probe())
    model = next(f for f in listing.files if f.filename == STARTER_FILE)
    url = file_url(TEST_REPO, STARTER_FILE)
    size = model.size_bytes

    def pull_once(cache: Path) -> float:
        os.environ["HF_HUB_CACHE"] = str(cache)
        started = time.perf_counter()
        download.pull(TEST_REPO, model, listing.revision)
        return time.perf_counter() - started

    plain_get(url, scratch / "warm-up.gguf")
    pull_once(scratch / "cache-warm-up")
    plain, pulled = [], []
    for round_ in range(args.rounds):  # who goes first alternates too
        order = [("plain", plain), ("pull", pulled)][:: 1 if round_ % 2 == 0 else -1]
        for kind, results in order:
            if kind == "plain":
                results.append(size / plain_get(url, scratch / f"plain-{round_}.gguf"))
            else:
                results.append(size / pull_once(scratch / f"cache-{round_}"))

    def served() -> int:
        bench_end.send("served")
        return bench_end.recv().get(STARTER_FILE, 0)

    # cancelled at 50 %, then pulled again
    os.environ["HF_HUB_CACHE"] = str(scratch / "cache-cancel")
    cancel = CancelToken()
    received: list[int] = []
    resumed: list[int] = []

    def stop_half_way(progress: download.Progress) -> None:
        received.append(progress.done_bytes)
        if progress.done_bytes >= size // 2:
            cancel.cancel()

    before = served()
    try:
        download.pull(TEST_REPO, model, listing.revision, progress=stop_half_way, cancel=cancel)
    except download.DownloadCancelled:
        pass
    download.pull(TEST_REPO, model, listing.revision, progress=lambda p: resumed.append(p.resumed_from))
    sent_again = served() - before - size
    received_again = received[-1] - resumed[0]  # what the client had and asked for again

    # the connection drops at 50 %, and the same pull resumes
    os.environ["HF_HUB_CACHE"] = str(scratch / "cache-drop")
    before = served()
    bench_end.send(("drop", size // 2))
    download.pull(TEST_REPO, model, listing.revision)
    dropped_again = served() - before - size

    bench_end.send("stop")
    server.join(5)
    plain_mbps, pull_mbps = statistics.median(plain) / 1e6, statistics.median(pulled) / 1e6
    print(f"file: {STARTER_FILE} ({size / 1e6:.1f} MB) over loopback, {args.rounds} alternating rounds, medians")
    print(f"plain streaming GET:  {plain_mbps:8.1f} MB/s")
    print(f"roundtable pull:      {pull_mbps:8.1f} MB/s   (resumable file, sha256, HF cache layout)")
    print(f"throughput ratio (pull / plain): {pull_mbps / plain_mbps:.3f}   target >= 0.9")
    print(
        f"after a cancel at 50% and a re-run: bytes the client received twice: {received_again:,} "
        f"(target <= one chunk = {download.CHUNK:,});"
    )
    print(f"  bytes the server sent twice: {sent_again:,} (includes what sat in TCP buffers, never read)")
    print(f"bytes fetched again after a dropped connection at 50%: {dropped_again:,}")


if __name__ == "__main__":
    main()
