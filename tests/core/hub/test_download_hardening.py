"""Downloads stay verified on disk, and a hostile Hub listing cannot write outside the cache.

Real parts: the real huggingface_hub client against the loopback fake Hub, a real (small) tmpfs that fills up
where this process may mount one, and otherwise a failure injected at the OS call (os.write).
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.hub import client, download
from app.core.hub.catalog import list_files
from app.core.hub.download import DiskError, RepoCache
from app.core.hub.installed import pull_model
from tests.conftest import run_cli
from tests.fakehub import COMMIT, TEST_REPO, Repo, Source, tiny_gguf

Q8 = "SmolLM2-135M-Instruct-Q8_0.gguf"
EVIL_REPO = "roundtable-test/evil-GGUF"
EVIL_NAMES = ["../../evil-Q4_K_M.gguf", "/etc/x-Q4_K_M.gguf", "a\\b-Q4_K_M.gguf", "sub/./../../up-Q4_K_M.gguf"]


def _is_prefix_of_source(partial: Path, source: Source) -> bool:
    data = partial.read_bytes()
    return data == source.read(0, len(data))


def _partial(cache: Path) -> Path | None:
    return next(cache.rglob("*.incomplete"), None)


def _stored_blob_is_the_source(cache: Path, source: Source) -> bool:
    blob = RepoCache(TEST_REPO, cache).blob(source.sha256)
    return hashlib.sha256(blob.read_bytes()).hexdigest() == source.sha256 and blob.read_bytes() == source.read(
        0, source.size
    )


# -- a disk that fills up ----------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A 200 MiB tmpfs as the HF cache: room for the pre-check, then filled up by the test."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; test_a_write_failure_at_the_os_call covers this case")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()}); the injected test covers it")
    monkeypatch.setenv("HF_HUB_CACHE", str(folder / "hub"))
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_disk_that_fills_up_says_disk_full_and_never_stores_a_wrong_file(
    fake_hub, test_repo, ctx, small_disk: Path
) -> None:
    source = test_repo.files[Q8]
    filler = small_disk / "filler"

    def fill_the_disk(progress: download.Progress) -> None:
        if progress.done_bytes > 8 << 20 and not filler.exists():  # another program takes the rest of the disk
            free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
            with filler.open("wb") as stream:
                stream.write(b"\0" * (free - (3 << 20)))

    with pytest.raises(DiskError) as caught:
        pull_model(ctx, TEST_REPO, quant="Q8_0", progress=fill_the_disk)
    message = str(caught.value)
    assert message.startswith("Disk full") and "\n" not in message and "HF_HUB_CACHE" in message
    assert "connection" not in message.lower()
    partial = _partial(small_disk)
    assert partial is not None and partial.stat().st_size > 8 << 20
    assert _is_prefix_of_source(partial, source)  # no stray bytes past what was verified
    assert not any(p.name == source.sha256 for p in small_disk.rglob("*"))  # nothing stored as the blob

    full = run_cli("models", "pull", TEST_REPO, "--quant", "Q8_0")
    assert full.returncode == 6 and ("Disk full" in full.stderr or "Not enough disk space" in full.stderr)
    assert len(full.stderr.strip().splitlines()) == 1

    filler.unlink()
    again = run_cli("models", "pull", TEST_REPO, "--quant", "Q8_0")
    assert again.returncode == 0, again.stderr
    assert _stored_blob_is_the_source(small_disk / "hub", source)


@pytest.mark.parametrize(
    ("code", "said"),
    [(errno.ENOSPC, "Disk full"), (errno.EDQUOT, "Disk full"), (errno.EIO, "input/output error")],
)
def test_a_write_failure_at_the_os_call(
    fake_hub, test_repo, ctx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, said: str
) -> None:
    """The disk takes half a block, then fails: the half block is cut off, and the message names the cause."""
    source = test_repo.files[Q8]
    real_write = os.write
    written = {"bytes": 0, "failing": True, "full": False}

    def write(fd: int, data) -> int:
        if not written["failing"] or not os.readlink(f"/proc/self/fd/{fd}").endswith(".incomplete"):
            return real_write(fd, data)
        if written["full"]:
            raise OSError(code, os.strerror(code))
        count = real_write(fd, bytes(data)[: max(1, len(data) // 2)])  # a short write, as a filling disk gives
        written["bytes"] += count
        # past 5 MiB the disk fills in the middle of a block: the rest of that block never lands, whatever the
        # sizes of the pieces the network happened to deliver
        written["full"] = written["bytes"] >= 5 << 20 and count < len(data)
        return count

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(DiskError) as caught:
        pull_model(ctx, TEST_REPO, quant="Q8_0")
    assert said in str(caught.value) and str(tmp_path / "hf-cache") in str(caught.value)
    partial = _partial(tmp_path / "hf-cache")
    kept = partial.stat().st_size
    assert 4 << 20 < kept < written["bytes"]  # the half-written block was cut off again
    assert _is_prefix_of_source(partial, source)
    assert not RepoCache(TEST_REPO).blob(source.sha256).exists()

    written["failing"] = False  # space was freed: the next pull resumes from the verified prefix
    served = fake_hub.bytes_served[Q8]
    pull_model(ctx, TEST_REPO, quant="Q8_0")
    assert _stored_blob_is_the_source(tmp_path / "hf-cache", source)
    assert fake_hub.bytes_served[Q8] - served <= source.size - kept + (1 << 20)  # resumed, not restarted


def test_stray_bytes_in_a_partial_file_never_reach_the_stored_file(fake_hub, test_repo, ctx, tmp_path: Path) -> None:
    """A partial file with wrong bytes in it (a torn write, another program) fails the whole-file check."""
    source = test_repo.files[Q8]
    blobs = RepoCache(TEST_REPO).blobs
    blobs.mkdir(parents=True)
    good = source.read(0, 4 << 20)
    (blobs / f"{source.sha256}.incomplete").write_bytes(good[:-100] + b"\xff" * 100)
    with pytest.raises(client.HubError, match="Checksum mismatch"):
        pull_model(ctx, TEST_REPO, quant="Q8_0")
    assert not RepoCache(TEST_REPO).blob(source.sha256).exists()
    pull_model(ctx, TEST_REPO, quant="Q8_0")  # the damaged partial was deleted: a clean download now
    assert _stored_blob_is_the_source(tmp_path / "hf-cache", source)


# -- a hostile listing ---------------------------------------------------------------------------------------------


def _files_in(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")} if folder.exists() else set()


@pytest.fixture
def evil_hub(fake_hub):
    small = tiny_gguf({"general.architecture": "llama", "general.file_type": 7})
    files = {"Good-Q8_0.gguf": Source(data=small)}
    for name in EVIL_NAMES:
        files[name] = Source(data=small + b"\0" * 4096)
    fake_hub.repos[EVIL_REPO] = Repo(files=files)
    return fake_hub


@pytest.mark.parametrize("name", EVIL_NAMES)
def test_an_unsafe_file_name_in_the_listing_is_refused_before_the_disk(evil_hub, ctx, tmp_path: Path, name) -> None:
    before = _files_in(tmp_path)
    with pytest.raises(client.HubError, match="unsafe file name") as caught:
        pull_model(ctx, EVIL_REPO, filename=name)
    assert "\n" not in str(caught.value)
    assert _files_in(tmp_path) == before  # not even the cache folder was made
    assert not Path("/etc/x-Q4_K_M.gguf").exists()
    result = run_cli("models", "pull", EVIL_REPO, "--file", name)
    assert result.returncode == 6 and "unsafe file name" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("*evil*")) and not list(tmp_path.rglob("*up-Q4*"))


@pytest.mark.parametrize(
    "commit",
    ["../../../../outside", "main", COMMIT[:39], COMMIT + "0", "g" * 40, COMMIT[:20] + "/" + COMMIT[21:], ""],
)
def test_a_commit_that_is_not_40_hex_digits_is_refused(fake_hub, ctx, tmp_path: Path, commit: str) -> None:
    fake_hub.commit = commit
    with pytest.raises(client.HubError, match="40-hex-digit"):
        pull_model(ctx, TEST_REPO, quant="Q8_0")
    assert not (tmp_path / "hf-cache").exists()
    assert Q8 not in fake_hub.bytes_served  # only the header was read for the fit estimate, not the file


def test_a_checksum_that_is_not_64_hex_digits_is_refused(fake_hub, ctx, tmp_path: Path) -> None:
    from app.core.hub.catalog import RemoteModelFile, RemotePart

    model = RemoteModelFile("x-Q8_0.gguf", [RemotePart("x-Q8_0.gguf", 10, "../../../escape")], "Q8_0", "model")
    with pytest.raises(client.HubError, match="64-hex-digit"):
        download.pull(TEST_REPO, model, COMMIT)
    assert not (tmp_path / "hf-cache").exists()


def test_no_link_is_made_through_a_folder_that_points_outside_the_snapshot(tmp_path: Path) -> None:
    cache = RepoCache(TEST_REPO, tmp_path / "cache")
    outside = tmp_path / "outside"
    outside.mkdir()
    snapshot = cache.folder / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "sub").symlink_to(outside)  # planted by someone else
    with pytest.raises(client.HubError, match="outside"):
        cache.link(COMMIT, "sub/model-Q8_0.gguf", "a" * 64)
    assert list(outside.iterdir()) == []


# -- the fit estimate's header reads -------------------------------------------------------------------------------


def _header_requests(hub, filename: str) -> list[str]:
    return [r for r in hub.requests if r.startswith("GET") and r.endswith(filename.replace(" ", "%20"))]


def test_a_connection_dropped_mid_header_is_retried(fake_hub, test_repo) -> None:
    from app.core.hardware import probe

    fake_hub.drop_after, fake_hub.drop_times = 300_000, 1  # the first Range answer breaks off part-way
    listing = list_files(TEST_REPO, probe(), 4096)
    assert listing.architecture is not None and listing.architecture["n_layer"] == 30
    assert all(f.fit for f in listing.files if f.kind == "model")
    smallest = min((f for f in listing.files if f.kind == "model"), key=lambda f: f.size_bytes)
    assert len(_header_requests(fake_hub, smallest.filename)) >= 2  # asked again after the drop
    assert fake_hub.drop_times == 0


def test_a_header_connection_that_keeps_dropping_fails_clearly(fake_hub) -> None:
    fake_hub.stall_at = 1000  # every answer breaks off before the header ends
    result = run_cli("models", "files", TEST_REPO)
    assert result.returncode == 6 and "Cannot reach the Hugging Face Hub" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert len(fake_hub.requests) >= 5  # the first try and its retries
