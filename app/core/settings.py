"""User settings (a validated TOML file) and the folders Roundtable keeps its data in.

`ROUNDTABLE_HOME=/some/dir` puts data, config and cache under that one folder (tests, portable installs);
otherwise platformdirs picks the OS's usual places.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import platformdirs
import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.errors import SettingsError

APP_NAME = "roundtable"
SETTINGS_FILENAME = "settings.toml"
DATABASE_FILENAME = "roundtable.db"


@dataclass(frozen=True)
class Paths:
    """Where Roundtable keeps things on this machine.

    Attributes:
        data_dir: the database and anything the user would back up.
        config_dir: settings.toml.
        cache_dir: things that can be thrown away and rebuilt.
    """

    data_dir: Path
    config_dir: Path
    cache_dir: Path

    @classmethod
    def from_environment(cls) -> Paths:
        """Paths under ROUNDTABLE_HOME when it is set, else the platform's own folders."""
        home = os.environ.get("ROUNDTABLE_HOME")
        if home:
            root = Path(home).expanduser().resolve()
            return cls(root / "data", root / "config", root / "cache")
        return cls(
            Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        )

    @property
    def database(self) -> Path:
        return self.data_dir / DATABASE_FILENAME

    @property
    def settings_file(self) -> Path:
        return self.config_dir / SETTINGS_FILENAME

    def ensure(self) -> None:
        """Create the folders if they do not exist yet."""
        for folder in (self.data_dir, self.config_dir, self.cache_dir):
            folder.mkdir(parents=True, exist_ok=True)


class Settings(BaseModel):
    """What the user can change; every field has a sensible default, so an empty file is valid."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    threads: int | None = Field(None, ge=1, description="CPU threads per model; unset = physical cores")
    gpu_layers: int | None = Field(None, ge=-1, description="layers to offload; unset = all when a GPU exists")
    context_size: int = Field(4096, ge=256, le=1_048_576, description="tokens of context per model")
    max_reply_tokens: int = Field(1024, ge=1, description="default cap on a reply's length")
    memory_budget_mb: int | None = Field(None, ge=256, description="memory for loaded models; unset = 60% of RAM")
    prompt_cache_mb: int = Field(1024, ge=0, description="per model: saved states of each copilot's history; 0 = off")
    max_hops: int = Field(6, ge=0, le=100, description="handoffs one run may follow before it stops")
    default_copilot: str = Field("generalist", min_length=1)
    theme: Literal["system", "light", "dark"] = "system"
    overlay_shortcut: str = Field(
        "Ctrl+Alt+Space", pattern=r"^\S*$", description="global shortcut for the quick-ask overlay; empty = none"
    )
    overlay_prefill: bool = Field(True, description="start the overlay's question with the selection or clipboard")
    close_to_tray: bool = Field(True, description="closing the window keeps Roundtable running in the tray")
    tool_timeout_s: float = Field(30.0, gt=0, le=3600, description="seconds a tool server may take to start or answer")


def load_settings(path: Path) -> Settings:
    """Read and validate the settings file; a missing file means all defaults."""
    if not path.exists():
        return Settings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"Settings file {path} is not valid TOML ({exc}); fix it or delete it.") from exc
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(file)"
        value = first.get("input")
        detail = first["msg"].lower()
        if first["type"] == "extra_forbidden":
            detail = "is not a known setting"
        raise SettingsError(
            f"Settings file {path}: '{key}' {detail} (found {value!r}); fix or remove that line."
        ) from exc


def save_settings(settings: Settings, path: Path) -> None:
    """Write the settings that differ from the defaults, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = settings.model_dump(exclude_defaults=True, exclude_none=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    tmp.replace(path)
