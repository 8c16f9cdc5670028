"""A replay builds its provider only from files its provenance names with their digests, checked here: a
provenance from an imported archive cannot point it at a device, another file, or a context no machine holds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.core.errors import UsageError
from app.core.replay import _changed_files, _checked_config


def _provenance(model: Path, **changes) -> dict:
    return {"model_path": str(model), "model_sha256": hashlib.sha256(model.read_bytes()).hexdigest(), **changes}


def test_the_files_must_be_named_with_their_digests_and_be_regular_files(starter_model: Path, tmp_path) -> None:
    assert _changed_files(_provenance(starter_model)) == ""
    assert "no sha256" in _changed_files({"model_path": str(starter_model)})
    assert "is gone" in _changed_files({"model_path": "/dev/zero", "model_sha256": "0" * 64})  # never read
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF other")
    assert "changed since" in _changed_files({**_provenance(other), "model_sha256": "0" * 64})
    adapter = _provenance(starter_model, adapters=[{"path": str(other), "sha256": _provenance(other)["model_sha256"]}])
    assert "no valid weight" in _changed_files(adapter)


def test_the_provider_is_built_from_the_checked_files_not_the_replay_entry(starter_model: Path, tmp_path) -> None:
    elsewhere = {"path": "/dev/zero", "adapters": [["/etc/passwd", 1.0]], "context_size": 4096, "prompt_lookup": False}
    config = _checked_config(_provenance(starter_model), elsewhere)
    assert config == {
        "provider": "local",
        "path": str(starter_model),
        "adapters": [],
        "control_vectors": [],
        "context_size": 4096,
        "prompt_lookup": False,
    }
    assert _checked_config(_provenance(starter_model), {"context_size": "huge"})["context_size"] is None
    with pytest.raises(UsageError, match="context_size .* is too large"):
        _checked_config(_provenance(starter_model), {"context_size": 10**9})
