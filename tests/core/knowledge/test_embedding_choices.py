"""`docs models`: the recommended embedding models, which is in use, which are installed, and how to change."""

import json
import shutil

from app.core.hub.embedding_models import RECOMMENDED
from app.core.hub.installed import model_id_for
from tests.conftest import run_cli, write_settings


def test_each_recommendation_is_installed_under_the_id_it_names() -> None:
    for choice in RECOMMENDED[1:]:
        assert choice.repo and choice.filename and choice.model_id == model_id_for(choice.filename, set())


def test_the_built_in_model_is_in_use_until_another_is_installed_and_chosen(home, starter_model, tmp_path) -> None:
    def states() -> dict[str, str]:
        listed = run_cli("docs", "models", "--json")
        assert listed.returncode == 0, listed.stderr
        return {entry["model_id"]: entry["state"] for entry in json.loads(listed.stdout)}

    assert states() == {
        "all-minilm-l6-v2": "in use",
        "bge-small-en-v1.5-q8_0": "not installed",
        "bge-base-en-v1.5-q8_0": "not installed",
    }
    shown = run_cli("docs", "models").stdout
    assert "roundtable models pull CompendiumLabs/bge-small-en-v1.5-gguf --file bge-small-en-v1.5-q8_0.gguf" in shown

    # a GGUF under the recommended file name, added from disk, stands in for the download (no network here)
    local = tmp_path / "bge-small-en-v1.5-q8_0.gguf"
    shutil.copy(starter_model, local)
    assert run_cli("models", "add", str(local)).returncode == 0
    assert states()["bge-small-en-v1.5-q8_0"] == "installed"
    write_settings(home, 'embedding_model = "bge-small-en-v1.5-q8_0"\n')
    assert states() == {
        "all-minilm-l6-v2": "installed",
        "bge-small-en-v1.5-q8_0": "in use",
        "bge-base-en-v1.5-q8_0": "not installed",
    }
