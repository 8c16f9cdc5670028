"""Installed models: registering pulled and local GGUFs, listing them with their users, removing them."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.errors import RoundtableError, UsageError
from app.core.hardware import probe
from app.core.hub import control_vectors, download
from app.core.hub.adapters import inspect_adapter_file
from app.core.hub.catalog import RemoteModelFile, list_files
from app.core.hub.download import ProgressCallback, RepoCache
from app.core.hub.gguf import CONTROL_VECTOR, GGUFInfo, inspect_model_file, read_header
from app.core.hub.queue import DownloadQueue
from app.core.hub.starter import STARTER_MODEL_ID
from app.core.providers.base import CancelToken
from app.core.runtime.probe import check_loadable

if TYPE_CHECKING:
    from app.core.context import AppContext

# stored on disk: never change or reuse values
SOURCE_STARTER = "starter"
SOURCE_HUB = "hub"
SOURCE_LOCAL = "local"

_SHARD_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$", re.IGNORECASE)


@dataclass
class InstalledModel:
    """A model Roundtable can run, or an adapter for one (`adapter`: `lora` or `control_vector`; `architecture`
    its base's), with what uses it; a model's `specialists` are the copilots that run on it, with their adapters
    (all of them share one host: the base is loaded once)."""

    id: str
    filename: str
    path: str
    size_bytes: int
    source: str
    quant: str | None
    architecture: str | None
    context_length: int | None
    repo: str | None
    used_by: list[str]
    present: bool
    adapter: str | None = None
    specialists: list[Specialist] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "specialists": [s.to_dict() for s in self.specialists]}


@dataclass
class Specialist:
    """A local copilot as its base model's host sees it: which adapter and control vector it answers with.

    Attributes:
        copilot: the copilot's id.
        lora, control_vector: the files' paths (None: none), with their scale and strength.
    """

    copilot: str
    lora: str | None = None
    lora_scale: float = 1.0
    control_vector: str | None = None
    control_vector_strength: float = 1.0

    def label(self) -> str:
        """`writer (adapter finance.gguf ×1.0, control vector calm.gguf ×0.8)`, or the id alone."""
        parts = []
        if self.lora:
            parts.append(f"adapter {Path(self.lora).name} ×{self.lora_scale:g}")
        if self.control_vector:
            parts.append(f"control vector {Path(self.control_vector).name} ×{self.control_vector_strength:g}")
        return f"{self.copilot} ({', '.join(parts)})" if parts else self.copilot

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sharing_text(base: str, specialists: list[Specialist]) -> str:
    """One line saying who shares a base model's host: `base X: analyst, writer (adapter a.gguf ×1.0)`."""
    return f"base {base}: {', '.join(s.label() for s in specialists) or 'no copilots'}"


def model_id_for(filename: str, taken: set[str]) -> str:
    """A short, typeable id from a file name: `SmolLM2-135M-Instruct-Q8_0.gguf` -> `smollm2-135m-instruct-q8_0`."""
    stem = _SHARD_SUFFIX.sub("", Path(filename).stem)
    base = re.sub(r"[^a-z0-9_.-]+", "-", stem.lower()).strip("-.") or "model"
    candidate, counter = base, 2
    while candidate in taken:
        candidate, counter = f"{base}-{counter}", counter + 1
    return candidate


def _users(ctx: AppContext, model_id: str) -> list[str]:
    """The local copilots that run on this model or apply this adapter or control vector."""
    return [
        c.id
        for c in ctx.copilots()
        if c.provider == "local" and model_id in ((c.model or STARTER_MODEL_ID), c.lora, c.control_vector)
    ]


def specialists_by_base(ctx: AppContext) -> dict[str, list[Specialist]]:
    """The local copilots grouped by the model file they run on (its path, as hosts are keyed), each with its
    adapter and control vector: copilots in one group share one model host. A copilot whose model or adapter
    cannot be found is left out (its first reply says why)."""
    groups: dict[str, list[Specialist]] = {}
    for copilot in ctx.copilots():
        if copilot.provider != "local":
            continue
        try:
            base = ctx.resolve_model(copilot.model)
            lora = str(ctx.resolve_model(copilot.lora)) if copilot.lora else None
            vector = str(ctx.resolve_model(copilot.control_vector)) if copilot.control_vector else None
        except RoundtableError:
            continue
        groups.setdefault(str(base), []).append(
            Specialist(copilot.id, lora, copilot.lora_scale, vector, copilot.control_vector_strength)
        )
    return groups


def installed_models(ctx: AppContext) -> list[InstalledModel]:
    models = []
    groups = specialists_by_base(ctx)
    for row in ctx.store.models():
        meta = row["metadata"]
        parts = [Path(p) for p in meta.get("parts", [row["path"]])]
        models.append(
            InstalledModel(
                id=row["id"],
                filename=row["filename"],
                path=row["path"],
                size_bytes=row["size_bytes"],
                source=row["source"],
                quant=meta.get("quant"),
                architecture=meta.get("architecture"),
                context_length=meta.get("context_length"),
                repo=meta.get("repo"),
                used_by=_users(ctx, row["id"]),
                present=all(p.exists() for p in parts),
                adapter=meta.get("adapter"),
                specialists=[] if meta.get("adapter") else groups.get(row["path"], []),
            )
        )
    return models


def _summary(info: GGUFInfo, path: Path) -> dict[str, Any]:
    """What the model list keeps of a header: a control vector's base architecture is the one it names."""
    summary = control_vectors.summary(info, path) if info.adapter == CONTROL_VECTOR else info.summary()
    return {**summary, "adapter": info.adapter}


def register_pulled(ctx: AppContext, repo_id: str, model: RemoteModelFile, commit: str, paths: list[Path]) -> str:
    """Record a downloaded model (all its parts) with the facts from its header."""
    with paths[0].open("rb") as stream:
        header = read_header(stream)
    summary = _summary(header, paths[0])
    existing = {row["path"]: row["id"] for row in ctx.store.models()}
    taken = {row["id"] for row in ctx.store.models()}
    model_id = existing.get(os.path.abspath(paths[0])) or model_id_for(model.filename, taken)
    metadata = {
        **summary,
        "quant": model.quant or summary["quant"],
        "repo": repo_id,
        "commit": commit,
        "filename": model.filename,
        "sha256": model.sha256,
        "parts": [str(p) for p in paths],
    }
    return ctx.store.add_model(paths[0], SOURCE_HUB, metadata, model_id=model_id, size_bytes=model.size_bytes)


def add_local(ctx: AppContext, path: Path) -> str:
    """Register a GGUF the user already has, after checking that it is whole and llama.cpp can read it; a LoRA
    adapter or a control vector is registered as one, for its base architecture (llama.cpp reads it when a
    copilot applies it)."""
    path = path.expanduser().resolve()
    kind = inspect_model_file(path, adapter=True).adapter
    if kind == CONTROL_VECTOR:
        info = control_vectors.inspect_control_vector_file(path)
    elif kind is not None:
        info = inspect_adapter_file(path)
    else:
        info = inspect_model_file(path)
        check_loadable(path, info.architecture)
    known = {row["path"]: row["id"] for row in ctx.store.models()}
    model_id = known.get(str(path)) or model_id_for(path.name, {row["id"] for row in ctx.store.models()})
    metadata = {**_summary(info, path), "parts": [str(path)]}
    return ctx.store.add_model(path, SOURCE_LOCAL, metadata, model_id=model_id)


def remove(ctx: AppContext, model_id: str, force: bool = False) -> list[str]:
    """Forget a model and delete the files Roundtable downloaded for it; returns the copilots moved off it.

    Files the user added from disk are never deleted, and the starter model cannot be removed.
    """
    row = ctx.store.get_model(model_id)
    if row is None:
        raise UsageError(f"No installed model '{model_id}': run `roundtable models ls` to see them.")
    if row["source"] == SOURCE_STARTER:
        raise UsageError("The starter model ships with Roundtable and cannot be removed.")
    users = _users(ctx, model_id)
    if users and not force:
        raise UsageError(
            f"Model '{model_id}' is used by {', '.join(users)}: bind them to another model first, "
            "or add --force to move them to the starter model."
        )
    kind = row["metadata"].get("adapter")  # an adapter's users go back to their base
    cleared = "model" if kind is None else "control_vector" if kind == CONTROL_VECTOR else "lora"
    for copilot in ctx.copilots():
        if copilot.id in users:
            moved = copilot.model_copy(update={cleared: None})
            ctx.store.save_copilot(moved.id, moved.name, moved.model_dump())
    ctx.store.remove_model(model_id)
    if row["source"] == SOURCE_HUB:
        meta = row["metadata"]
        cache = RepoCache(meta["repo"], Path(row["path"]).parents[3])
        for part in meta.get("parts", [row["path"]]):
            link = Path(part)
            blob = link.resolve()
            link.unlink(missing_ok=True)
            if blob.parent == cache.blobs:
                blob.unlink(missing_ok=True)
    return users


def choose_file(files: list[RemoteModelFile], repo_id: str, quant: str | None, filename: str | None) -> RemoteModelFile:
    """The file the user asked for by quant or name, or the recommended one."""
    models = [f for f in files if f.kind == "model"]
    if filename:
        for file in files:
            if filename in (file.filename, *(p.filename for p in file.parts)):
                return file
        raise UsageError(f"'{repo_id}' has no file '{filename}': run `roundtable models files {repo_id}` to list them.")
    if quant:
        matches = [f for f in models if (f.quant or "").upper() == quant.upper()]
        if not matches:
            have = ", ".join(sorted({f.quant or "?" for f in models})) or "none"
            raise UsageError(f"'{repo_id}' has no {quant.upper()} file (it has: {have}).")
        return next((f for f in matches if f.recommended), matches[0])
    chosen = next((f for f in models if f.recommended), None)
    if chosen is None:
        raise UsageError(
            f"No file of '{repo_id}' fits this machine: pick a smaller model, or name one with --quant or --file."
        )
    return chosen


def pull_model(
    ctx: AppContext,
    repo_id: str,
    *,
    quant: str | None = None,
    filename: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[str, RemoteModelFile]:
    """Download a model from the Hub (resuming, verified) and install it; returns its id and the file."""
    listing = list_files(repo_id, probe(), ctx.settings.context_size)
    chosen = choose_file(listing.files, repo_id, quant, filename)
    commit = listing.revision or ""  # no commit id: pull refuses it, as it names the snapshot folder
    # through the queue: the window and `models downloads` see it, and either can pause it
    with DownloadQueue.of(ctx).running(repo_id, chosen, cancel) as run:
        paths = download.pull(repo_id, chosen, commit, run.progress(progress), run)
        run.model_id = model_id = register_pulled(ctx, repo_id, chosen, commit, paths)
    return model_id, chosen
