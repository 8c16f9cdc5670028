"""Copilot backends. Each registers under the entry-point group `roundtable.providers`.

The core looks providers up by kind in that group and never imports one by name, so a third-party
package adds a backend by declaring an entry point to a class with `from_config(config, services)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from app.core.errors import UsageError
from app.core.providers.base import Provider
from app.core.runtime.pool import HostPool
from app.core.settings import Settings

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "roundtable.providers"

# The built-in kinds, also where package metadata is absent (a frozen build without dist-info);
# installed entry points of the same name take their place.
_BUILT_IN = {
    "local": "app.core.providers.local:LocalProvider",
    "openai": "app.core.providers.openai_compat:OpenAICompatProvider",
    "openbb": "app.core.providers.openbb:OpenBBProvider",
    "a2a": "app.core.providers.a2a:A2AProvider",
}


@dataclass
class ProviderServices:
    """What a provider may use from the app: settings and the model host pool."""

    settings: Settings
    pool: HostPool


class ProviderClass(Protocol):
    """What a provider kind registers: a class that builds its `Provider` from a copilot's configuration."""

    @classmethod
    def from_config(cls, config: dict[str, Any], services: ProviderServices, /) -> Provider:
        """Build the provider; positional-only, so implementations may name the parameters as they like."""
        ...


_REGISTERED: dict[str, type[ProviderClass]] = {}


def register_provider(kind: str, provider_class: type[ProviderClass]) -> None:
    """Add a provider kind at run time (for code loaded without package metadata)."""
    _REGISTERED[kind] = provider_class


def provider_kinds() -> dict[str, EntryPoint]:
    """Every installed provider kind -> its entry point (loaded lazily)."""
    from importlib.metadata import EntryPoint, entry_points  # 1 MB, not needed before a copilot answers

    found = {name: EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in _BUILT_IN.items()}
    found.update({ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)})
    return found


def create_provider(kind: str, config: dict[str, Any], services: ProviderServices) -> Provider:
    """Build the provider of `kind` from a copilot's configuration."""
    if kind in _REGISTERED:
        return _REGISTERED[kind].from_config(config, services)
    kinds = provider_kinds()
    if kind not in kinds:
        known = ", ".join(sorted([*kinds, *_REGISTERED])) or "none"
        raise UsageError(f"Unknown provider kind '{kind}' (installed: {known}).")
    # an entry point loads an untyped object: the group's contract is that it names a ProviderClass
    provider_class: type[ProviderClass] = kinds[kind].load()
    return provider_class.from_config(config, services)
