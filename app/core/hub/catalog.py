"""The model catalogue on the Hub: GGUF repos, their files, and what each would need on this machine."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from app.core.hardware import Hardware
from app.core.hub import client
from app.core.hub.fit import Architecture, Fit, estimate, recommend
from app.core.hub.gguf import GGUFFormatError, GGUFInfo, file_type_name, read_header
from app.core.hub.quants import quant_from_name

_SHARD = re.compile(r"^(?P<base>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
_INSTRUCT = re.compile(r"instruct|chat|(?<![a-z])it(?![a-z])|conversational|assistant", re.IGNORECASE)
_HEADER_BLOCK = 1 << 20
_HEADER_LIMIT = 64 << 20
_HEADER_RETRIES = 4  # as many as a download's body gets
_CONTENT_RANGE = re.compile(r"bytes \d+-\d+/(\d+)")


# -- values from a listing that become paths in the cache: checked before the disk is touched --

_COMMIT = re.compile(r"[0-9a-fA-F]{40}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0 (NUL and tab included), DEL and C1


def check_commit(repo_id: str, commit: str | None) -> str:
    """The commit id a listing gave, if it is exactly 40 hex digits; it names a folder in the cache."""
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
        raise client.HubError(
            f"The Hub gave {repr(commit) if commit else 'no commit id'} as the commit of '{repo_id}', "
            "not a 40-hex-digit id: nothing was downloaded. Check HF_ENDPOINT points at a real Hub or mirror."
        )
    return commit


def check_filename(repo_id: str, filename: str) -> str:
    """A file name from a listing, if it is a plain relative path (no `..`, no backslash, not absolute) of
    printable characters: it is shown on terminals and in progress bars, so no C0/C1 control characters."""
    parts = filename.split("/") if isinstance(filename, str) else [""]
    unsafe = (
        not filename
        or "\\" in filename
        or filename.startswith("/")
        or re.match(r"^[A-Za-z]:", filename) is not None
        or any(part in ("", ".", "..") for part in parts)
    )
    if unsafe:
        raise client.HubError(
            f"The Hub listing of '{repo_id}' holds an unsafe file name {filename!r} (absolute, with '..' or a "
            "backslash): nothing was downloaded. Check HF_ENDPOINT points at a real Hub or mirror."
        )
    if _CONTROL.search(filename):  # repr() shows them escaped, so the message itself is inert
        raise client.HubError(
            f"The Hub listing of '{repo_id}' holds an unsafe file name {filename!r} (with control characters): "
            "nothing was downloaded. Check HF_ENDPOINT points at a real Hub or mirror."
        )
    return filename


def check_sha256(repo_id: str, filename: str, sha256: str) -> str:
    """A checksum from a listing, if it is 64 hex digits; it names the blob's file in the cache."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise client.HubError(
            f"The Hub lists {sha256!r} as the sha256 of {filename} in '{repo_id}', not a 64-hex-digit checksum: "
            "nothing was downloaded. Check HF_ENDPOINT points at a real Hub or mirror."
        )
    return sha256


@dataclass
class RepoSummary:
    """One search result."""

    repo: str
    downloads: int
    likes: int
    last_modified: str | None
    instruct: bool
    gated: bool


def search(query: str, limit: int = 20) -> list[RepoSummary]:
    """GGUF model repos on the Hub matching `query`, most downloaded first."""
    client.require_online()
    with client.hub_errors():
        models = list(client.api().list_models(search=query, filter="gguf", sort="downloads", limit=limit))
    results = []
    for model in models:
        tags = " ".join(model.tags or [])
        results.append(
            RepoSummary(
                repo=model.id,
                downloads=model.downloads or 0,
                likes=model.likes or 0,
                last_modified=model.last_modified.isoformat() if model.last_modified else None,
                instruct=bool(_INSTRUCT.search(model.id) or "conversational" in tags),
                gated=bool(model.gated),
            )
        )
    return results


@dataclass
class RemotePart:
    filename: str
    size_bytes: int
    sha256: str | None


@dataclass
class RemoteModelFile:
    """A model as the user picks it: one GGUF file, or all shards of a split one.

    Attributes:
        filename: the (first) file's name; pulling it fetches every part.
        kind: `model`, or `lora` for an adapter.
    """

    filename: str
    parts: list[RemotePart]
    quant: str | None
    kind: str
    fit: str | None = None
    gpu_layers: int = 0
    est_memory_bytes: int | None = None
    recommended: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def size_bytes(self) -> int:
        return sum(part.size_bytes for part in self.parts)

    @property
    def sha256(self) -> str | None:
        return self.parts[0].sha256

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(size_bytes=self.size_bytes, sha256=self.sha256, shards=len(self.parts))
        return data


def group_files(siblings: list[Any]) -> list[RemoteModelFile]:
    """GGUF files of a repo, split models merged into one entry, in name order."""
    singles: list[RemoteModelFile] = []
    shards: dict[str, list[tuple[int, RemotePart]]] = {}
    for sibling in siblings:
        name = sibling.rfilename
        if not name.lower().endswith(".gguf"):
            continue
        sha = sibling.lfs.sha256 if sibling.lfs else None
        part = RemotePart(name, int(sibling.size or (sibling.lfs.size if sibling.lfs else 0)), sha)
        match = _SHARD.match(name)
        if match:
            shards.setdefault(match.group("base"), []).append((int(match.group("index")), part))
        else:
            singles.append(RemoteModelFile(name, [part], quant_from_name(name), _kind(name)))
    for _base, numbered in shards.items():
        parts = [part for _, part in sorted(numbered, key=lambda item: item[0])]
        singles.append(
            RemoteModelFile(parts[0].filename, parts, quant_from_name(parts[0].filename), _kind(parts[0].filename))
        )
    return sorted(singles, key=lambda f: f.filename.lower())


def _kind(filename: str) -> str:
    return "lora" if re.search(r"lora|adapter", filename, re.IGNORECASE) else "model"


class RangedReader:
    """A read-only file object over an HTTP URL, fetched in growing Range requests as it is read.

    A request that drops or stalls part-way is asked again from the same offset, a few times, as a
    download's body is: a flaky connection should not turn a fit estimate into an error.

    Attributes:
        total_size: the whole file's size once a Range answer has told it (None before).
    """

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers
        self.buffer = bytearray()
        self.position = 0
        self.finished = False
        self.block = _HEADER_BLOCK
        self.total_size: int | None = None

    def _fetch(self) -> None:
        for attempt in range(_HEADER_RETRIES + 1):
            try:
                self._fetch_once()
                return
            except client.transient_errors():
                if attempt == _HEADER_RETRIES:
                    raise  # hub_errors turns it into "cannot reach the Hub"
                time.sleep(min(0.2 * 2**attempt, 2))

    def _fetch_once(self) -> None:
        from huggingface_hub.utils import hf_raise_for_status

        start = len(self.buffer)
        end = start + self.block - 1
        with client.http_client().stream(
            "GET",
            self.url,
            headers={**self.headers, "Range": f"bytes={start}-{end}"},
            follow_redirects=True,
            timeout=client.timeout(),
        ) as response:
            if response.status_code == 416:
                self.finished = True
                return
            if response.status_code >= 400:
                response.read()
                hf_raise_for_status(response)
            # a server that ignores Range sends the file from its start: read no more of it than needed
            skip = start if response.status_code == 200 else 0
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) >= skip + self.block:
                    break
            length = response.headers.get("Content-Length", "")
            total = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
            if total:
                self.total_size = int(total.group(1))
            elif response.status_code == 200 and length.isdigit():
                self.total_size = int(length)
        data = data[skip : skip + self.block]
        self.buffer += data
        self.finished = len(data) < self.block
        self.block = min(self.block * 2, 16 << 20)

    def read(self, size: int) -> bytes:
        while len(self.buffer) - self.position < size and not self.finished:
            if len(self.buffer) >= _HEADER_LIMIT:
                raise GGUFFormatError("the header is larger than 64 MiB")
            self._fetch()
        chunk = bytes(self.buffer[self.position : self.position + size])
        self.position += len(chunk)
        return chunk


def remote_header(repo_id: str, filename: str, revision: str = "main") -> GGUFInfo:
    """Parse a GGUF header straight from the Hub with Range requests, without the weights."""
    reader = RangedReader(client.file_url(repo_id, filename, revision), client.auth_headers())
    with client.hub_errors(repo_id):
        try:
            return read_header(reader)
        except GGUFFormatError as exc:
            raise client.HubError(
                f"{filename} in '{repo_id}' is not a valid GGUF file ({exc}): choose another file or repo."
            ) from exc


@dataclass
class RepoFiles:
    """A repo's GGUF files with a fit verdict each, and the architecture they were judged on."""

    repo: str
    revision: str | None
    context: int
    files: list[RemoteModelFile]
    architecture: dict[str, Any] | None

    @property
    def recommended(self) -> RemoteModelFile | None:
        return next((f for f in self.files if f.recommended), None)


def list_files(repo_id: str, hardware: Hardware, context: int = 4096) -> RepoFiles:
    """Every GGUF file of `repo_id`, with size, sha256 and a fit verdict at `context` on `hardware`."""
    client.require_online()
    with client.hub_errors(repo_id):
        info = client.api().model_info(repo_id, files_metadata=True)
    if info.sha is not None:
        check_commit(repo_id, info.sha)
    files = group_files(info.siblings or [])
    models = [f for f in files if f.kind == "model"]
    if not models and not files:
        raise client.HubError(
            f"'{repo_id}' has no GGUF files: search for a GGUF build with `roundtable models search`."
        )
    # Quants of one model share its architecture: one header (the smallest file's) sizes them all.
    smallest = min(models, key=lambda f: f.size_bytes, default=None)
    header_name = smallest.filename if smallest else ""
    header = remote_header(repo_id, header_name, info.sha or "main") if smallest else None
    try:
        arch = Architecture.from_metadata(header.metadata) if header else None
    except GGUFFormatError as exc:
        raise client.HubError(
            f"{header_name} in '{repo_id}' is not a valid GGUF file ({exc}): choose another file or repo."
        ) from exc
    for file in files:
        if file.quant is None and file.kind == "model":
            own = remote_header(repo_id, file.filename, info.sha or "main")
            file.quant = file_type_name(own.metadata.get("general.file_type"))
    if arch is not None:
        fits: list[tuple[str | None, int, Fit]] = []
        for file in models:
            fit = estimate(arch, file.size_bytes, context, hardware)
            file.fit, file.gpu_layers, file.est_memory_bytes = fit.fit, fit.gpu_layers, fit.est_memory_bytes
            file.details = {
                "kv_cache_bytes": fit.kv_cache_bytes,
                "compute_bytes": fit.compute_bytes,
                "context": fit.context,
            }
            fits.append((file.quant, file.size_bytes, fit))
        chosen = recommend(fits)
        if chosen is not None:
            models[chosen].recommended = True
    return RepoFiles(repo_id, info.sha, context, files, asdict(arch) if arch else None)
