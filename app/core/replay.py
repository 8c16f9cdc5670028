"""Ask a thread's local replies again, exactly as they were asked, and say whether each answer comes out the same.

Each reply kept its request (`app.core.provenance`): the messages as the copilot saw them, with the passages
and any tool results in them, and the sampling with its seed. A replay builds the same local provider from the
reply's provenance (model file, adapters, control vectors), checks that the files are still the ones it
used (sha256), asks the kept request again and compares the text: identical (expected on the same machine and
build), or where it first differs. Tools are not called again: their results are part of the kept request.
Remote copilots are not asked again: a remote agent's answer is its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from app.core.provenance import ProvenanceError, file_sha256, request_sha256, unpack_request
from app.core.providers import ProviderServices, create_provider
from app.core.providers.base import CancelToken, Done, Error, Event, TextDelta
from app.core.store import STATUS_COMPLETE, Store

IDENTICAL, DIFFERS, SKIPPED, FAILED = "identical", "differs", "skipped", "failed"
_CONTEXT_CHARS = 40  # of each side, around where a replay first differs


@dataclass
class ReplayResult:
    """One reply's replay: `outcome` is identical, differs, skipped or failed; `detail` says why or where."""

    message_id: str
    copilot: str
    outcome: str
    detail: str = ""
    first_difference: int | None = None  # the character where the replay first differs
    original: str = ""  # around that character
    replayed: str = ""


def replay_thread(
    store: Store,
    services: ProviderServices,
    thread_id: str,
    cancel: CancelToken | None = None,
    progress: Callable[[ReplayResult], None] | None = None,
) -> list[ReplayResult]:
    """Replay every reply of the thread in order; `progress` hears each result as it comes."""
    cancel = cancel or CancelToken()
    results = []
    for message in store.messages(thread_id):
        if message.role != "assistant" or cancel.cancelled:
            continue
        result = _replay_one(store, services, message, cancel)
        results.append(result)
        if progress is not None:
            progress(result)
    return results


def _replay_one(store: Store, services: ProviderServices, message: Any, cancel: CancelToken) -> ReplayResult:
    def outcome(kind: str, detail: str) -> ReplayResult:
        return ReplayResult(message.id, message.author, kind, detail)

    trace: dict[str, Any] = message.data["trace"] if isinstance(message.data.get("trace"), dict) else {}
    provenance: dict[str, Any] = trace["provenance"] if isinstance(trace.get("provenance"), dict) else {}
    config = provenance.get("replay")
    if not isinstance(config, dict):
        if trace.get("provider") not in (None, "local"):
            return outcome(SKIPPED, f"a remote copilot ({trace.get('provider')}): its answer is the agent's own")
        return outcome(SKIPPED, "no provenance kept (a reply from before this version)")
    if message.status != STATUS_COMPLETE:
        return outcome(SKIPPED, f"the reply did not complete ({message.status})")
    blob = store.request(message.id)
    if blob is None:
        return outcome(SKIPPED, "its request was not kept (an archive from before, or one short of room)")
    try:
        request = unpack_request(blob)
    except ProvenanceError as exc:
        return outcome(FAILED, f"its kept request does not read: {exc}")
    if request_sha256(request) != provenance.get("request_sha256"):
        return outcome(FAILED, "its kept request does not match the digest in its trace: it was changed")
    changed = _changed_files(provenance)
    if changed:
        return outcome(SKIPPED, changed)
    try:
        provider = create_provider("local", _checked_config(provenance, config), services)
    except Exception as exc:  # a model that no longer loads says why, in its own words
        return outcome(FAILED, f"the model does not load: {exc}")
    return _compare(message, lambda own: provider.stream(request, own), cancel)


def _files(provenance: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    """(what, path, sha256, scale or strength) of each file behind the reply, as its provenance names them."""
    files: list[tuple[str, Any, Any, Any]] = [
        ("the model", provenance.get("model_path"), provenance.get("model_sha256"), None)
    ]
    for what, key, weight in (("LoRA adapter", "adapters", "scale"), ("control vector", "control_vectors", "strength")):
        entries = provenance.get(key) or []
        for entry in entries if isinstance(entries, list) else [{}]:
            entry = entry if isinstance(entry, dict) else {}
            files.append((what, entry.get("path"), entry.get("sha256"), entry.get(weight)))
    return files


def _changed_files(provenance: dict[str, Any]) -> str:
    """Why the files behind the reply are not the ones it used ('' when they are). A provenance may come from an
    imported archive: every file must be named with its digest, be a regular file here, and match it."""
    for what, path, digest, weight in _files(provenance):
        if not isinstance(path, str) or not path:
            return f"{what}'s file is not named in the provenance"
        if not isinstance(digest, str) or not digest:
            return f"{what} file {path} has no sha256 in the provenance"
        if what != "the model" and (not isinstance(weight, (int, float)) or isinstance(weight, bool)):
            return f"{what} file {path} has no valid weight in the provenance"
        now = file_sha256(path)  # None for a file that is gone, or not a regular file (a device, a pipe)
        if now is None:
            return f"{what} file {path} is gone"
        if now != digest:
            return f"{what} file {path} changed since (sha256 {now[:12]}…, was {digest[:12]}…)"
    return ""


def _checked_config(provenance: dict[str, Any], replay: dict[str, Any]) -> dict[str, Any]:
    """The provider's configuration rebuilt from the files `_changed_files` checked, never taken whole from the
    provenance's `replay` entry; its context size is checked as a copilot's is."""
    from pathlib import Path

    from app.core.providers.local import check_context_size

    files = _files(provenance)
    context = replay.get("context_size")
    if not isinstance(context, int) or isinstance(context, bool) or context <= 0:
        context = None
    check_context_size(Path(files[0][1]), context)  # UsageError: the caller says the model does not load
    return {
        "provider": "local",
        "path": files[0][1],
        "adapters": [[path, float(weight)] for what, path, _, weight in files if what == "LoRA adapter"],
        "control_vectors": [[path, float(weight)] for what, path, _, weight in files if what == "control vector"],
        "context_size": context,
        "prompt_lookup": replay.get("prompt_lookup") is not False,
    }


def _compare(message: Any, ask: Callable[[CancelToken], Iterator[Event]], cancel: CancelToken) -> ReplayResult:
    """Read the replay (`ask` starts it) until it ends or first differs from the stored text."""
    original, parts = message.text, []
    length = 0
    problem: Error | None = None
    repeating = (message.data.get("trace") or {}).get("finish_reason") == "repeating"
    own = CancelToken()  # stops the replay once the answer is known; the caller's cancel stops it too
    forget = cancel.on_cancel(own.cancel)
    try:
        for event in ask(own):
            if isinstance(event, TextDelta):
                parts.append(event.delta)
                # what arrived before matched: only this piece is compared (its part within the original)
                matches = original.startswith(event.delta[: max(len(original) - length, 0)], length)
                length += len(event.delta)
                if not matches or (length >= len(original) and repeating) or length > len(original):
                    own.cancel()  # differs already, the loop guard stopped the original here, or it runs on
                    break
            elif isinstance(event, Error):
                problem = event
            elif isinstance(event, Done):
                break
    finally:
        forget()
    if problem is not None and not own.cancelled:
        return ReplayResult(message.id, message.author, FAILED, f"the replay failed: {problem.message}")
    replayed = "".join(parts)
    if cancel.cancelled:
        return ReplayResult(message.id, message.author, SKIPPED, "cancelled")
    if replayed == original or (repeating and replayed[: len(original)] == original):
        return ReplayResult(message.id, message.author, IDENTICAL, f"{len(original)} characters")
    at = next(
        (i for i, (a, b) in enumerate(zip(original, replayed, strict=False)) if a != b),
        min(len(original), len(replayed)),
    )
    start = max(0, at - _CONTEXT_CHARS)
    return ReplayResult(
        message.id,
        message.author,
        DIFFERS,
        f"first differs at character {at} of {len(original)}",
        at,
        original[start : at + _CONTEXT_CHARS],
        replayed[start : at + _CONTEXT_CHARS],
    )
