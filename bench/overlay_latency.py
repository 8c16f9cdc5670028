"""Time from the global shortcut (and from the `roundtable overlay` command) to the overlay on screen.

Runs the real app in Xvfb with a window manager. The clock starts just before `xdotool key ctrl+alt+space`
is spawned and stops when the app reports the overlay shown (ROUNDTABLE_OVERLAY_TIMING=1 prints it), so the
figure includes xdotool's own start-up; that cost alone (`xdotool key shift`) is measured in the same run
as the baseline.

    python bench/overlay_latency.py [--rounds 20]
Target: median <= 100 ms for the shortcut path.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    os.environ["ROUNDTABLE_HOME"] = tempfile.mkdtemp(prefix="rt-bench-")
    from app.core.instance import send_command
    from app.core.paths import Paths
    from tests.ui.x11 import display_env, start_display, stop_display

    display, processes = start_display(window_manager=True)
    env = {**display_env(display), "ROUNDTABLE_OVERLAY_TIMING": "1", "PYTHONUNBUFFERED": "1"}
    paths = Paths.from_environment()
    app = subprocess.Popen(
        [sys.executable, "-m", "app"], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    shown: queue.Queue[float] = queue.Queue()

    def read() -> None:
        for line in app.stdout:
            if line.startswith("overlay-shown "):
                shown.put(float(line.split()[1]))

    threading.Thread(target=read, daemon=True).start()

    def xdotool(*keys: str) -> None:
        subprocess.run(["xdotool", *keys], env=env, check=True)

    def overlay_visible() -> bool:
        import json

        return bool(json.loads(send_command(paths, "status") or "{}").get("overlay"))

    def hide() -> None:
        if send_command(paths, "overlay") != "ok" or overlay_visible():
            raise SystemExit("the overlay did not hide")

    try:
        deadline = time.monotonic() + 60
        while send_command(paths, "status") is None:
            if time.monotonic() > deadline:
                raise SystemExit("the app did not start")
            time.sleep(0.1)
        time.sleep(1.5)  # first paint and background loads

        def measure(trigger) -> list[float]:
            latencies = []
            for _ in range(args.rounds):
                started = time.time()
                trigger()
                latencies.append((shown.get(timeout=10) - started) * 1000)
                hide()
                time.sleep(0.1)
            return latencies

        shortcut = measure(lambda: xdotool("key", "ctrl+alt+space"))
        command = measure(
            lambda: subprocess.run([sys.executable, "-m", "app", "overlay"], env=env, cwd=REPO, check=True)
        )
        injection = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            xdotool("key", "shift")
            injection.append((time.perf_counter() - started) * 1000)
    finally:
        send_command(paths, "quit")
        app.wait(30)
        stop_display(processes)

    def line(name: str, values: list[float]) -> str:
        return f"{name:<34} median {statistics.median(values):7.1f} ms   max {max(values):7.1f} ms"

    print(f"{args.rounds} rounds each, Xvfb + openbox, the overlay hidden between rounds")
    print(line("shortcut -> overlay shown:", shortcut))
    print(line("`roundtable overlay` -> shown:", command))
    print(line("baseline: xdotool key alone:", injection))
    ratio = statistics.median(shortcut) / statistics.median(injection)
    print(f"shortcut / baseline ratio: {ratio:.2f}   target: shortcut median <= 100 ms")


if __name__ == "__main__":
    main()
