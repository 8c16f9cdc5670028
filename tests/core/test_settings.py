import os
import stat
from pathlib import Path

import pytest

from app.core.errors import SettingsError
from app.core.paths import Paths
from app.core.private import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, tighten
from app.core.settings import Settings, load_settings, save_settings
from app.core.store import Store
from tests.conftest import run_cli, write_settings


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


# -- private to the user --------------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """The umask most desktops run with: without care, new files are readable by every local user."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_new_folders_settings_and_database_are_private(home: Path, open_umask) -> None:
    paths = Paths.from_environment()
    paths.ensure()
    save_settings(Settings(threads=2), paths.settings_file)
    store = Store(paths.database)
    store.create_thread("private")  # a write: SQLite makes its -wal and -shm now
    for folder in (paths.data_dir, paths.config_dir, paths.cache_dir):
        assert _mode(folder) == PRIVATE_DIR_MODE == 0o700, folder
    side_files = [paths.database.with_name(paths.database.name + suffix) for suffix in ("-wal", "-shm")]
    assert all(side.exists() for side in side_files)
    for file in (paths.settings_file, paths.database, *side_files):
        assert _mode(file) == PRIVATE_FILE_MODE == 0o600, file
    store.close()


@pytest.mark.fresh_embedding_model  # a home as an older version left it: no converted embedding model linked in
def test_what_an_older_version_left_readable_is_tightened_on_start(home: Path, open_umask) -> None:
    paths = Paths.from_environment()
    for folder in (paths.data_dir, paths.config_dir, paths.cache_dir):
        folder.mkdir(parents=True, mode=0o755)
        os.chmod(folder, 0o755)
    write_settings(home, "threads = 2\n").chmod(0o644)
    store = Store(paths.database)
    store.create_thread("left open")
    store.close()
    for file in paths.data_dir.iterdir():
        file.chmod(0o644)
    assert {_mode(f) for f in paths.data_dir.iterdir()} == {0o644}

    result = run_cli("threads", "ls")
    assert result.returncode == 0, result.stderr
    for folder in (paths.data_dir, paths.config_dir, paths.cache_dir):
        assert _mode(folder) == 0o700, folder
    assert _mode(paths.settings_file) == 0o600 and _mode(paths.database) == 0o600
    assert {_mode(f) for f in paths.data_dir.iterdir()} == {0o600}  # the database, and its -wal and -shm if kept


def test_tightening_never_gives_the_owner_more_than_they_had(home: Path) -> None:
    paths = Paths.from_environment()
    paths.ensure()
    Store(paths.database).close()
    paths.database.chmod(0o444)  # the user made it read-only on purpose
    tighten(paths.database)
    assert _mode(paths.database) == 0o400


# -- a malformed settings file: one clear line, and the file left as it was ------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("context_size = 100\n", "'context_size' should be greater than or equal to 256 (found 100)"),
        ("max_hops = 1000\n", "'max_hops' should be less than or equal to 100"),
        ('theme = "purple"\n', "'theme' should be 'system', 'light' or 'dark'"),
        ("[theme]\nname = 'dark'\n", "'theme' should be"),
        ("threads = " + "[" * 5000 + "]" * 5000 + "\n", "not valid TOML"),
        ('"\\u001b[31mred" = 1\n', "'\\x1b[31mred' is not a known setting"),
        ("overlay_shortcut = 'Ctrl + K'\n", "'overlay_shortcut' is wrong: string should match pattern"),
    ],
    ids=["too-small", "too-large", "not-a-choice", "table", "nested-deeply", "control-characters", "pattern"],
)
def test_a_bad_value_is_named_in_one_line_and_the_file_is_untouched(home: Path, text: str, expected: str) -> None:
    path = write_settings(home, text)
    before = path.read_bytes()
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert expected in message and str(path) in message
    assert "\n" in text or "\n" not in message  # one line
    assert message.isprintable() and len(message) < 300 + len(str(path))
    assert path.read_bytes() == before


def test_a_settings_file_that_cannot_be_read_says_so(home: Path) -> None:
    folder = home / "config" / "settings.toml"
    folder.mkdir(parents=True)  # a folder where the file should be
    with pytest.raises(SettingsError, match="Cannot read the settings file .* readable file"):
        load_settings(folder)


def test_a_huge_settings_file_is_not_read_whole(home: Path) -> None:
    path = write_settings(home, "# " + "x" * (2 * 2**20) + "\n")
    with pytest.raises(SettingsError, match="is over 1024 KB"):
        load_settings(path)
