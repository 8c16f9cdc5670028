from pathlib import Path

import pytest

from app.core.errors import SettingsError
from app.core.settings import Paths, Settings, load_settings, save_settings
from tests.conftest import write_settings


def test_roundtable_home_puts_every_folder_under_it(home: Path) -> None:
    paths = Paths.from_environment()
    assert {paths.data_dir.parent, paths.config_dir.parent, paths.cache_dir.parent} == {home.resolve()}
    assert paths.database.name == "roundtable.db"


def test_platform_folders_without_roundtable_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROUNDTABLE_HOME")
    paths = Paths.from_environment()
    assert "roundtable" in str(paths.data_dir).lower()
    assert paths.data_dir != paths.cache_dir


def test_missing_file_gives_defaults(home: Path) -> None:
    settings = load_settings(home / "config" / "settings.toml")
    assert settings == Settings()
    assert settings.context_size == 4096


def test_wrong_type_names_the_key_and_the_file(home: Path) -> None:
    path = write_settings(home, 'threads = "many"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "'threads'" in message and str(path) in message and "many" in message


def test_unknown_key_is_reported(home: Path) -> None:
    path = write_settings(home, "treads = 4\n")
    with pytest.raises(SettingsError, match="'treads' is not a known setting"):
        load_settings(path)


def test_invalid_toml_is_reported(home: Path) -> None:
    path = write_settings(home, "threads = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(path)


def test_save_then_load_round_trips(home: Path) -> None:
    path = home / "config" / "settings.toml"
    save_settings(Settings(threads=3, theme="dark"), path)
    assert load_settings(path) == Settings(threads=3, theme="dark")
    assert "context_size" not in path.read_text()  # defaults stay out of the file
