"""Recommended models: the short curated list in `resources/recommended.toml`, judged for this machine.

Each entry is a well-known instruct model's GGUF repo with its preferred quants. Online, the Hub's listing of the
repo gives each quant's file and exact size; offline (or where the Hub does not list it) the list's own sizes
stand in, and nothing can be downloaded. Either way the existing estimator (`fit.estimate`) says where each would
run, at the settings' context, from the header numbers the list carries. Hub data is untrusted: a size outside
(0, `MAX_FILE_BYTES`] is not believed, a file name is checked as a download would check it, and what is shown of
either is plain text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app.core.errors import UsageError
from app.core.hardware import Hardware
from app.core.hub import client
from app.core.hub.catalog import check_filename, group_files
from app.core.hub.fit import FIT_CPU, FIT_GPU, FIT_NO, FIT_PARTIAL, Architecture, Fit, estimate
from app.core.hub.quants import quant_from_name
from app.core.settings import read_toml_bounded

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.core.crew.copilots import Copilot

LIST_FILE = "recommended.toml"
MAX_LIST_BYTES = 64 * 1024  # the list is a few KB; a bigger file is not one, and is never read whole
MAX_ENTRIES = 12  # a short list people can read at a glance
MAX_FILE_BYTES = 1 << 40  # 1 TiB: a listed file size above this is not believed
HUB_WORKERS = 4  # repos asked about at once: the list is read in about one request's time, not eight
CPU_SUGGESTED_MAX_B = 4.0  # on the CPU alone a bigger model answers too slowly to be the one suggested
_REPO = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$"
_COPILOT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TIER = {FIT_GPU: 0, FIT_PARTIAL: 1, FIT_CPU: 2, FIT_NO: 3}

# the list file's problems, in its own words (see read_toml_bounded)
_PROBLEMS = {
    "unreadable": "Cannot read the recommended models list {path}: {error}",
    "too big": "Cannot read the recommended models list {path}: it is over {kib} KiB.",
    "not utf-8": "Cannot read the recommended models list {path}: {error}",
    "not toml": "Cannot read the recommended models list {path}: {problem}",
    "too deep": "Cannot read the recommended models list {path}: it nests too deeply.",
}


class ListedArchitecture(BaseModel):
    """The header numbers of a recommended model that the memory estimate needs (as its GGUF header has them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_layer: int = Field(ge=1, le=1024)
    n_embd: int = Field(ge=1, le=1 << 20)
    n_head: int = Field(ge=1, le=4096)
    n_head_kv: int = Field(ge=1, le=4096)
    head_dim: int = Field(ge=1, le=4096)
    n_vocab: int = Field(ge=1, le=1 << 22)
    context_length: int = Field(ge=256, le=1 << 24)

    def for_estimate(self) -> Architecture:
        return Architecture(
            n_layer=self.n_layer,
            n_embd=self.n_embd,
            n_head=self.n_head,
            n_head_kv=self.n_head_kv,
            head_dim_k=self.head_dim,
            head_dim_v=self.head_dim,
            n_vocab=self.n_vocab,
            context_length=self.context_length,
        )


class RecommendedModel(BaseModel):
    """One entry of the list (its fields are described at the top of `resources/recommended.toml`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=60)
    repo: str = Field(pattern=_REPO)
    parameters_b: float = Field(gt=0, le=2000)
    good_for: str = Field(min_length=1, max_length=140)
    quants: list[str] = Field(min_length=1, max_length=6)
    sizes_mb: dict[str, int]
    roles: list[str] = Field(min_length=1, max_length=8)
    architecture: ListedArchitecture

    @field_validator("quants")
    @classmethod
    def _known_quants(cls, quants: list[str]) -> list[str]:
        for quant in quants:
            if quant_from_name(quant) != quant:
                raise ValueError(f"{quant!r} is not a quant name such as Q4_K_M (upper case)")
        if len(set(quants)) != len(quants):
            raise ValueError("names a quant twice")
        return quants

    @field_validator("roles")
    @classmethod
    def _copilot_ids(cls, roles: list[str]) -> list[str]:
        for role in roles:
            if not _COPILOT_ID.fullmatch(role):
                raise ValueError(f"{role!r} is not a copilot id such as generalist")
        return roles

    @model_validator(mode="after")
    def _a_size_per_quant(self) -> RecommendedModel:
        if set(self.sizes_mb) != set(self.quants):
            raise ValueError("sizes_mb must give the size of each quant in quants, and only those")
        if any(not 0 < size <= MAX_FILE_BYTES // 1_000_000 for size in self.sizes_mb.values()):
            raise ValueError("sizes_mb holds a size that is not a file's size in MB")
        return self

    @property
    def params(self) -> str:
        """Its size as people say it: 1.5B, 7.6B."""
        return f"{self.parameters_b:g}B"


class RecommendedList(BaseModel):
    """The whole file: `[[models]]` entries, each repo once."""

    model_config = ConfigDict(extra="forbid")

    models: list[RecommendedModel] = Field(min_length=1, max_length=MAX_ENTRIES)

    @field_validator("models")
    @classmethod
    def _each_repo_once(cls, models: list[RecommendedModel]) -> list[RecommendedModel]:
        repos = [m.repo for m in models]
        if len(set(repos)) != len(repos):
            raise ValueError("lists a repo twice")
        return models


def default_list_file() -> Path:
    from app.core.context import resources_dir  # the context module is heavy; only its folder is needed here

    return resources_dir() / LIST_FILE


def load_recommended(path: Path | None = None) -> list[RecommendedModel]:
    """The list, validated; a UsageError naming the file and the field otherwise."""
    path = path or default_list_file()
    data = read_toml_bounded(path, MAX_LIST_BYTES, UsageError, _PROBLEMS)
    try:
        return RecommendedList.model_validate(data).models
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(list)"
        message = first["msg"].removeprefix("Value error, ")
        raise UsageError(f"The recommended models list {path}: '{where}' {message}.") from exc


@dataclass
class Candidate:
    """One quant of an entry: its file on the Hub (None: the size is the list's own, not the Hub's) and size."""

    quant: str
    size_bytes: int
    filename: str | None


@dataclass
class Recommendation:
    """An entry judged for this machine.

    Attributes:
        filename: the Hub file to download; None when the Hub's listing was not read (then nothing downloads).
        note: why the Hub's listing is not used (its error, one line), or "".
        suggested: the one entry suggested for this machine.
    """

    model: RecommendedModel
    quant: str
    size_bytes: int
    fit: Fit
    filename: str | None
    note: str = ""
    suggested: bool = False


@dataclass
class Recommendations:
    """The list for this machine, best first. `hub_problem`: why the Hub could not be reached (None: it was)."""

    hardware: Hardware
    context: int
    items: list[Recommendation]
    hub_problem: str | None


def hub_candidates(model: RecommendedModel) -> list[Candidate]:
    """The entry's preferred quants as the Hub lists them in its repo, in the list's order."""
    with client.hub_errors(model.repo):
        info = client.api().model_info(model.repo, files_metadata=True)
    try:
        files = [f for f in group_files(info.siblings or []) if f.kind == "model"]
    except (TypeError, ValueError) as exc:
        raise client.HubError(f"The Hub's listing of '{model.repo}' gives a file size that is not a number.") from exc
    found = []
    for quant in model.quants:
        for file in files:
            if file.quant != quant or not 0 < file.size_bytes <= MAX_FILE_BYTES:
                continue
            try:
                check_filename(model.repo, file.filename)
            except client.HubError:
                continue  # a hostile listing's name: never offered for download
            found.append(Candidate(quant, file.size_bytes, file.filename))
            break
    if not found:
        raise client.HubError(f"'{model.repo}' on the Hub has no {', '.join(model.quants)} GGUF file.")
    return found


def listed_candidates(model: RecommendedModel) -> list[Candidate]:
    """The entry's preferred quants with the list's own sizes (offline)."""
    return [Candidate(quant, model.sizes_mb[quant] * 1_000_000, None) for quant in model.quants]


def judge(model: RecommendedModel, candidates: Sequence[Candidate], hardware: Hardware, context: int) -> Recommendation:
    """The candidate that runs best here (GPU, then partly GPU, then CPU); the first listed among equals."""
    arch = model.architecture.for_estimate()
    judged = [(c, estimate(arch, c.size_bytes, context, hardware)) for c in candidates]
    candidate, fit = min(judged, key=lambda pair: _TIER[pair[1].fit])  # min keeps the first of equals
    return Recommendation(model, candidate.quant, candidate.size_bytes, fit, candidate.filename)


def _from_hub(model: RecommendedModel) -> list[Candidate] | str:
    try:
        return hub_candidates(model)
    except client.HubError as exc:
        return str(exc)


def recommend(models: Sequence[RecommendedModel], hardware: Hardware, context: int) -> Recommendations:
    """Every entry judged for `hardware` at `context` tokens: the suggested one first, then those that run best
    here, in the list's order within each kind of fit. Asks the Hub for each repo's listing when it can."""
    hub_problem: str | None = None
    listings: dict[str, list[Candidate] | str] = {}
    try:
        client.require_online()
    except client.HubError as exc:
        hub_problem = str(exc)
    else:
        with ThreadPoolExecutor(HUB_WORKERS, thread_name_prefix="roundtable-hub") as pool:
            listings = dict(zip((m.repo for m in models), pool.map(_from_hub, models), strict=True))
    items = []
    for model in models:
        listing = listings.get(model.repo, "")
        if isinstance(listing, list):
            items.append(judge(model, listing, hardware, context))
        else:
            item = judge(model, listed_candidates(model), hardware, context)
            item.note = listing
            items.append(item)
    ranked = sorted(items, key=lambda item: _TIER[item.fit.fit])  # stable: the list's order within a tier
    suggested = _suggest(ranked)
    if suggested is not None:
        suggested.suggested = True
        ranked.remove(suggested)
        ranked.insert(0, suggested)
    return Recommendations(hardware, context, ranked, hub_problem)


def _suggest(items: list[Recommendation]) -> Recommendation | None:
    """The biggest model in the best kind of fit any entry gets here (on the CPU alone, the biggest up to
    `CPU_SUGGESTED_MAX_B`); None when none fits."""
    usable = [item for item in items if item.fit.fit != FIT_NO]
    if not usable:
        return None
    best = min(_TIER[item.fit.fit] for item in usable)
    tier = [item for item in usable if _TIER[item.fit.fit] == best]
    if best == _TIER[FIT_CPU]:
        tier = [item for item in tier if item.model.parameters_b <= CPU_SUGGESTED_MAX_B] or tier
    return max(tier, key=lambda item: item.model.parameters_b)


def crew_for(copilots: Sequence[Copilot], roles: Sequence[str], default: str) -> list[Copilot]:
    """The copilots a recommended model goes to: the local ones of its roles, else the default copilot (if local).

    Remote copilots keep their endpoints: a local model is no use to them."""
    local = {c.id: c for c in copilots if c.provider == "local"}
    chosen = [local[role] for role in roles if role in local]
    return chosen or ([local[default]] if default in local else [])


def give_to_crew(ctx: AppContext, model_id: str, roles: Sequence[str]) -> list[str]:
    """Make `crew_for`'s copilots answer with an installed model; returns their names. A store write: run it on
    the database worker."""
    names = []
    for copilot in crew_for(ctx.copilots(), roles, ctx.settings.default_copilot):
        updated = copilot.model_copy(update={"model": model_id})
        ctx.store.save_copilot(updated.id, updated.name, updated.model_dump())
        names.append(copilot.name)
    return names


def installed_repos(ctx: AppContext) -> dict[str, str]:
    """Installed models (not adapters) by the Hub repo they came from: repo -> model id (a store read)."""
    found: dict[str, str] = {}
    for row in ctx.store.models():
        meta: dict[str, Any] = row["metadata"]
        if isinstance(meta.get("repo"), str) and not meta.get("adapter"):
            found[meta["repo"]] = row["id"]
    return found
