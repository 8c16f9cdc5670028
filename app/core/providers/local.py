"""The local provider: a GGUF model run by llama.cpp in a model host child process."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.errors import Cancelled, ModelCrashed, ModelFileError, RoundtableError, UsageError
from app.core.hardware import physical_cores, probe
from app.core.hub.adapters import check_adapter_base, inspect_adapter_file
from app.core.hub.control_vectors import check_control_vector_base, inspect_control_vector_file
from app.core.hub.fit import Architecture, compute_bytes, context_problem, host_weights_bytes, kv_cache_bytes
from app.core.hub.gguf import CONTROL_VECTOR, LORA, GGUFInfo, inspect_model_file
from app.core.providers.base import (
    CancelToken,
    ChatMessage,
    ChatRequest,
    Confidence,
    Done,
    Error,
    Event,
    Status,
    TextDelta,
    Usage,
)
from app.core.providers.tool_format import CallScanner, native_format, template_messages, template_tools
from app.core.runtime.host import HostCrashed, HostSpec, ModelHost
from app.core.runtime.pool import HostPool

if TYPE_CHECKING:
    from app.core.providers import ProviderServices


def host_memory_estimate(info: GGUFInfo, path: Path, spec: HostSpec, adapters: Iterable[str] = ()) -> int:
    """What a host for this model will hold: weights (the base once, plus each adapter or control vector loaded
    into it), KV cache, compute buffers and its prompt cache."""
    arch = Architecture.from_metadata(info.metadata)
    extra = [p.stat().st_size for p in map(Path, set(adapters)) if p.exists()]
    return (
        host_weights_bytes(path.stat().st_size if path.exists() else 0, extra)
        + kv_cache_bytes(arch, spec.n_ctx)
        + compute_bytes(arch, spec.n_ctx)
        + spec.prompt_cache_mb * 1024 * 1024
    )


# (path, what it must be) -> (size, mtime_ns, header): checking a header costs a few hundred ms, a stat almost nothing.
_checked: dict[tuple[str, str | None], tuple[int, int, GGUFInfo]] = {}
_INSPECT = {None: inspect_model_file, LORA: inspect_adapter_file, CONTROL_VECTOR: inspect_control_vector_file}


def check_model(path: Path, adapter: str | None = None) -> GGUFInfo:
    """The model's header (or with `adapter` = LORA or CONTROL_VECTOR, that file's), re-read only when the file
    changed; raises ModelFileError."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        _checked.pop((str(path), adapter), None)
    else:
        cached = _checked.get((str(path), adapter))
        if cached and cached[:2] == (stat.st_size, stat.st_mtime_ns):
            return cached[2]
    info = _INSPECT[adapter](path)
    stat = path.stat()
    _checked[(str(path), adapter)] = (stat.st_size, stat.st_mtime_ns, info)
    return info


def check_adapter(model: Path, adapter: Path) -> None:
    """Refuse a LoRA adapter file that is not whole (ModelFileError) or was made for another architecture than
    the model's (UsageError naming both)."""
    check_adapter_base(check_model(adapter, adapter=LORA), adapter.name, check_model(model), model.name)


def check_control_vector(model: Path, vector: Path) -> None:
    """Refuse a control vector file that is not whole (ModelFileError) or does not fit the model: another width,
    more layers, another architecture (UsageError naming both files)."""
    check_control_vector_base(check_model(vector, adapter=CONTROL_VECTOR), vector, check_model(model), model.name)


def check_context_size(path: Path, requested: int | None) -> None:
    """Refuse a copilot's context_size that the model (its trained context) or this machine's memory cannot
    hold, naming the limit; raises UsageError. An unreadable model file is left to the caller to report."""
    if not requested:
        return
    try:
        info = check_model(path)
    except ModelFileError:
        return
    weights = path.stat().st_size
    problem = context_problem(Architecture.from_metadata(info.metadata), weights, probe(), requested)
    if problem:
        raise UsageError(f"context_size {requested:,} is too large for {path.name}: {problem}.")


def _host_spec(path: Path, config: dict[str, Any], services: ProviderServices) -> HostSpec:
    """How a host loads this model, from a copilot's config and the settings."""
    settings = services.settings
    return HostSpec(
        path=str(path),
        n_ctx=int(config.get("context_size") or settings.context_size),
        n_threads=settings.threads or physical_cores(),
        n_gpu_layers=settings.gpu_layers,
        prompt_cache_mb=settings.prompt_cache_mb,
    )


class LocalProvider:
    """Answers with a local GGUF model; copilots on the same model and settings share one host, whatever their
    LoRA adapters and control vectors (each request applies its own).

    Attributes:
        path: the GGUF file.
        spec: how its host loads it.
        adapters: the LoRA adapters (path, scale) this provider answers with; empty: the base model.
        control_vectors: the control vectors (path, strength) that steer it; empty: none.
        prompt_lookup: the longest draft of tokens copied from the prompt (0: never draft).
    """

    def __init__(
        self,
        path: Path,
        spec: HostSpec,
        host: ModelHost,
        pool: HostPool,
        requested_context: int | None = None,
        adapters: tuple[tuple[str, float], ...] = (),
        prompt_lookup: int = 0,
        control_vectors: tuple[tuple[str, float], ...] = (),
    ) -> None:
        self.path = path
        self.spec = spec
        self.host = host
        self.pool = pool
        self.requested_context = requested_context  # the copilot's own context_size (None: the settings')
        self.adapters = adapters
        self.prompt_lookup = prompt_lookup
        self.control_vectors = control_vectors
        self.tool_format = self._read_tool_format()  # read once: the engine asks before the first request
        self.supports_tools = self.tool_format is not None
        from app.core.provenance import hash_in_background

        # the files each reply's provenance names by digest: hashed while the model loads, not as a reply ends
        hash_in_background([path, *(a for a, _ in adapters), *(v for v, _ in control_vectors)])

    @classmethod
    def from_config(cls, config: dict[str, Any], services: ProviderServices) -> LocalProvider:
        path = Path(config["path"])
        spec = _host_spec(path, config, services)
        adapters = tuple((str(a), float(scale)) for a, scale in config.get("adapters") or ())
        vectors = tuple((str(v), float(strength)) for v, strength in config.get("control_vectors") or ())
        lookup = services.settings.prompt_lookup_tokens if config.get("prompt_lookup", True) else 0
        host = services.pool.host_for(spec)
        return cls(path, spec, host, services.pool, config.get("context_size"), adapters, lookup, vectors)

    def describe(self) -> dict[str, Any]:
        info = _checked.get((str(self.path), None))
        return {
            "provider": "local",
            "model_file": self.path.name,
            "quant": info[2].quant if info else None,
            **{k: v for k, v in asdict(self.spec).items() if k != "path"},
            "adapters": [{"file": Path(a).name, "scale": scale} for a, scale in self.adapters],
            "control_vectors": [{"file": Path(v).name, "strength": s} for v, s in self.control_vectors],
        }

    def provenance(self) -> dict[str, Any]:
        """The files behind this provider's replies, with their sha256 (`app.core.provenance`), and the config
        that builds the same provider again (`replay`)."""
        from app.core.provenance import file_sha256

        return {
            "model_path": str(self.path),
            "model_sha256": file_sha256(self.path),
            "adapters": [{"path": a, "sha256": file_sha256(a), "scale": scale} for a, scale in self.adapters],
            "control_vectors": [{"path": v, "sha256": file_sha256(v), "strength": s} for v, s in self.control_vectors],
            "replay": {
                "provider": "local",
                "path": str(self.path),
                "adapters": [[a, scale] for a, scale in self.adapters],
                "control_vectors": [[v, s] for v, s in self.control_vectors],
                "context_size": self.requested_context,
                "prompt_lookup": self.prompt_lookup > 0,
            },
        }

    # Native tool calls only for a model whose chat template renders tools (set per instance from the template,
    # `tool_format`); for the others, the starter model among them, the crew decides tools and handoffs with
    # JSON-schema-constrained steps.
    supports_tools = False
    supports_json_schema = True  # llama.cpp constrains the reply to the schema with a grammar
    pins_named_tools = True  # a tool the request names is called for it: small models miss them
    replayable = True  # same request and seed, same reply (on the same machine and build)

    def _read_tool_format(self) -> str | None:
        """The model's own tool-call format, when its chat template renders tools (tool_format.native_format)."""
        try:
            info = check_model(self.path)
        except RoundtableError:
            return None  # a broken file says so when asked to answer
        return native_format(info.metadata.get("tokenizer.chat_template"))

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Event]:
        try:
            info = check_model(self.path)
            for adapter, _ in self.adapters:
                check_adapter(self.path, Path(adapter))
            for vector, _ in self.control_vectors:
                check_control_vector(self.path, Path(vector))
        except ModelFileError as exc:
            yield Error(str(exc), kind="model_file")
            return
        except UsageError as exc:
            yield Error(str(exc), kind="adapter")
            return
        if not self.host.alive:  # before a host starts with it: a running host was checked when it started
            try:
                check_context_size(self.path, self.requested_context)
            except UsageError as exc:
                yield Error(str(exc), kind="context")
                return
        loaded = self.host.adapters | {a for a, _ in self.adapters} | {v for v, _ in self.control_vectors}
        self.pool.make_room(self.spec, host_memory_estimate(info, self.path, self.spec, loaded))
        format_ = self.tool_format if request.tools else None
        yield from self._run(self.wire(request), cancel, CallScanner(format_) if format_ else None)

    def wire(self, request: ChatRequest) -> dict[str, Any]:
        """The chat request as the model host reads it: in the model's own tool format where its template has one."""
        format_ = self.tool_format if request.tools else None
        return {
            "messages": template_messages(request.messages) if format_ else plain_messages(request.messages),
            "tools": template_tools(request.tools) if format_ else None,
            "sampling": asdict(request.sampling),
            "json_schema": request.json_schema,
            "adapters": [list(a) for a in self.adapters],
            "control_vectors": [list(v) for v in self.control_vectors],
            # every reply, documents or not: the host drafts only where the text repeats its prompt, and backs off
            # after misses (bench/prompt_lookup.py: free writing as fast as without, quoting much faster)
            "prompt_lookup": self.prompt_lookup,
        }

    def _run(self, wire: dict[str, Any], cancel: CancelToken, calls: CallScanner | None = None) -> Iterator[Event]:
        """One request to the host, as provider events; with `calls`, the tool calls the model writes in its own
        format are taken out of the text and given as ToolCall events before Done."""
        try:
            for event in self.host.chat(wire, cancel):
                kind = event["type"]
                if kind == "text" and calls is not None:
                    shown = calls.feed(event["delta"])
                    if shown:
                        yield TextDelta(shown)
                elif kind == "text":
                    yield TextDelta(event["delta"])
                elif kind == "status":
                    yield Status(event["message"])
                elif kind == "usage":
                    yield Usage(
                        event["prompt_tokens"],
                        event["completion_tokens"],
                        event["ttft_s"],
                        event["decode_tokens_per_s"],
                    )
                elif kind == "confidence":
                    yield Confidence(base64.b64encode(event["packed"]).decode("ascii"))
                elif kind == "done" and calls is not None:
                    rest, made = calls.finish()
                    if rest:
                        yield TextDelta(rest)
                    yield from made
                    yield Done("tool_calls" if made else event["finish_reason"])
                elif kind == "done":
                    yield Done(event["finish_reason"])
                elif kind == "error":
                    yield Error(event["message"], kind=event.get("kind", "generation"))
        except HostCrashed as exc:
            yield Error(f"{exc}. The partial reply was kept; ask again to restart the model.", kind="crashed")


def plain_messages(messages: list[ChatMessage]) -> list[dict[str, str]]:
    """The conversation for a chat template that knows only system, user and assistant turns (many refuse any
    other role). A tool call and its result become one user turn that states the result — a small model copies
    the form of an assistant turn that says what it called, rather than answering."""
    plain: list[dict[str, str]] = []
    calls = {call.id: call for message in messages for call in message.tool_calls}
    for message in messages:
        role, content = message.role, message.content
        if role == "tool":
            call = calls.get(message.tool_call_id or "")
            asked = f" for {json.dumps(call.arguments, ensure_ascii=False)}" if call is not None else ""
            role, content = "user", tool_result_turn(str(message.name), asked, content)
        elif not content and message.tool_calls:
            continue
        if plain and plain[-1]["role"] == role and role != "system":  # templates that need turns to alternate
            plain[-1]["content"] += f"\n\n{content}"
        else:
            plain.append({"role": role, "content": content})
    return plain


def tool_result_turn(tool: str, asked: str, result: str) -> str:
    """A tool's result as the user states it to a small model. The wording was measured: on the starter crew, 20
    of 24 answers quoted the calculator's result this way, against 15 with a "Result of the tool …:" heading."""
    if "\n" in result.strip():
        return f"The tool {tool} returned{asked}:\n{result}\nAnswer with this result."
    return f"The tool {tool} returned {result.strip()}{asked}. Answer with this result."


@dataclass(frozen=True)
class Embeddings:
    """Unit-length vectors, one per text in the order given, and how many tokens were read."""

    vectors: list[list[float]]
    prompt_tokens: int


class LocalEmbedder:
    """Embeds texts with a local GGUF model, in a model host of its own (loaded in embedding mode).

    An embedding model (BERT-style, pooled by llama.cpp) is the right tool; a chat model also works (its token
    vectors are averaged), which is how the OpenAI-compatible API embeds with any installed model.

    Attributes:
        path: the GGUF file.
        spec: how its host loads it (`embedding` set, no prompt cache).
    """

    def __init__(self, path: Path, spec: HostSpec, pool: HostPool) -> None:
        self.path = path
        self.spec = spec
        self.pool = pool

    @classmethod
    def for_model(cls, path: Path, services: ProviderServices, threads: int | None = None) -> LocalEmbedder:
        """An embedder for the model at `path` (on `threads` CPU threads, else the settings'); raises
        ModelFileError for a bad file.

        Its context is the model's trained length when that is shorter than the settings' (a BERT model's 512
        positions): llama.cpp cuts each text to one batch, and an encoder cannot read past its positions.
        """
        spec = replace(_host_spec(path, {}, services), embedding=True, prompt_cache_mb=0)
        if threads is not None:
            spec = replace(spec, n_threads=threads)
        trained = Architecture.from_metadata(check_model(path).metadata).context_length
        if trained and trained < spec.n_ctx:
            spec = replace(spec, n_ctx=trained)
        return cls(path, spec, services.pool)

    def embed(
        self, texts: list[str], cancel: CancelToken, progress: Callable[[int, int], None] | None = None
    ) -> Embeddings:
        """One vector per text; `progress(done, total)` after each batch. Texts longer than a batch are cut.

        Raises ModelFileError (a bad file), ModelCrashed, Cancelled (on `cancel`) or RoundtableError.
        """
        info = check_model(self.path)
        self.pool.make_room(self.spec, host_memory_estimate(info, self.path, self.spec))
        vectors: list[list[float]] = []
        try:
            for event in self.pool.host_for(self.spec).embed(texts, cancel):
                if event["type"] == "embeddings":
                    vectors.extend(event["vectors"])
                    if progress is not None:
                        progress(len(vectors), len(texts))
                elif event["type"] == "error":
                    raise RoundtableError(f"{self.path.name} could not embed: {event['message']}")
                elif event["type"] == "done":
                    if event["finish_reason"] == "cancelled":
                        raise Cancelled("Embedding was stopped.")
                    return Embeddings(vectors, event["prompt_tokens"])
        except HostCrashed as exc:
            raise ModelCrashed(f"{exc} while embedding with {self.path.name}: try again.") from exc
        raise ModelCrashed(f"The model host for {self.path.name} ended without an answer: try again.")
