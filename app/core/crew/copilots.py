"""Copilot manifests: who a copilot is, what it runs on, and how it answers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from app.core.errors import UsageError
from app.core.fields import Field, Record, ValidationError, field_validator
from app.core.settings import read_toml_bounded


class SamplingConfig(Record):
    """Sampling for a copilot's replies; unset max_tokens uses the settings' max_reply_tokens."""

    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1)
    seed: int | None = None
    # unset: a local copilot resists repetition with the app's defaults (`anti_repeat` in the settings)
    repeat_penalty: float | None = Field(None, ge=1.0, le=2.0, description="local: penalise recently used tokens")
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0, description="penalise tokens used at all")
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0, description="penalise tokens by how often used")
    min_p: float | None = Field(None, ge=0.0, le=1.0, description="local: drop tokens below this share of the best")


_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


class Copilot(Record):
    """A copilot's manifest, stored in the database and importable/exportable as TOML."""

    id: str = Field(description="lowercase letters, digits, - and _; made from the name (`id_from_name`)")
    name: str = Field(min_length=1, max_length=60)
    color: str = Field("#5b7cfa", pattern=r"^#[0-9a-fA-F]{6}$")
    description: str = ""
    skills: list[str] = Field(default_factory=list)
    provider: str = "local"
    model: str | None = Field(
        None, description="local: installed model id or .gguf path (unset = the starter); openai: the server's model"
    )
    endpoint: str | None = Field(None, pattern=r"^https?://\S+$", description="a remote copilot's base URL")
    agent: str | None = Field(None, description="openbb: which agent of the server's agents.json")
    api_key_name: str | None = Field(
        None, description="the name of the key in the keychain (or env:VAR); never the key itself"
    )
    trust_card_origins: bool = Field(
        False, description="a2a/openbb: also send the conversation (and the key) to other origins the agent card names"
    )
    lora: str | None = Field(None, description="a LoRA adapter GGUF (installed model id or path) applied to the model")
    lora_scale: float = Field(1.0, ge=0.0, le=4.0)
    control_vector: str | None = Field(
        None, description="a control vector GGUF (installed model id or path) that steers the model's layers"
    )
    control_vector_strength: float = Field(
        1.0, ge=-4.0, le=4.0, description="how hard the control vector steers; negative: the other way; 0: not at all"
    )
    prompt_lookup: bool = Field(
        True, description="local: draft tokens copied from the prompt, verified in one batch (faster where it quotes)"
    )
    system_prompt: str = ""
    sampling: SamplingConfig = Field(default_factory=lambda: SamplingConfig())
    context_size: int | None = Field(None, ge=256)
    handoff_to: list[str] = Field(default_factory=list, description="copilot ids this one may hand tasks to")
    tools: list[str] = Field(default_factory=list)
    knowledge: bool | Literal["auto"] = Field(
        "auto",
        description="answer with cited passages from the workspace's documents: true, false, or auto (on for a "
        "local copilot when the workspace has documents)",
    )

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError(
                f"{value!r} is not an id: use lowercase letters, digits, '-' and '_' (at most 40), like "
                f"'{id_from_name(value)}'"
            )
        if value == "all":
            raise ValueError("'all' is reserved: @all asks every copilot (roundtable mode)")
        return value

    def reads_documents(self, workspace_has_documents: bool) -> bool:
        """Whether this copilot gets the workspace's passages. `auto` turns them on for a local copilot only: a
        remote copilot would send them off this machine, so it reads them only when `knowledge` is true."""
        if self.knowledge == "auto":
            return self.provider == "local" and workspace_has_documents
        return self.knowledge

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.model_dump(exclude_none=True))


def id_from_name(name: str, taken: Iterable[str] = ()) -> str:
    """The id a copilot called `name` gets: lowercase letters and digits with dashes ("Tax Expert" -> `tax-expert`,
    "Crème Brûlée" -> `creme-brulee`); `copilot` where no letter survives; `-2`, `-3`… after one in `taken`.
    ("All" gives `all`, which the manifest refuses: `@all` asks everyone.)"""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    base = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:36].strip("-") or "copilot"
    used = set(taken)
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _loose(text: str) -> str:
    return re.sub(r"[\s_-]+", "", text.casefold())


def find_copilot(copilots: Sequence[Copilot], ref: str) -> Copilot | None:
    """The copilot `ref` names, or None when none does, or several do.

    The one look-up rule, used by the CLI (`--copilot`, `copilots show ID`), @mentions, the router's answer, a
    handoff's target and a workspace's roster: the copilot whose id is exactly `ref`; else the only one whose
    id or name equals `ref` with case, spaces, dashes and underscores ignored, so `@Code_Reviewer` and "code
    reviewer" both find `code-reviewer` (a mention cannot hold a space, a small model rarely spells ids exactly).
    """
    exact = next((c for c in copilots if c.id == ref), None)
    if exact is not None:
        return exact
    loose = _loose_matches(copilots, ref)
    return loose[0] if len(loose) == 1 else None


def get_copilot(copilots: Sequence[Copilot], ref: str) -> Copilot:
    """`find_copilot`, or a UsageError that says what is known (or which copilots `ref` could mean)."""
    found = find_copilot(copilots, ref)
    if found is not None:
        return found
    several = _loose_matches(copilots, ref)
    if several:
        raise UsageError(f"'{ref}' could mean {', '.join(c.id for c in several)}: give the copilot's id.")
    known = ", ".join(c.id for c in copilots) or "none"
    raise UsageError(f"No copilot '{ref}' (known: {known}).")


def _loose_matches(copilots: Sequence[Copilot], ref: str) -> list[Copilot]:
    wanted = _loose(ref)
    return [c for c in copilots if wanted in (_loose(c.id), _loose(c.name))]


def parse_manifest(data: dict[str, Any], source: str) -> Copilot:
    """Validate a manifest; the error names the field and where it came from."""
    try:
        return Copilot.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(manifest)"
        message = first["msg"].removeprefix("Value error, ")  # a validator's own words, as it wrote them
        message = message if message != first["msg"] else message.lower()
        raise UsageError(f"Copilot manifest {source}: '{where}' {message}.") from exc


MAX_MANIFEST_BYTES = 1024 * 1024  # a manifest is a few KB; a bigger file is not one, and is never read whole


# a manifest file's problems, in its own words (see read_toml_bounded)
_MANIFEST_PROBLEMS = {
    "unreadable": "Cannot read copilot manifest {path}: {error}",
    "too big": "Cannot read copilot manifest {path}: it is over {kib} KiB.",
    "not utf-8": "Cannot read copilot manifest {path}: {error}",
    "not toml": "Cannot read copilot manifest {path}: {error}",
    "too deep": "Cannot read copilot manifest {path}: it nests too deeply.",
}


def load_manifest_file(path: Path) -> Copilot:
    """A TOML manifest from a file, validated; UsageError naming the file and the field otherwise."""
    data = read_toml_bounded(path, MAX_MANIFEST_BYTES, UsageError, _MANIFEST_PROBLEMS)
    assert data is not None  # only a caller with missing_ok gets None
    return parse_manifest(data, str(path))
