"""API keys: the only code that reads or writes a key's value, and only to the OS keychain (keyring).

Everything else — manifests, exports, the database, logs, error messages — holds a key's *name*. A name is
either a keychain entry (`openai-work`) or a reference to an environment variable (`env:OPENAI_API_KEY`),
for machines without a usable keychain. Roundtable never falls back to storing a key in plain text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.core.errors import ExitCode, RoundtableError, UsageError

if TYPE_CHECKING:  # a type only: importing the store here would load it with this module
    from app.core.store import Store

SERVICE = "roundtable"  # the keychain service name: stored on disk (in the keychain), never change
ENV_PREFIX = "env:"
_NAMES_KEY = "key_names"  # the store's meta list of the keychain entries Roundtable made (names only)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class KeychainError(RoundtableError):
    """No usable keychain, or the key asked for is not in it."""

    exit_code = ExitCode.KEYCHAIN


def check_name(name: str) -> str:
    """A valid key name (`openai-work`, or `env:VAR`); UsageError otherwise."""
    if name.startswith(ENV_PREFIX):
        if not _ENV_NAME.match(name[len(ENV_PREFIX) :]):
            raise UsageError(
                f"'{name}' is not an environment variable reference: use env:NAME, like env:OPENAI_API_KEY."
            )
        return name
    if not _NAME.match(name):
        raise UsageError(f"'{name}' is not a key name: use letters, digits, '.', '_' or '-' (at most 64).")
    return name


def keychain() -> Any:
    """The keyring backend, if it is a real keychain; KeychainError saying what to do otherwise."""
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    insecure = "plaintext" in name.lower() or "keyrings.alt" in name or isinstance(backend, fail.Keyring)
    if insecure or getattr(backend, "priority", 0) <= 0:
        raise KeychainError(
            "No usable keychain was found (Roundtable will not keep keys in a plain file): start or unlock your "
            "desktop's keyring (GNOME Keyring, KWallet, macOS Keychain, Windows Credential Manager), or put the key "
            "in an environment variable and refer to it as env:NAME (for example --api-key-name env:OPENAI_API_KEY)."
        )
    return backend


def set_key(store: Store, name: str, value: str) -> None:
    """Save a key in the keychain under `name` (not for env: references, which live in the environment)."""
    check_name(name)
    if name.startswith(ENV_PREFIX):
        raise UsageError(f"{name} refers to an environment variable: set it in your environment, not here.")
    if not value.strip():
        raise UsageError("The key is empty: nothing was saved.")
    try:
        keychain().set_password(SERVICE, name, value.strip())
    except KeychainError:
        raise
    except Exception as exc:  # a locked keyring, a D-Bus failure: the backend's own words, never the value
        raise KeychainError(
            f"The keychain refused to save '{name}' ({type(exc).__name__}): unlock it and retry."
        ) from exc
    names = set(store.get_meta(_NAMES_KEY, []))
    store.set_meta(_NAMES_KEY, sorted(names | {name}))


def get_key(name: str) -> str:
    """The value of key `name` (keychain entry or env: reference); KeychainError saying how to set it."""
    check_name(name)
    if name.startswith(ENV_PREFIX):
        variable = name[len(ENV_PREFIX) :]
        value = os.environ.get(variable, "")
        if not value:
            raise KeychainError(f"The environment variable {variable} is not set: set it to the key and try again.")
        return value
    stored = _read_keychain(name)
    if stored is None:
        raise KeychainError(f"No key named '{name}' in the keychain: save it with `roundtable keys set {name}`.")
    return stored


def _read_keychain(name: str) -> str | None:
    """The keychain's value for `name`, None when there is none; KeychainError when it cannot be read."""
    try:
        value = keychain().get_password(SERVICE, name)
    except KeychainError:
        raise
    except Exception as exc:
        raise KeychainError(f"The keychain could not be read for '{name}' ({type(exc).__name__}): unlock it.") from exc
    return value if isinstance(value, str) and value else None


def ensure_key(store: Store, name: str, make: Callable[[], str], *, replace: bool = False) -> str:
    """The value of keychain key `name`; when it is missing (or `replace`), `make()`'s value, saved there first."""
    if not replace and (value := _read_keychain(check_name(name))) is not None:
        return value
    value = make()
    set_key(store, name, value)
    return value


def delete_key(store: Store, name: str) -> None:
    check_name(name)
    names = set(store.get_meta(_NAMES_KEY, []))
    try:
        import keyring.errors

        keychain().delete_password(SERVICE, name)
    except keyring.errors.PasswordDeleteError as exc:
        if name not in names:
            raise UsageError(f"No key named '{name}' (see `roundtable keys ls`).") from exc
    store.set_meta(_NAMES_KEY, sorted(names - {name}))


def key_names(store: Store) -> list[str]:
    """The names of the keys saved through Roundtable (never their values)."""
    return list(store.get_meta(_NAMES_KEY, []))


def auth_headers(key_name: str | None) -> dict[str, str]:
    """`Authorization: Bearer …` for a request, from the named key; none when the copilot has no key."""
    return {"Authorization": f"Bearer {get_key(key_name)}"} if key_name else {}
