import shutil
from pathlib import Path

import pytest

from app.core.errors import ModelFileError
from app.core.hub.gguf import inspect_model_file


def test_starter_header_has_the_real_numbers(starter_model: Path) -> None:
    info = inspect_model_file(starter_model)
    summary = info.summary()
    assert summary["architecture"] == "llama"
    assert summary["quant"] == "Q4_1"
    assert summary["block_count"] == 30 and summary["head_count_kv"] == 3
    assert summary["chat_template"] is True
    assert info.expected_file_size == starter_model.stat().st_size


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="missing"):
        inspect_model_file(tmp_path / "nowhere.gguf")


def test_not_gguf(tmp_path: Path) -> None:
    path = tmp_path / "notes.gguf"
    path.write_text("just some text, not a model\n" * 10)
    with pytest.raises(ModelFileError, match="not a usable GGUF"):
        inspect_model_file(path)


@pytest.mark.parametrize("keep_bytes", [3, 2_000, 50_000_000])
def test_truncated_file(tmp_path: Path, starter_model: Path, keep_bytes: int) -> None:
    path = tmp_path / "cut.gguf"
    with starter_model.open("rb") as source, path.open("wb") as target:
        target.write(source.read(keep_bytes))
    with pytest.raises(ModelFileError, match="truncated|not a usable"):
        inspect_model_file(path)


def test_a_copy_is_fine(tmp_path: Path, starter_model: Path) -> None:
    copy = tmp_path / "copy.gguf"
    shutil.copy(starter_model, copy)
    assert inspect_model_file(copy).quant == "Q4_1"
