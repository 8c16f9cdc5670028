"""Talking to the Hugging Face Hub: endpoint and cache from the environment, errors people can act on.

Environment variables are read at call time (huggingface_hub reads them once, at import), so a running
app follows HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE and HF_TOKEN as they are now.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from app.core.errors import ExitCode, RoundtableError

if TYPE_CHECKING:
    import httpx2  # huggingface_hub's own fork of httpx, which its session and errors use
    from huggingface_hub import HfApi

DEFAULT_ENDPOINT = "https://huggingface.co"
_TIMEOUT_S = 20


class HubError(RoundtableError):
    """The Hub could not give what was asked (unreachable, unknown repo, gated, offline)."""

    exit_code = ExitCode.HUB


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().lower() in {"1", "true", "yes", "on"}


def cache_dir() -> Path:
    """The Hugging Face hub cache, shared with every other HF tool on this machine."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def token() -> str | None:
    """The user's Hub token, if they logged in (`hf auth login`) or set HF_TOKEN."""
    from huggingface_hub import get_token

    return os.environ.get("HF_TOKEN") or get_token()


def api() -> HfApi:
    """An HfApi bound to the current endpoint and token."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint(), token=token())


_REACHABLE_FOR_S = 60
_CONNECT_TIMEOUT_S = 5
_last_reached: dict[str, float] = {}


def require_online() -> None:
    """Fail fast, with a clear message, when the Hub is switched off or cannot be reached.

    huggingface_hub retries a refused connection with back-off for about 25 s; one TCP connect tells sooner.
    """
    if offline():
        raise HubError(
            "HF_HUB_OFFLINE is set, so the Hub is not contacted: installed models keep working; "
            "unset HF_HUB_OFFLINE to search and download."
        )
    url = urlsplit(endpoint())
    if time.monotonic() - _last_reached.get(url.netloc, -_REACHABLE_FOR_S) < _REACHABLE_FOR_S:
        return
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise HubError(
            f"Cannot reach the Hugging Face Hub at {endpoint()} ({exc.strerror or type(exc).__name__}): "
            "check your connection; installed models keep working."
        ) from exc
    _last_reached[url.netloc] = time.monotonic()


_LOGIN_HINT = "log in with `hf auth login` (or set HF_TOKEN) using an account that has access"


@contextmanager
def hub_errors(repo_id: str | None = None) -> Iterator[None]:
    """Translate huggingface_hub and network errors into one-line HubErrors that say what to do."""
    import httpx2
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    what = f"'{repo_id}'" if repo_id else "the request"
    try:
        yield
    except GatedRepoError as exc:
        raise HubError(f"{what} is a gated model: accept its terms on the Hub, then {_LOGIN_HINT}.") from exc
    except RepositoryNotFoundError as exc:
        raise HubError(
            f"No model repository {what} on the Hub: check the name, or if it is private, {_LOGIN_HINT}."
        ) from exc
    except EntryNotFoundError as exc:
        raise HubError(f"That file is not in {what}: run `roundtable models files {repo_id}` to list it.") from exc
    except OfflineModeIsEnabled as exc:
        require_online()
        raise HubError(str(exc)) from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        if status in (401, 403):
            raise HubError(f"The Hub refused access to {what} ({status}): {_LOGIN_HINT}.") from exc
        raise HubError(f"The Hub answered {status} for {what}: try again in a while.") from exc
    except (httpx2.TransportError, OSError) as exc:
        if isinstance(exc, OSError) and not _is_network_error(exc):
            raise
        raise HubError(
            f"Cannot reach the Hugging Face Hub at {endpoint()} ({type(exc).__name__}): check your connection; "
            "installed models keep working."
        ) from exc


def transient_errors() -> tuple[type[BaseException], ...]:
    """Errors of a connection that dropped, stalled or was refused: worth asking again."""
    import httpx2

    return (httpx2.TransportError, ConnectionError, TimeoutError)


def _is_network_error(exc: OSError) -> bool:
    return isinstance(exc, ConnectionError | TimeoutError) or exc.errno in {101, 104, 110, 111, 113}


def file_url(repo_id: str, filename: str, revision: str = "main") -> str:
    from huggingface_hub import hf_hub_url

    return hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint())


def auth_headers() -> dict[str, str]:
    from huggingface_hub.utils import build_hf_headers

    return build_hf_headers(token=token(), library_name="roundtable")


def http_client() -> httpx2.Client:
    """huggingface_hub's own HTTP session (proxies, user agent and retries as the user configured)."""
    from huggingface_hub import get_session

    return get_session()


def timeout() -> float:
    return _TIMEOUT_S
