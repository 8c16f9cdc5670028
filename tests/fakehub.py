"""A loopback stand-in for the Hugging Face Hub, spoken to by the real huggingface_hub client (HF_ENDPOINT).

Serves model search, model info with file sizes and LFS sha256, and `resolve` downloads with Range
support, from real GGUF bytes (the starter model and files derived from it). Switches make it drop
connections, serve wrong bytes, throttle, or refuse.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_BLOCK = 256 * 1024


@dataclass
class Source:
    """File bytes: a range of a file on disk with some bytes replaced, or bytes in memory."""

    path: Path | None = None
    data: bytes | None = None
    start: int = 0
    length: int | None = None
    patches: dict[int, bytes] = field(default_factory=dict)
    claimed_size: int | None = None  # what the API says, when it should differ from the bytes (a huge file)
    _sha: str | None = None

    @property
    def size(self) -> int:
        if self.claimed_size is not None:
            return self.claimed_size
        if self.data is not None:
            return len(self.data)
        return self.length if self.length is not None else self.path.stat().st_size - self.start

    def read(self, offset: int, count: int) -> bytes:
        if self.data is not None:
            chunk = bytearray(self.data[offset : offset + count])
            if self.claimed_size is not None:  # zeros up to the claimed size
                chunk += bytes(max(0, min(count, self.claimed_size - offset) - len(chunk)))
        else:
            with self.path.open("rb") as stream:
                stream.seek(self.start + offset)
                chunk = bytearray(stream.read(min(count, self.size - offset)))
        for at, replacement in self.patches.items():
            for i, byte in enumerate(replacement):
                if offset <= at + i < offset + len(chunk):
                    chunk[at + i - offset] = byte
        return bytes(chunk)

    @property
    def sha256(self) -> str:
        if self._sha is None and self.claimed_size is not None:
            self._sha = hashlib.sha256(str(self.claimed_size).encode()).hexdigest()
        if self._sha is None:
            digest = hashlib.sha256()
            for offset in range(0, self.size, 8 * 1024 * 1024):
                digest.update(self.read(offset, 8 * 1024 * 1024))
            self._sha = digest.hexdigest()
        return self._sha


def file_type_patch(path: Path, file_type: int) -> dict[int, bytes]:
    """Bytes that relabel a GGUF's `general.file_type` (its quant name) without touching the weights."""
    with path.open("rb") as stream:
        head = stream.read(4 * 1024 * 1024)
    key = b"general.file_type"
    at = head.index(struct.pack("<Q", len(key)) + key) + 8 + len(key)
    assert struct.unpack_from("<I", head, at)[0] == 4  # uint32 value
    return {at + 4: struct.pack("<I", file_type)}


def tiny_gguf(metadata: dict[str, str | int]) -> bytes:
    """A valid GGUF with only metadata (no tensors): enough for a LoRA-adapter listing."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, 0, len(metadata)))
    for key, value in metadata.items():
        out += struct.pack("<Q", len(key)) + key.encode()
        if isinstance(value, int):
            out += struct.pack("<II", 4, value)
        else:
            out += struct.pack("<IQ", 8, len(value.encode())) + value.encode()
    return bytes(out)


@dataclass
class Repo:
    files: dict[str, Source]
    gated: bool = False
    private: bool = False
    downloads: int = 100
    likes: int = 5
    tags: list[str] = field(default_factory=lambda: ["gguf", "text-generation", "conversational"])
    last_modified: str = "2026-10-01T12:00:00.000Z"


class FakeHub:
    """The server and its switches.

    Attributes:
        url: the endpoint to put in HF_ENDPOINT.
        repos: repo id -> Repo.
        bytes_served: filename -> body bytes sent for it, over all requests.
        drop_after: a byte count after which a file's body is cut off (connection closed).
        drop_times: how many more requests get cut off (then serving is normal).
        stall_at: a file offset that no body gets past (the connection closes there, every time).
        corrupt: serve flipped bytes in every file's weights (past its first 8 MiB, so headers still parse).
        refuse: answer every request with 503.
        rate: bytes per second for file bodies (None: as fast as possible).
        commit: the commit id the listing gives (a hostile mirror may give anything).
    """

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.bytes_served: dict[str, int] = {}
        self.requests: list[str] = []
        self.drop_after: int | None = None
        self.drop_times = 0
        self.stall_at: int | None = None
        self.corrupt = False
        self.refuse = False
        self.rate: float | None = None
        self.commit = COMMIT
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _model_json(self, repo_id: str, repo: Repo, blobs: bool) -> dict:
        siblings = []
        for name, source in repo.files.items():
            sibling: dict = {"rfilename": name}
            if blobs:
                sibling.update(
                    size=source.size,
                    blobId=source.sha256[:40],
                    lfs={"size": source.size, "sha256": source.sha256, "pointerSize": 134},
                )
            siblings.append(sibling)
        return {
            "id": repo_id,
            "modelId": repo_id,
            "author": repo_id.split("/")[0],
            "sha": self.commit,
            "private": repo.private,
            "gated": "auto" if repo.gated else False,
            "downloads": repo.downloads,
            "likes": repo.likes,
            "tags": repo.tags,
            "lastModified": repo.last_modified,
            "library_name": "gguf",
            "pipeline_tag": "text-generation",
            "siblings": siblings,
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def _json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _error(self, status: int, code: str, message: str) -> None:
                self._json(status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message})

            def _repo(self, repo_id: str) -> Repo | None:
                repo = hub.repos.get(repo_id)
                if repo is None:
                    self._error(404, "RepoNotFound", "Repository not found")
                    return None
                authorised = "authorization" in {k.lower() for k in self.headers}
                if repo.gated and not authorised:
                    self._error(401, "GatedRepo", "Access to this model is restricted; log in.")
                    return None
                if repo.private and not authorised:
                    self._error(401, "RepoNotFound", "Repository not found")
                    return None
                return repo

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                hub.requests.append(f"{self.command} {self.path}")
                if hub.refuse:
                    self._error(503, "ServiceUnavailable", "The Hub is down for maintenance")
                    return
                parsed = urlparse(self.path)
                query = parse_qs(parsed.query)
                path = unquote(parsed.path)
                if path == "/api/models":
                    self._search(query)
                    return
                match = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/[^/]+)?", path)
                if match:
                    repo = self._repo(match.group(1))
                    if repo is not None:
                        self._json(200, hub._model_json(match.group(1), repo, "blobs" in query))
                    return
                match = re.fullmatch(r"/([^/]+/[^/]+)/resolve/[^/]+/(.+)", path)
                if match:
                    self._resolve(match.group(1), match.group(2))
                    return
                self._error(404, "NotFound", "no such endpoint")

            def _search(self, query: dict) -> None:
                words = query.get("search", [""])[0].lower()
                wanted = query.get("filter", [])
                limit = int(query.get("limit", ["50"])[0])
                found = [
                    hub._model_json(repo_id, repo, blobs=False)
                    for repo_id, repo in sorted(hub.repos.items(), key=lambda item: -item[1].downloads)
                    if words in repo_id.lower() and all(tag in repo.tags for tag in wanted)
                ]
                self._json(200, found[:limit])

            def _resolve(self, repo_id: str, filename: str) -> None:
                repo = self._repo(repo_id)
                if repo is None:
                    return
                source = repo.files.get(filename)
                if source is None:
                    self._error(404, "EntryNotFound", f"{filename} does not exist")
                    return
                size = source.size
                start, end = 0, size - 1
                ranged = self.headers.get("Range")
                if ranged:
                    match = re.fullmatch(r"bytes=(\d+)-(\d*)", ranged.strip())
                    start = int(match.group(1))
                    end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
                    if start >= size:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                self.send_response(206 if ranged else 200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("ETag", f'"{source.sha256}"')
                self.send_header("X-Linked-Etag", f'"{source.sha256}"')
                self.send_header("X-Linked-Size", str(size))
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Length", str(end - start + 1))
                if ranged:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                self.end_headers()
                if self.command == "HEAD":
                    return
                self._body(filename, source, start, end)

            def _body(self, filename: str, source: Source, start: int, end: int) -> None:
                with hub._lock:
                    cut = hub.drop_after if hub.drop_times > 0 else None
                    if cut is not None:
                        hub.drop_times -= 1
                    if hub.stall_at is not None and end >= hub.stall_at:
                        stall = max(0, hub.stall_at - start)
                        cut = stall if cut is None else min(cut, stall)
                sent = 0
                began = time.monotonic()
                offset = start
                while offset <= end:
                    block = source.read(offset, min(_BLOCK, end - offset + 1))
                    if hub.corrupt and offset >= 8 << 20:
                        block = bytes(b ^ 0xFF for b in block[:64]) + block[64:]
                    if cut is not None and sent + len(block) > cut:
                        block = block[: max(0, cut - sent)]
                        self._send(filename, block)
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if not self._send(filename, block):
                        return
                    sent += len(block)
                    offset += len(block)
                    if hub.rate:
                        ahead = sent / hub.rate - (time.monotonic() - began)
                        if ahead > 0:
                            time.sleep(ahead)

            def _send(self, filename: str, block: bytes) -> bool:
                try:
                    self.wfile.write(block)
                except (BrokenPipeError, ConnectionResetError):
                    return False
                with hub._lock:
                    hub.bytes_served[filename] = hub.bytes_served.get(filename, 0) + len(block)
                return True

        return Handler


TEST_REPO = "roundtable-test/SmolLM2-135M-Instruct-GGUF"
STARTER_FILE = "SmolLM2-135M-Instruct-Q4_1.gguf"


def starter_repo(starter: Path) -> Repo:
    """A repo of real GGUF bytes derived from the starter: several quants, a sharded file, a LoRA adapter."""
    size = starter.stat().st_size
    half = size // 2
    files = {
        STARTER_FILE: Source(path=starter),
        "SmolLM2-135M-Instruct-Q8_0.gguf": Source(path=starter, patches=file_type_patch(starter, 7)),
        "SmolLM2-135M-Instruct-Q4_K_M.gguf": Source(path=starter, patches=file_type_patch(starter, 15)),
        "SmolLM2-135M-Instruct-IQ4_XS.gguf": Source(path=starter, patches=file_type_patch(starter, 30)),
        "SmolLM2-135M-Instruct-F16-00001-of-00002.gguf": Source(
            path=starter, length=half, patches=file_type_patch(starter, 1)
        ),
        "SmolLM2-135M-Instruct-F16-00002-of-00002.gguf": Source(path=starter, start=half, length=size - half),
        "SmolLM2-135M-finance-LoRA-F16.gguf": Source(
            data=tiny_gguf(
                {
                    "general.architecture": "llama",
                    "general.type": "adapter",
                    "adapter.type": "lora",
                    "general.file_type": 1,
                }
            )
        ),
        "README.md": Source(data=b"# SmolLM2 GGUF for tests\n"),
    }
    return Repo(files=files, downloads=12345, likes=42)


MISSING_REPO = "roundtable-test/not-on-the-hub-GGUF"
# SmolLM2-135M's header numbers, as resources/recommended.toml gives them for its models
SMOLLM_ARCHITECTURE = (
    "{ n_layer = 30, n_embd = 576, n_head = 9, n_head_kv = 3, head_dim = 64, n_vocab = 49152, context_length = 8192 }"
)


def recommended_list(path: Path, roles: str = '["writer"]') -> Path:
    """A recommended models list (resources/recommended.toml's format) of the test repo and one the Hub lacks."""
    entries = []
    for name, repo in (("SmolLM2 135M Instruct", TEST_REPO), ("Nowhere 1B", MISSING_REPO)):
        entries.append(
            f'[[models]]\nname = "{name}"\nrepo = "{repo}"\nparameters_b = 0.135\ngood_for = "Tests."\n'
            f'quants = ["Q4_K_M", "Q8_0"]\nsizes_mb = {{ Q4_K_M = 105, Q8_0 = 145 }}\nroles = {roles}\n'
            f"architecture = {SMOLLM_ARCHITECTURE}\n"
        )
    path.write_text("\n".join(entries))
    return path
