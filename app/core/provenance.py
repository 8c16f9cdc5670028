"""Where a reply came from: the exact request, the model file and the prompt behind it, by digest.

Each reply's trace gets a `provenance` entry (`reply_provenance`): the manifest's and the system prompt's
sha256, the model file's and each adapter's sha256 and path, the sampling with the seed it used, the
passages it was given with their scores, and the digest of the whole request. The request itself is kept
beside the reply, packed (`pack_request`), so that `roundtable threads replay` can ask the same again and a
report can show what the copilot saw.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import zlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.core.providers.base import ChatMessage, ChatRequest, Sampling, ToolCall, ToolSpec

MAX_REQUEST_BYTES = 16 * 1024 * 1024  # a request unpacked; a longer one is not ours (a damaged or edited row)
_Key = tuple[str, int, int]  # (path, size, mtime_ns): one version of a file
_digests: dict[_Key, str] = {}  # a model is hashed once per version, in this process
_hashing: dict[_Key, threading.Lock] = {}  # held while a version is hashed: a second asker waits, never hashes too
_guard = threading.Lock()


class ProvenanceError(ValueError):
    """A stored request that does not read (damaged, edited, or from another version)."""


class RequestTooLarge(ProvenanceError):
    """A stored request that would unpack beyond the limit it is read with."""


def text_sha256(text: str) -> str:
    import hashlib  # OpenSSL: not before a reply needs it (the window's start)

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _version(path: str | Path) -> _Key:
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):  # a device or a pipe (a path from elsewhere) is never read
        raise OSError(f"{path} is not a regular file")
    return (str(Path(path).resolve()), info.st_size, info.st_mtime_ns)


def file_sha256(path: str | Path) -> str | None:
    """The file's sha256, computed once per file and version (size, modification time) in this process; None
    when it cannot be read. A model of several GB takes a few seconds, the first time (`hash_in_background`
    starts that early)."""
    try:
        key = _version(path)
    except OSError:
        return None
    with _guard:
        lock = _hashing.setdefault(key, threading.Lock())
    with lock:
        if key not in _digests:
            from app.core.knowledge.index import file_sha256 as digest_of  # the one hashing loop (documents too)

            try:
                _digests[key] = digest_of(Path(path))
            except OSError:
                return None
    return _digests[key]


def hash_in_background(paths: list[str | Path]) -> None:
    """Start hashing the files a reply's provenance will name (a model, its adapters) on a thread of their own,
    so that the first reply does not wait for them as it finishes (or is cancelled)."""
    waiting: list[str | Path] = []
    for path in paths:
        try:
            key = _version(path)
        except OSError:
            continue
        with _guard:
            if key not in _digests and key not in _hashing:
                _hashing[key] = threading.Lock()
                waiting.append(path)
    if waiting:
        threading.Thread(target=_hash_quietly, args=(waiting,), name="roundtable-digest", daemon=True).start()


def _hash_quietly(paths: list[str | Path]) -> None:
    # at normal priority: a reply that finishes meanwhile waits for this thread's lock, never for a starved thread
    for path in paths:
        file_sha256(path)


def request_data(request: ChatRequest) -> dict[str, Any]:
    """The request as plain data, in a stable shape: what is packed, and what its digest is taken of."""
    return asdict(request)


def request_sha256(request: ChatRequest) -> str:
    canonical = json.dumps(request_data(request), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text_sha256(canonical)


def pack_request(request: ChatRequest) -> bytes:
    return zlib.compress(json.dumps(request_data(request), ensure_ascii=False).encode("utf-8"), 6)


def unpack_request(blob: bytes) -> ChatRequest:
    """The request `pack_request` packed; ProvenanceError when the blob is not one (bounded: a blob that would
    unpack beyond `MAX_REQUEST_BYTES` is refused without unpacking the rest)."""
    return read_request(blob)[0]


def read_request(blob: bytes, limit: int = MAX_REQUEST_BYTES) -> tuple[ChatRequest, int]:
    """`unpack_request` with its own limit (at most `MAX_REQUEST_BYTES`); also how many bytes it unpacked to."""
    limit = min(limit, MAX_REQUEST_BYTES)
    try:
        unpacker = zlib.decompressobj()
        raw = unpacker.decompress(blob, limit + 1)
        if len(raw) > limit or unpacker.unconsumed_tail:
            raise RequestTooLarge(f"over {limit / (1024 * 1024):g} MB unpacked")
        data = json.loads(raw.decode("utf-8"))
        messages = [
            ChatMessage(
                role=m["role"],
                content=str(m["content"]),
                name=m.get("name"),
                tool_calls=[ToolCall.from_dict(call) for call in m.get("tool_calls") or []],
                tool_call_id=m.get("tool_call_id"),
            )
            for m in data["messages"]
        ]
        request = ChatRequest(
            messages=messages,
            sampling=Sampling(**data["sampling"]),
            tools=[ToolSpec(**tool) for tool in data.get("tools") or []],
            json_schema=data.get("json_schema"),
            documents=list(data.get("documents") or []),
        )
    except ProvenanceError:
        raise
    except (zlib.error, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ProvenanceError(f"it does not read ({type(exc).__name__}: {exc})") from exc
    return request, len(raw)


def reply_provenance(
    manifest: dict[str, Any], system_prompt: str, model: dict[str, Any], request: ChatRequest, passages: list[Any]
) -> dict[str, Any]:
    """A reply's provenance entry: `manifest` is the copilot's manifest as it stood, `model` what its provider
    says of the model (`Provider.provenance`), `passages` the document passages the request carried (Hits)."""
    canonical = json.dumps(manifest, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return {
        "manifest_sha256": text_sha256(canonical),
        "system_prompt_sha256": text_sha256(system_prompt),
        "system_prompt_chars": len(system_prompt),
        **model,
        "seed": request.sampling.seed,
        "passages": [
            {
                "number": n,
                "id": hit.id,
                "title": hit.title,
                "location": hit.location,
                "score": round(float(hit.score), 6),
                "sha256": text_sha256(hit.text),
            }
            for n, hit in enumerate(passages, 1)
        ],
        "request_sha256": request_sha256(request),
        "messages": len(request.messages),
    }
