"""Asking the installed llama.cpp whether it can read a model, in a throwaway process (a crash stays there)."""

from __future__ import annotations

from pathlib import Path

from app.core.errors import ModelFileError
from app.core.runtime.host import describe_exit, spawn
from app.core.runtime.worker import probe_main

_PROBE_TIMEOUT_S = 120


def check_loadable(path: Path, architecture: str) -> None:
    """Raise ModelFileError unless llama.cpp loads the model's vocabulary and architecture."""
    parent, child = spawn().Pipe()
    process = spawn().Process(target=probe_main, args=(child, str(path)), name="roundtable-model-probe", daemon=True)
    process.start()
    child.close()
    try:
        answered = parent.poll(_PROBE_TIMEOUT_S)
        reason = parent.recv() if answered else "it did not answer in time"
    except EOFError:
        process.join(5)
        reason = f"the check process {describe_exit(process.exitcode)}"
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        parent.close()
    if reason is not None:
        raise ModelFileError(
            f"The installed llama.cpp cannot load {path.name} (architecture '{architecture}': {reason}): "
            "a newer llama-cpp-python may support it, or the file is damaged."
        )
