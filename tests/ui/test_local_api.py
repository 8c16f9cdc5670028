"""Settings → Local API: Start serves on the port shown, the token (hidden until Show) opens it, Stop ends it."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.conftest import PATIENCE_MS

pytestmark = pytest.mark.gui


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_start_show_token_call_and_stop(qtbot, ctx, secret_service) -> None:
    from app.ui.local_api import LocalApiPanel, LocalApiService
    from app.ui.qt import QLineEdit

    service = LocalApiService(ctx)
    panel = LocalApiPanel(service, _free_port())
    qtbot.addWidget(panel)
    port = panel.port.value()
    assert panel.toggle.text() == "Start" and "127.0.0.1:" + str(port) in panel.example.toPlainText()

    panel.toggle.click()
    qtbot.waitUntil(lambda: service.running, timeout=PATIENCE_MS)
    qtbot.waitUntil(lambda: panel.toggle.text() == "Stop", timeout=PATIENCE_MS)
    assert panel.status.text() == f"Serving at http://127.0.0.1:{port}/v1" and not panel.port.isEnabled()

    assert panel.token.echoMode() == QLineEdit.EchoMode.Password
    panel.show_token.click()
    qtbot.waitUntil(lambda: panel.token.text() != "", timeout=PATIENCE_MS)
    assert panel.token.echoMode() == QLineEdit.EchoMode.Normal
    url = f"http://127.0.0.1:{port}/health"
    assert httpx.get(url, headers={"Authorization": f"Bearer {panel.token.text()}"}, timeout=60).status_code == 200
    assert httpx.get(url, timeout=60).status_code == 401

    panel.toggle.click()
    qtbot.waitUntil(lambda: panel.status.text() == "Stopped.", timeout=PATIENCE_MS)
    assert panel.toggle.text() == "Start"
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=60)
