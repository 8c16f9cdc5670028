"""Reading a workspace archive as the untrusted file it is: the zip's directory is checked before a byte is
inflated (names, sizes, compression ratio), then every record is checked for shape and references before
anything is written. Each refusal is an ArchiveError naming what is wrong."""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from app.core.crew.events import events_from_row, message_events
from app.core.errors import UsageError
from app.core.providers.base import Citation, FieldError

FORMAT = "roundtable-workspace"  # stored on disk: never change
VERSION = 1  # the archive layout; a newer one is refused
TABLES = ("threads", "messages", "events", "tasks", "documents", "chunks")
# replies.json's maps (token confidence first: an export short of room keeps it over the larger requests)
REPLY_TABLES = {"confidence": "message_confidence", "requests": "message_requests"}
REPLY_KINDS = tuple(REPLY_TABLES)

# Security-relevant limits, all checked against the zip's directory before anything is inflated.
MAX_ARCHIVE_MEMBERS = 16
MAX_MANIFEST_BYTES = 64 * 1024
# workspace.json is read whole, then json.loads and pydantic each hold copies several times its size: this cap on
# its inflated size (not the archive's), with replies.json's below, is what bounds an import's memory. A real
# export is far smaller.
MAX_WORKSPACE_BYTES = 64 * 1024 * 1024
# replies.json: the replies' kept requests and token confidence (packed blobs, base64), read the same way; each
# request unpacks on its own (to at most 16 MB), so all of them together are bounded too: the work an import does
MAX_REPLIES_BYTES = 64 * 1024 * 1024
MAX_REQUESTS_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_MEMBER_BYTES = {
    "manifest.json": MAX_MANIFEST_BYTES,
    "workspace.json": MAX_WORKSPACE_BYTES,
    "replies.json": MAX_REPLIES_BYTES,
}
MAX_RATIO = 100  # JSON text deflates 3-20x; a bomb deflates ~1000x
RATIO_FLOOR = 1024 * 1024  # below this, any ratio is harmless
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_MESSAGE_STATUSES = ("complete", "interrupted", "failed", "streaming")

# What the views read from a message row's JSON data without looking twice (the thread view, `threads show`, the
# Markdown export): field -> (the types it may have, whether it must be there). Checked at import, so a stored
# thread can always be shown. Citations and logged events are checked by building their typed events.
_Fields = dict[str, tuple[tuple[type, ...], bool]]
_OPTIONAL_TEXT: tuple[tuple[type, ...], bool] = ((str, type(None)), False)
_MESSAGE_FIELDS: _Fields = {
    "error": _OPTIONAL_TEXT,
    "citations": ((list, type(None)), False),
    "trace": ((dict, type(None)), False),
}
_TYPE_WORDS: dict[type, str] = {str: "text", list: "a list", dict: "an object"}


class ArchiveError(UsageError):
    """An archive that is damaged, foreign, hostile or from a newer Roundtable."""


def _refuse(path: Path, why: str) -> ArchiveError:
    return ArchiveError(f"{path.name} cannot be imported: {why}; nothing was imported.")


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class _Workspace(_Row):
    name: str | None = None


class _Thread(_Row):
    id: str
    title: str
    created_at: str
    updated_at: str


class _Message(_Row):
    id: str
    thread_id: str
    author: str
    role: str
    status: str
    text: str
    created_at: str
    updated_at: str
    data: str | None = None


class _Event(_Row):
    thread_id: str
    type: str
    message_id: str | None = None
    author: str | None = None
    created_at: str
    data: str | None = None


class _Task(_Row):
    id: str
    thread_id: str
    from_copilot: str
    to_copilot: str
    task: str
    context: str | None = None
    status: str
    result_message_id: str | None = None
    created_at: str
    updated_at: str


class _Document(_Row):
    id: str
    path: str
    name: str
    kind: str
    sha256: str
    size_bytes: int
    chunk_count: int
    added_at: str


class _Chunk(_Row):
    document_id: str
    position: int
    location: str | None = None
    text: str


class _Replies(_Row):
    """What replies.json holds: by message id, each reply's kept request (`provenance.pack_request`) and token
    confidence (`confidence.pack`), base64. An older archive has none."""

    requests: dict[str, str] = {}
    confidence: dict[str, str] = {}
    _blobs: dict[tuple[str, str], bytes] = PrivateAttr(default_factory=dict)  # (kind, message id) -> checked bytes

    def blob(self, kind: str, message_id: str) -> bytes:
        """A record's bytes as `read_archive` checked them (decoded once, not again in the import)."""
        return self._blobs[(kind, message_id)]


class _Content(_Row):
    replies: _Replies = _Replies()
    workspace: _Workspace
    roster: list[str]
    copilots: list[Any]  # each is checked by the copilot manifest parser, in the import
    threads: list[_Thread]
    messages: list[_Message]
    events: list[_Event]
    tasks: list[_Task]
    documents: list[_Document]
    chunks: list[_Chunk]


def read_archive(path: Path) -> _Content:
    """The archive's content, checked; ArchiveError saying what is wrong with it otherwise."""
    try:
        with zipfile.ZipFile(path) as archive:
            _check_directory(path, archive)
            manifest = _load(path, archive, "manifest.json")
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ArchiveError(f"{path.name} is not a Roundtable workspace archive.")
            version = manifest.get("version")
            if not isinstance(version, int) or isinstance(version, bool) or version < 1:
                raise _refuse(path, f"its manifest has no valid version ({version!r})")
            if version > VERSION:
                raise ArchiveError(
                    f"{path.name} was exported by a newer Roundtable ({manifest.get('roundtable', '?')}, archive "
                    f"version {version}): update Roundtable to import it."
                )
            if "workspace.json" not in archive.namelist():
                raise _refuse(path, "it has no workspace.json")
            content = _load(path, archive, "workspace.json")
            replies = _load(path, archive, "replies.json") if "replies.json" in archive.namelist() else {}
    except ArchiveError:
        raise
    except FileNotFoundError as exc:
        raise ArchiveError(f"No file {path}.") from exc
    except IsADirectoryError as exc:
        raise ArchiveError(f"{path} is a folder: give the archive file.") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise ArchiveError(f"{path.name} is not a Roundtable workspace archive, or it is damaged ({exc}).") from exc
    except (OSError, NotImplementedError, RuntimeError, ValueError) as exc:  # zlib errors, encryption, bad offsets
        raise ArchiveError(f"{path.name} is damaged ({exc}): export the workspace again.") from exc
    if not isinstance(content, dict):
        raise _refuse(path, "workspace.json is not an object")
    if not isinstance(replies, dict):
        raise _refuse(path, "replies.json is not an object")
    content["replies"] = replies  # checked with the rest, its errors named `replies.…`
    try:
        checked = _Content.model_validate(content)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise _refuse(path, f"'{where}' {first['msg'].lower()}") from exc
    _check_records(path, checked)
    return checked


def _check_directory(path: Path, archive: zipfile.ZipFile) -> None:
    """Names, sizes and compression of every member, from the zip's directory alone."""
    infos = archive.infolist()
    if len(infos) > MAX_ARCHIVE_MEMBERS:
        raise _refuse(path, f"it holds {len(infos)} files, a workspace archive holds 3 at most")
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        pure = PurePosixPath(name)
        if "\\" in name or "\0" in name or pure.is_absolute() or ".." in pure.parts or ":" in name:
            raise _refuse(path, f"it holds a file with an unsafe name {name!r}")
        if name in seen:
            raise _refuse(path, f"it holds '{name}' twice")
        seen.add(name)
    if "manifest.json" not in seen:
        raise ArchiveError(f"{path.name} is not a Roundtable workspace archive (it has no manifest.json).")
    for info in infos:
        name = info.filename
        if name not in MAX_MEMBER_BYTES:
            raise _refuse(path, f"it holds an unexpected file {name!r}")
        if info.flag_bits & 0x1:
            raise _refuse(path, f"'{name}' is encrypted")
        if info.compress_type not in _COMPRESSIONS:
            raise _refuse(path, f"'{name}' uses an unsupported compression ({info.compress_type})")
        # the ratio first: a bomb is called a bomb, whatever its size
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise _refuse(path, f"'{name}' would inflate {ratio}x (a zip bomb?); at most {MAX_RATIO}x is read")
        limit = MAX_MEMBER_BYTES[name]
        if info.file_size > limit:
            raise _refuse(
                path, f"'{name}' would inflate to {info.file_size:,} bytes, more than the {_in_units(limit)} limit"
            )


def _in_units(size: int) -> str:
    """A limit as people write it: 64 KiB, 64 MiB."""
    return f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"


def _load(path: Path, archive: zipfile.ZipFile, name: str) -> Any:
    """One member as JSON, reading no more than its checked size (the directory could lie)."""
    info = archive.getinfo(name)
    with archive.open(info) as member:
        raw = member.read(info.file_size + 1)
    if len(raw) > info.file_size:
        raise _refuse(path, f"'{name}' is longer than its directory says")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise _refuse(path, f"'{name}' is not valid JSON ({str(exc)[:120]})") from exc


def _check_records(path: Path, content: _Content) -> None:
    """References, duplicates, and the JSON each row carries: what the database and the views rely on."""
    for table, key in (("threads", "id"), ("messages", "id"), ("tasks", "id"), ("documents", "id")):
        _unique(path, table, [getattr(row, key) for row in getattr(content, table)])
    _unique(path, "documents", [d.path for d in content.documents], "path")
    _unique(path, "roster", content.roster, "copilot")
    threads = {t.id for t in content.threads}
    documents = {d.id for d in content.documents}
    for table in ("messages", "events", "tasks"):
        for index, row in enumerate(getattr(content, table)):
            if row.thread_id not in threads:
                raise _refuse(path, f"'{table}.{index}.thread_id' names a thread the archive does not hold")
    for index, chunk in enumerate(content.chunks):
        if chunk.document_id not in documents:
            raise _refuse(path, f"'chunks.{index}.document_id' names a document the archive does not hold")
    for index, message in enumerate(content.messages):
        if message.status not in _MESSAGE_STATUSES:
            raise _refuse(path, f"'messages.{index}.status' is not one of {', '.join(_MESSAGE_STATUSES)}")
        data = _json_object(path, f"messages.{index}.data", message.data)
        _check_fields(path, f"messages.{index}.data", data, _MESSAGE_FIELDS)
        for number, citation in enumerate(data.get("citations") or []):
            where = f"messages.{index}.data.citations.{number}"
            if not isinstance(citation, dict):
                raise _refuse(path, f"'{where}' is not an object")
            _typed_or_refuse(path, where, Citation.from_dict, citation)
        row = {"author": message.author, "message_id": message.id, "thread_id": message.thread_id, "data": data}
        _typed_or_refuse(path, f"messages.{index}.data", _message_events, row)
    for index, event in enumerate(content.events):
        data = _json_object(path, f"events.{index}.data", event.data)
        row = {**event.model_dump(), "data": data}
        # the views draw what `Store.timeline` rebuilds: a row that does not rebuild is refused now, not shown later
        _typed_or_refuse(path, f"events.{index}.data", events_from_row, row)
    messages = {m.id for m in content.messages}
    room = [MAX_REQUESTS_UNPACKED_BYTES]
    for kind in REPLY_KINDS:
        blobs: dict[str, str] = getattr(content.replies, kind)
        for message_id, text in blobs.items():
            where = f"'replies.{kind}.{message_id[:40]}'"
            if message_id not in messages:
                raise _refuse(path, f"{where} names a message the archive does not hold")
            try:
                blob = base64.b64decode(text, validate=True)
            except ValueError:  # binascii.Error
                raise _refuse(path, f"{where} is not base64") from None
            try:
                read_reply(kind, blob, room)
            except ValueError as exc:  # ProvenanceError, ConfidenceError
                raise _refuse(path, f"{where} is damaged: {exc}") from None
            content.replies._blobs[(kind, message_id)] = blob


def read_reply(kind: str, blob: bytes, room: list[int]) -> None:
    """Check that a kept request or a confidence record reads back (ValueError saying why not); a request's
    unpacked size is taken from `room[0]`, the room left for all of them, and must fit in it."""
    from app.core.confidence import unpack
    from app.core.provenance import MAX_REQUEST_BYTES, ProvenanceError, RequestTooLarge, read_request

    if kind != "requests":
        unpack(blob)
        return
    try:
        _, size = read_request(blob, room[0])
    except RequestTooLarge:
        if room[0] >= MAX_REQUEST_BYTES:
            raise  # over a single request's own limit
        raise ProvenanceError(
            f"the kept requests unpack to over {MAX_REQUESTS_UNPACKED_BYTES >> 20} MB together"
        ) from None
    room[0] -= size


def _message_events(row: dict[str, Any]) -> object:
    """What `Store.timeline` rebuilds from a message row (its status is checked above)."""
    return message_events(row["author"], row["message_id"], row["thread_id"], "", "complete", row["data"])


def _typed_or_refuse(path: Path, where: str, build: Callable[[dict[str, Any]], object], record: dict[str, Any]) -> None:
    """Build the typed object a record stands for; a FieldError becomes a refusal naming the record's field."""
    try:
        build(record)
    except FieldError as exc:
        raise _refuse(path, f"'{where}.{exc.key}' is {exc.problem}") from None


def _check_fields(path: Path, where: str, data: dict[str, Any], fields: _Fields) -> None:
    """Each field of `data` is of its type; a required one is there (the views index it without a default)."""
    for name, (types, required) in fields.items():
        if not required and name not in data:
            continue
        if not isinstance(data.get(name), types):
            missing = "missing or " if required else ""
            raise _refuse(path, f"'{where}.{name}' is {missing}not {_TYPE_WORDS[types[0]]}")


def _unique(path: Path, table: str, values: list[str], what: str = "id") -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise _refuse(path, f"'{table}.{index}' repeats the {what} {value!r}")
        seen.add(value)


def _json_object(path: Path, where: str, text: str | None) -> dict[str, Any]:
    """A row's JSON data column: absent, or the text of a JSON object."""
    if text is None:
        return {}
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _refuse(path, f"'{where}' is not valid JSON") from exc
    if not isinstance(parsed, dict):
        raise _refuse(path, f"'{where}' is not a JSON object")
    return parsed
