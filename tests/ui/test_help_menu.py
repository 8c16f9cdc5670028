"""Help → Open log folder: the data folder's `logs/`, opened through the swappable opener (nothing opens here)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_open_log_folder_points_at_the_log_folder(window, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.ui import menus

    opened = []
    monkeypatch.setattr(menus, "folder_opener", opened.append)
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    action = next(a for a in help_menu.actions() if a.text() == "Open log folder")
    action.trigger()
    assert len(opened) == 1 and opened[0].isLocalFile()
    assert opened[0].toLocalFile() == str(window.ctx.paths.log_dir)
    assert window.ctx.paths.log_dir.is_dir()  # created, so the file manager has something to show
