"""`roundtable copilots ...`: manifests from the command line and as TOML."""

import json
import tomllib
from pathlib import Path

from tests.conftest import run_cli


def copilot(copilot_id: str) -> dict:
    result = run_cli("copilots", "show", copilot_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_ls_lists_the_starter_crew() -> None:
    ids = [c["id"] for c in json.loads(run_cli("copilots", "ls", "--json").stdout)]
    assert sorted(ids) == ["analyst", "generalist", "reviewer", "writer"]
    assert "HANDS OFF TO" in run_cli("copilots", "ls").stdout


def test_add_edit_and_remove(home) -> None:
    added = run_cli(
        "copilots",
        "add",
        "tax-expert",
        "--description",
        "Knows tax law.",
        "--system",
        "You are a tax expert.",
        "--handoff-to",
        "writer,reviewer",
        "--temperature",
        "0.1",
        "--max-tokens",
        "300",
        "--skills",
        "tax,law",
    )
    assert added.returncode == 0, added.stderr
    manifest = copilot("tax-expert")
    assert manifest["name"] == "Tax Expert" and manifest["handoff_to"] == ["writer", "reviewer"]
    assert manifest["sampling"]["temperature"] == 0.1 and manifest["sampling"]["max_tokens"] == 300
    assert manifest["skills"] == ["tax", "law"]

    assert run_cli("copilots", "edit", "tax-expert", "--top-p", "0.8", "--name", "Tax").returncode == 0
    edited = copilot("tax-expert")
    assert edited["name"] == "Tax" and edited["sampling"]["top_p"] == 0.8 and edited["sampling"]["temperature"] == 0.1

    assert run_cli("ask", "--copilot", "tax-expert", "What is VAT?").returncode == 0
    assert run_cli("copilots", "rm", "tax-expert").returncode == 0
    assert run_cli("copilots", "show", "tax-expert").returncode == 2


def test_validation_errors_name_the_field(tmp_path: Path) -> None:
    result = run_cli("copilots", "add", "hot", "--temperature", "5")
    assert result.returncode == 2 and "'sampling.temperature'" in result.stderr
    manifest = tmp_path / "bad.toml"
    manifest.write_text('id = "Bad Id"\nname = "Bad Id"\n')
    result = run_cli("copilots", "import", str(manifest))
    assert result.returncode == 2 and "'id' 'Bad Id' is not an id" in result.stderr and "like 'bad-id'" in result.stderr
    result = run_cli("copilots", "add", "lonely", "--handoff-to", "ghost")
    assert result.returncode == 2 and "'handoff_to' names unknown copilots: ghost" in result.stderr
    result = run_cli("copilots", "add", "modelless", "--model", "no-such-model")
    assert result.returncode == 2 and "No installed model 'no-such-model'" in result.stderr
    assert run_cli("copilots", "add", "writer").returncode == 2  # exists already


def test_export_then_import_round_trips(tmp_path: Path) -> None:
    target = tmp_path / "analyst.toml"
    assert run_cli("copilots", "export", "analyst", "-o", str(target)).returncode == 0
    data = tomllib.loads(target.read_text())
    assert data["id"] == "analyst" and data["handoff_to"] == ["writer", "reviewer"]

    data["id"], data["name"] = "analyst-2", "Analyst Two"
    copy = tmp_path / "analyst-2.toml"
    copy.write_text(
        target.read_text()
        .replace('id = "analyst"', 'id = "analyst-2"')
        .replace('name = "Analyst"', 'name = "Analyst Two"')
    )
    assert run_cli("copilots", "import", str(copy)).returncode == 0
    assert copilot("analyst-2")["system_prompt"] == copilot("analyst")["system_prompt"]
    again = run_cli("copilots", "import", str(copy))
    assert again.returncode == 2 and "--replace" in again.stderr
    assert run_cli("copilots", "import", str(copy), "--replace").returncode == 0


def test_import_of_a_bad_manifest(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\nname = "X"\n[sampling]\ntemperature = "warm"\n')
    result = run_cli("copilots", "import", str(bad))
    assert result.returncode == 2 and "'sampling.temperature'" in result.stderr and str(bad) in result.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("id = \n")
    assert run_cli("copilots", "import", str(broken)).returncode == 2


def test_a_deleted_starter_copilot_stays_deleted() -> None:
    assert run_cli("copilots", "rm", "reviewer").returncode == 0
    ids = [c["id"] for c in json.loads(run_cli("copilots", "ls", "--json").stdout)]
    assert "reviewer" not in ids
