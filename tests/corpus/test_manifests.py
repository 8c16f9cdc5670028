"""Malformed copilot manifests (TOML): `roundtable copilots import` refuses each in one line naming the field
(or why the file cannot be read), exit 2, with bounded memory, and the database stays exactly as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.corpus.own_peak_rss import cli_with_peak_rss, db_dump

CORPUS = Path(__file__).parent / "manifests"
CLI_RSS_CAP = 150 << 20  # a whole `roundtable` process takes about 60 MiB

# file -> words the one-line refusal must hold
EXPECTED = {
    "bad-id.toml": "'id' 'Bad Id!' is not an id: use lowercase letters, digits, '-' and '_' (at most 40), like "
    "'bad-id'",
    "bad-utf8.toml": "Cannot read copilot manifest",
    "color-not-hex.toml": "'color' string should match pattern",
    "context-too-small.toml": "'context_size' input should be greater than or equal to 256",
    "deep-nesting.toml": "nests too deeply",
    "endpoint-not-http.toml": "'endpoint' string should match pattern",
    "not-toml.toml": "Cannot read copilot manifest",
    "temperature-too-hot.toml": "'sampling.temperature' input should be less than or equal to 2",
    "tools-not-a-list.toml": "'tools' input should be a valid list",
    "unknown-field.toml": "'api_key' extra inputs are not permitted",
}


def test_the_corpus_is_all_there() -> None:
    files = {f.name for f in CORPUS.glob("*.toml")}
    assert files == set(EXPECTED) and len(files) >= 5
    assert all(f.stat().st_size < 50_000 for f in CORPUS.iterdir())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_malformed_manifest_is_refused_cleanly(name: str, home) -> None:
    assert run_cli("copilots", "ls").returncode == 0  # the database exists, seeded, before the import
    before = db_dump()
    code, _, stderr, rss = cli_with_peak_rss("copilots", "import", str(CORPUS / name))
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("roundtable: ") and "Traceback" not in stderr, stderr
    assert EXPECTED[name] in lines[0], lines[0]
    assert rss < CLI_RSS_CAP, rss
    assert db_dump() == before


def test_an_oversized_manifest_is_not_read_whole(tmp_path: Path, home) -> None:
    big = tmp_path / "big.toml"
    big.write_text('id = "big"\nname = "Big"\ndescription = "' + "x" * (8 << 20) + '"\n')
    code, _, stderr, rss = cli_with_peak_rss("copilots", "import", str(big))
    assert code == 2 and "it is over 1024 KiB" in stderr, stderr
    assert rss < CLI_RSS_CAP, rss
