"""The folders Roundtable keeps its data in, light enough to read before anything else loads.

`ROUNDTABLE_HOME=/some/dir` puts data, config and cache under that one folder (tests, portable installs);
otherwise platformdirs picks the OS's usual places. A launch reads these first, to ask a running Roundtable to
come forward, and the desktop app shows its window before importing the rest (`app.ui.app`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from app.core.private import make_private_dir, tighten

APP_NAME = "roundtable"
SETTINGS_FILENAME = "settings.toml"
DATABASE_FILENAME = "roundtable.db"


class Paths(NamedTuple):
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
        import platformdirs

        return cls(
            Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        )

    @property
    def database(self) -> Path:
        return self.data_dir / DATABASE_FILENAME

    @property
    def log_dir(self) -> Path:
        """`logs/` in the data folder: roundtable.log and its rotated copies (`app.core.logs`)."""
        return self.data_dir / "logs"

    @property
    def settings_file(self) -> Path:
        return self.config_dir / SETTINGS_FILENAME

    def ensure(self) -> None:
        """Create the folders private to the user, and tighten what an older version made with the umask."""
        for folder in (self.data_dir, self.config_dir, self.cache_dir):
            make_private_dir(folder)
        tighten(self.settings_file)
