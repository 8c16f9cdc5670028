"""Malformed settings files: each stops `roundtable` with one line naming the file, the key and what to do, exit 2,
with bounded memory; the file is left byte for byte as it was and no database is created.

The files under settings/ are small, hand-written (see each name); they go through the real CLI, as a user's
settings.toml would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.paths import Paths
from tests.corpus.own_peak_rss import cli_with_peak_rss

CORPUS = Path(__file__).parent / "settings"
CLI_RSS_CAP = 150 << 20  # a whole `roundtable` process takes about 60 MiB

# file -> words the one-line refusal must hold (the key, what is wrong with it, or the kind of damage); for a
# file tomllib cannot parse, our own words and the line it names, not tomllib's wording (it varies by Python)
EXPECTED: dict[str, str | tuple[str, ...]] = {
    "control_characters_in_key.toml": "'\\x1b]0;pwned\\x07\\x1b[2J' is not a known setting",
    "duplicate_key.toml": ("is not valid TOML (", "line 2", "); fix it or delete it."),
    "invalid_toml.toml": ("is not valid TOML (", "line 1", "); fix it or delete it."),
    "negative.toml": "'max_hops' should be greater than or equal to 0 (found -1)",
    "nested_too_deeply.toml": "is not valid TOML (nested too deeply)",
    "not_a_choice.toml": "'theme' should be 'system', 'light' or 'dark' (found 'purple')",
    "not_a_number.toml": "'tool_timeout_s' should be less than or equal to 3600 (found nan)",
    "not_utf8.toml": "is not UTF-8 text (byte 9); save it as UTF-8",
    "out_of_range.toml": "'context_size' should be greater than or equal to 256 (found 10)",
    "table_for_a_value.toml": "'theme' should be 'system', 'light' or 'dark' (found {'name': 'dark'})",
    "unknown_key.toml": "'treads' is not a known setting (found 4)",
    "wrong_type.toml": "'threads' should be a valid integer",
}
WHAT_TO_DO = ("fix or remove that line", "fix it or delete it", "save it as UTF-8 or delete it")


def test_the_corpus_is_all_there() -> None:
    files = {f.name for f in CORPUS.iterdir()}
    assert files == set(EXPECTED) and len(files) >= 6
    assert all(f.stat().st_size < 50_000 for f in CORPUS.iterdir())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_malformed_settings_file_stops_roundtable_in_one_clear_line(name: str, home: Path) -> None:
    paths = Paths.from_environment()
    paths.config_dir.mkdir(parents=True)
    original = (CORPUS / name).read_bytes()
    paths.settings_file.write_bytes(original)

    code, _, stderr, rss = cli_with_peak_rss("threads", "ls")

    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    line = lines[0]
    assert line.startswith(f"roundtable: Settings file {paths.settings_file}"), line
    expected = EXPECTED[name]
    for words in (expected,) if isinstance(expected, str) else expected:
        assert words in line, line
    assert any(advice in line for advice in WHAT_TO_DO), line
    assert line.isprintable(), line  # control characters from the file are shown escaped, never sent raw
    assert rss < CLI_RSS_CAP, rss
    assert paths.settings_file.read_bytes() == original  # never rewritten, never "repaired"
    assert not paths.database.exists()  # it stopped before opening anything
