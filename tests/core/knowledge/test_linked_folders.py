"""Linked folders on real files and a real store: the documents follow the folder's files (new, changed, deleted),
unchanged files are not read again, bad files are reported, unlinking removes or keeps, the watcher sees changes."""

import os
from pathlib import Path

import pytest

from app.core.errors import UsageError
from app.core.knowledge import folders
from app.core.knowledge.embedding import embed_pending
from app.core.knowledge.folders import (
    FolderWatcher,
    link_folder,
    remove_by_hand,
    sync_linked_folders,
    unlink_folder,
)
from app.core.knowledge.search import search_documents
from app.core.store import Store
from tests.conftest import wait_for


def _folder(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "bond.md").write_text("# Zephyr bond\n\nThe Zephyr 2031 bond pays a coupon of 4.25% twice a year.\n")
    (root / "sub" / "office.txt").write_text("The Lisbon office opens at 8:30 on weekdays.\n")
    return root


def _texts(store: Store, words: str) -> list[str]:
    return [hit.text for hit in store.search_chunks(words, "default", 10)]


@pytest.fixture
def store(tmp_path: Path):
    opened = Store(tmp_path / "test.db")
    yield opened
    opened.close()


def test_the_index_follows_new_changed_and_deleted_files(store: Store, tmp_path: Path) -> None:
    folder = link_folder(store, "default", _folder(tmp_path / "linked"))
    first = sync_linked_folders(store, "default")
    assert sorted(Path(p).name for p in first.folders[0].added) == ["bond.md", "office.txt"]
    assert {d.folder for d in store.documents("default")} == {folder}

    (tmp_path / "linked" / "sub" / "new.md").write_text("Walrus funds rebalance every March.\n")
    (tmp_path / "linked" / "bond.md").write_text("# Zephyr bond\n\nThe Zephyr bond was called early.\n")
    (tmp_path / "linked" / "sub" / "office.txt").unlink()
    (report,) = sync_linked_folders(store, "default").folders
    names = {k: sorted(Path(p).name for p in getattr(report, k)) for k in ("added", "updated", "removed")}
    assert names == {"added": ["new.md"], "updated": ["bond.md"], "removed": ["office.txt"]}
    assert _texts(store, "walrus") and _texts(store, "called early") and not _texts(store, "coupon")
    assert _texts(store, "Lisbon office") == []  # the deleted file's passages left the FTS index
    assert sorted(d.name for d in store.documents("default")) == ["bond.md", "new.md"]
    (linked,) = store.linked_folders("default")
    assert linked.documents == 2 and linked.last_scan_at and linked.last_error is None

    again = sync_linked_folders(store, "default")
    assert not again.changed and again.count("unchanged") == 2


def test_unchanged_files_are_not_read_again(store: Store, tmp_path: Path) -> None:
    link_folder(store, "default", _folder(tmp_path / "linked"))
    sync_linked_folders(store, "default")
    bond = tmp_path / "linked" / "bond.md"
    stat = bond.stat()
    # other words, same size and modification time: a scan that read the file would see them
    bond.write_text(bond.read_text().replace("Zephyr", "Quokka"))
    os.utime(bond, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert sync_linked_folders(store, "default").count("unchanged") == 2
    assert _texts(store, "Zephyr") and not _texts(store, "Quokka")
    os.utime(bond, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # its time changed -> read, hashed, updated
    assert [Path(p).name for p in sync_linked_folders(store, "default").folders[0].updated] == ["bond.md"]
    assert _texts(store, "Quokka") and not _texts(store, "Zephyr")


def test_bad_files_are_reported_and_the_rest_indexed(store: Store, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "linked")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("Outside the folder: never indexed.\n")
    (folder / "link.md").symlink_to(outside / "secret.md")
    (folder / "linked-dir").symlink_to(outside, target_is_directory=True)
    (folder / "binary.txt").write_bytes(b"\0\1\2binary")
    (folder / ".hidden.md").write_text("Hidden: never indexed.\n")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    link_folder(store, "default", folder)
    (report,) = sync_linked_folders(store, "default").folders
    assert sorted(Path(p).name for p in report.added) == ["bond.md", "office.txt"]
    skipped = {Path(p).name: reason for p, reason in report.skipped}
    assert set(skipped) == {"link.md", "linked-dir", "binary.txt"}
    assert "outside the folder" in skipped["link.md"] and "binary" in skipped["binary.txt"]
    assert _texts(store, "never indexed") == []
    (linked,) = store.linked_folders("default")
    assert list(linked.skipped) == [str(folder / "binary.txt")]  # what `docs links --json` shows

    # a file that could not be indexed is not read again until it changes (same size and time: not read)
    binary = folder / "binary.txt"
    stat = binary.stat()
    binary.write_text("Text now.")  # as many bytes as before
    os.utime(binary, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (again,) = sync_linked_folders(store, "default").folders
    assert dict(again.skipped)[str(binary)] == skipped["binary.txt"] and not again.added
    os.utime(binary, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    (changed,) = sync_linked_folders(store, "default").folders
    assert [Path(p).name for p in changed.added] == ["binary.txt"] and str(binary) not in dict(changed.skipped)
    assert store.linked_folders("default")[0].skipped == {}


def test_the_file_cap_leaves_the_rest_out_without_removing_them(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link_folder(store, "default", _folder(tmp_path / "linked"))
    sync_linked_folders(store, "default")
    monkeypatch.setattr(folders, "MAX_FOLDER_FILES", 1)
    (report,) = sync_linked_folders(store, "default").folders
    assert report.removed == [] and any("more than 1 documents" in reason for _p, reason in report.skipped)
    assert len(store.documents("default")) == 2


def test_a_folder_that_is_gone_keeps_its_documents(store: Store, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "linked")
    link_folder(store, "default", folder)
    sync_linked_folders(store, "default")
    folder.rename(tmp_path / "moved")  # e.g. a drive that is not mounted
    (report,) = sync_linked_folders(store, "default").folders
    assert report.error and not report.removed and len(store.documents("default")) == 2
    assert store.linked_folders("default")[0].last_error == report.error
    (tmp_path / "moved").rename(folder)
    sync_linked_folders(store, "default")
    assert store.linked_folders("default")[0].last_error is None


def test_linking_refuses_what_is_not_a_new_folder(store: Store, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "linked")
    link_folder(store, "default", folder)
    for path, words in (
        (folder / "bond.md", "is not a folder"),
        (tmp_path / "missing", "is not a folder"),
        (folder, "linked already"),
        (folder / "sub", "overlaps"),
        (tmp_path, "overlaps"),
    ):
        with pytest.raises(UsageError, match=words):
            link_folder(store, "default", path)
    link_folder(store, "other", folder / "sub")  # another workspace may follow it
    with pytest.raises(UsageError, match="not a linked folder"):
        unlink_folder(store, "default", folder / "sub", keep_documents=False)


def test_unlinking_removes_its_documents_or_keeps_them(store: Store, tmp_path: Path) -> None:
    for name in ("one", "two"):
        link_folder(store, "default", _folder(tmp_path / name))
    sync_linked_folders(store, "default")
    assert unlink_folder(store, "default", tmp_path / "one", keep_documents=False) == (str(tmp_path / "one"), 2)
    assert all(d.path.startswith(str(tmp_path / "two")) for d in store.documents("default"))
    linked = store.documents("default")[0]
    with pytest.raises(UsageError, match="comes from the linked folder"):
        remove_by_hand(store, linked.id)  # the next scan would bring it back
    assert unlink_folder(store, "default", tmp_path / "two", keep_documents=True)[1] == 2
    kept = store.documents("default")
    assert len(kept) == 2 and {d.folder for d in kept} == {None} and store.linked_folders() == []
    (tmp_path / "two" / "bond.md").unlink()
    assert sync_linked_folders(store, "default").folders == []  # not followed any more
    assert len(store.documents("default")) == 2
    assert remove_by_hand(store, linked.id).name == linked.name  # a document added by hand now
    assert len(store.documents("default")) == 1


def test_a_deleted_files_passages_leave_hybrid_search_and_their_vectors_go(ctx, tmp_path: Path) -> None:
    store, embedder = ctx.store, ctx.embedder()
    link_folder(store, "default", _folder(tmp_path / "linked"))
    sync_linked_folders(store, "default")
    assert embed_pending(store, embedder, "default") == 2
    assert store.vector_count("default", embedder.model_id) == 2
    question = "When does the Portuguese branch open?"
    assert "office.txt" in [h.title for h in search_documents(store, "default", question, 5, "hybrid", embedder)]
    (tmp_path / "linked" / "sub" / "office.txt").unlink()
    sync_linked_folders(store, "default")
    assert store.vector_count("default", embedder.model_id) == 1
    hits = search_documents(store, "default", question, 5, "hybrid", embedder)
    assert [h.title for h in hits] == ["bond.md"]


def test_the_watcher_sees_changes_until_stopped(store: Store, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "linked")
    link_folder(store, "default", folder)
    reports = []
    watcher = FolderWatcher(store, interval=0.05)
    watcher.start(reports.append)
    try:
        wait_for(lambda: any(r.count("added") == 2 for r in reports))
        (folder / "late.md").write_text("Added while the watcher runs.\n")
        wait_for(lambda: any("late.md" in str(r.folders[0].added) for r in reports))
        (folder / "late.md").unlink()
        wait_for(lambda: any(r.count("removed") == 1 for r in reports))
    finally:
        watcher.stop()
    told = len(reports)
    (folder / "after.md").write_text("Written after Stop.\n")
    assert sync_linked_folders(store, "default").count("added") == 1  # the watcher did not take it
    assert len(reports) == told


def test_a_cancelled_scan_removes_nothing_and_records_no_scan(store: Store, tmp_path: Path) -> None:
    from app.core.providers.base import CancelToken

    folder = _folder(tmp_path / "linked")
    link_folder(store, "default", folder)
    sync_linked_folders(store, "default")
    scanned = store.linked_folders("default")[0].last_scan_at
    (folder / "bond.md").unlink()
    (folder / "new.md").write_text("Not read: the scan was stopped.\n")
    stop = CancelToken()
    stop.cancel()
    assert sync_linked_folders(store, "default", cancel=stop).folders == []  # stopped before the first folder
    report = folders.sync_folder(store, "default", str(folder), cancel=stop)  # stopped before the first file
    assert not report.changed and report.removed == []
    assert len(store.documents("default")) == 2 and store.linked_folders("default")[0].last_scan_at == scanned


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists any folder: no folder can be made unreadable")
def test_a_folder_that_cannot_be_listed_keeps_its_documents(store: Store, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "linked")
    link_folder(store, "default", folder)
    sync_linked_folders(store, "default")
    (folder / "sub").chmod(0)
    try:
        (report,) = sync_linked_folders(store, "default").folders
    finally:
        (folder / "sub").chmod(0o755)
    assert report.removed == [] and any(p == str(folder / "sub") for p, _reason in report.skipped)
    assert len(store.documents("default")) == 2


def test_only_a_file_that_is_surely_gone_counts_as_removed(tmp_path: Path) -> None:
    (tmp_path / "kept.md").write_text("Still here.\n")
    capped = folders.Scan(truncated=True)
    assert capped.may_be_there(str(tmp_path / "kept.md")) and not capped.may_be_there(str(tmp_path / "gone.md"))
    unlisted = folders.Scan(unreadable=[tmp_path / "locked"])
    assert unlisted.may_be_there(str(tmp_path / "locked" / "deep" / "a.md"))
    assert not unlisted.may_be_there(str(tmp_path / "kept.md"))  # listed, and not among the files: gone
