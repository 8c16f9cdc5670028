"""User settings: a validated TOML file in the config folder (`Paths`, from `app.core.paths`)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import tomli_w

from app.core.errors import RoundtableError, SettingsError
from app.core.fields import Field, Record, ValidationError
from app.core.private import make_private_dir, open_private

_MAX_SETTINGS_BYTES = 1024 * 1024  # a settings file is a few hundred bytes; anything this big is not one
_SHOWN_CHARS = 60  # of a bad value or key, in the one-line error
# Prompt-lookup decoding: the longest draft a local model copies from its prompt per step (drafts start at one token
# and double while kept), for every reply: chosen with bench/prompt_lookup.py (quoting vs free writing on the
# starter model; see the README's "Specialists").
PROMPT_LOOKUP_TOKENS = 8


class Settings(Record):
    """What the user can change; every field has a sensible default, so an empty file is valid."""

    threads: int | None = Field(None, ge=1, description="CPU threads per model; unset = physical cores")
    gpu_layers: int | None = Field(None, ge=-1, description="layers to offload; unset = all when a GPU exists")
    context_size: int = Field(4096, ge=256, le=1_048_576, description="tokens of context per model")
    max_reply_tokens: int = Field(1024, ge=1, description="default cap on a reply's length")
    memory_budget_mb: int | None = Field(None, ge=256, description="memory for loaded models; unset = 60% of RAM")
    prompt_cache_mb: int = Field(1024, ge=0, description="per model: saved states of each copilot's history; 0 = off")
    prompt_lookup_tokens: int = Field(
        PROMPT_LOOKUP_TOKENS,
        ge=0,
        le=32,
        description="the longest draft a local model copies from its prompt per step (faster where it quotes); 0 = off",
    )
    max_hops: int = Field(6, ge=0, le=100, description="handoffs one run may follow before it stops")
    max_turns: int = Field(
        12, ge=1, le=200, description="replies one run may take (plan steps, handoffs) before it stops"
    )
    run_token_budget: int | None = Field(
        None, ge=1, description="tokens (prompt and reply) one run may use before it stops; unset = no budget"
    )
    skill_routing: bool = Field(
        True, description="match each step of a request with the copilots' skills (the embedding model) first"
    )
    stop_loops: bool = Field(True, description="stop a reply that keeps repeating itself, marked 'repeating'")
    parallel_roundtable: bool = Field(
        True, description="roundtable answers at the same time where the models can (see crew/parallel.py)"
    )
    anti_repeat: bool = Field(
        True, description="local replies sample with penalties against repetition, where a manifest sets none"
    )
    default_copilot: str = Field("generalist", min_length=1)
    embedding_model: str | None = Field(
        None,
        min_length=1,
        description="installed model id or .gguf path that embeds documents; unset = all-MiniLM-L6-v2 (built in)",
    )
    theme: Literal["system", "light", "dark"] = "system"
    overlay_shortcut: str = Field(
        "Ctrl+Alt+Space", pattern=r"^\S*$", description="global shortcut for the quick-ask overlay; empty = none"
    )
    overlay_prefill: bool = Field(True, description="start the overlay's question with the selection or clipboard")
    close_to_tray: bool = Field(True, description="closing the window keeps Roundtable running in the tray")
    tool_timeout_s: float = Field(30.0, gt=0, le=3600, description="seconds a tool server may take to start or answer")
    remote_reply_timeout_s: float = Field(
        600.0, gt=0, le=86_400, description="seconds a remote copilot's whole reply may take before it is stopped"
    )
    api_port: int = Field(8642, ge=1, le=65_535, description="`roundtable serve` and Settings → Local API listen here")
    api_cors_origins: list[str] = Field(
        default_factory=list, description="web origins a browser may call the local API from; empty = none (CORS off)"
    )
    api_queue: int = Field(4, ge=1, le=64, description="local API: requests per model at once, running or waiting")


# the settings file's problems, in its own words (see read_toml_bounded)
_SETTINGS_PROBLEMS = {
    "unreadable": "Cannot read the settings file {path} ({reason}): check that it is a readable file.",
    "too big": "Settings file {path} is over {kib} KB, so it is not a settings file: "
    "move it aside to start with the defaults.",
    "not utf-8": "Settings file {path} is not UTF-8 text (byte {byte}); save it as UTF-8 or delete it.",
    "not toml": "Settings file {path} is not valid TOML ({problem}); fix it or delete it.",
    "too deep": "Settings file {path} is not valid TOML (nested too deeply); fix it or delete it.",
}


def read_toml_bounded(
    path: Path,
    limit: int,
    error: type[RoundtableError],
    problems: Mapping[str, str],
    *,
    missing_ok: bool = False,
) -> dict[str, Any] | None:
    """A TOML file of at most `limit` bytes, parsed (a bigger one is never read whole); None if it is missing and
    `missing_ok`. Otherwise `error`, in the caller's words: `problems` maps each of "unreadable", "too big",
    "not utf-8", "not toml" and "too deep" to a format string over {path}, {kib} (the limit), {error} (the
    exception as text), {reason} (the OS's reason), {byte} (where the UTF-8 breaks) and {problem} (the parser's
    words, fit for one line)."""
    fields: dict[str, Any] = {"path": path, "kib": limit // 1024, "error": "", "reason": "", "byte": "", "problem": ""}

    def refuse(kind: str, **found: Any) -> RoundtableError:
        return error(problems[kind].format(**{**fields, **found}))

    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        if missing_ok and isinstance(exc, FileNotFoundError):
            return None
        raise refuse("unreadable", error=exc, reason=exc.strerror or exc) from exc
    if len(data) > limit:
        raise refuse("too big")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise refuse("not utf-8", error=exc, byte=exc.start) from exc
    except tomllib.TOMLDecodeError as exc:
        raise refuse("not toml", error=exc, problem=_shown(str(exc))) from exc
    except RecursionError as exc:  # tomllib recurses once per nested array or table
        raise refuse("too deep") from exc


def load_settings(path: Path) -> Settings:
    """Read and validate the settings file; a missing file means all defaults. A bad file is never changed."""
    raw = read_toml_bounded(path, _MAX_SETTINGS_BYTES, SettingsError, _SETTINGS_PROBLEMS, missing_ok=True)
    if raw is None:
        return Settings()
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(file)"
        detail = first["msg"]
        if first["type"] == "extra_forbidden":
            detail = "is not a known setting"
        elif detail.startswith("Input should be"):
            detail = "should be" + detail.removeprefix("Input should be")
        else:
            detail = f"is wrong: {detail[:1].lower()}{detail[1:]}"
        raise SettingsError(
            f"Settings file {path}: '{_shown(key)}' {detail} (found {_shown(repr(first.get('input')))}); "
            "fix or remove that line."
        ) from exc


def _shown(text: str) -> str:
    """Text from the file, made safe for a one-line error: no control characters, not too long."""
    printable = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return printable if len(printable) <= _SHOWN_CHARS else printable[: _SHOWN_CHARS - 1] + "…"


def save_settings(settings: Settings, path: Path) -> None:
    """Write the settings that differ from the defaults, atomically."""
    make_private_dir(path.parent)
    data = settings.model_dump(exclude_defaults=True, exclude_none=True)
    tmp = path.with_suffix(".tmp")
    with os.fdopen(open_private(tmp), "w", encoding="utf-8") as file:
        file.write(tomli_w.dumps(data))
    tmp.replace(path)
