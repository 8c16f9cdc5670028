"""The model host's child process: loads one GGUF model with llama.cpp and answers chat or embedding requests.

Runs in its own process so that a native crash, an out-of-memory kill or a bad file ends this process
and never the app. Speaks plain dicts over a multiprocessing pipe: requests in, events out.
"""

from __future__ import annotations

import json
import signal
import time
import traceback
from typing import Any

from app.core.runtime import confidence, lookup, prompt_cache
from app.core.runtime.adapters import AdapterLoadError, AdapterSet, adapter_key

# Tokens kept free for the reply when trimming old turns to fit the context.
_MIN_REPLY_ROOM = 64
_PER_MESSAGE_OVERHEAD = 8


def host_main(conn: Any, cancel_flag: Any, spec: dict[str, Any]) -> None:
    """Entry point of the host process (spawned by ModelHost)."""
    # Ctrl+C in a terminal reaches the whole process group; the parent decides what a cancel means.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from llama_cpp import Llama, llama_supports_gpu_offload

        gpu_layers = spec["n_gpu_layers"]
        if gpu_layers is None:
            gpu_layers = -1 if llama_supports_gpu_offload() else 0
        started = time.perf_counter()
        llm = Llama(
            model_path=spec["path"],
            n_ctx=spec["n_ctx"],
            n_threads=spec["n_threads"],
            n_threads_batch=spec["n_threads"],
            n_gpu_layers=gpu_layers,
            embedding=spec.get("embedding", False),
            verbose=False,
        )
        cache = prompt_cache.install(llm, spec["prompt_cache_mb"] * 1024 * 1024) if spec["prompt_cache_mb"] else None
        adapters = AdapterSet(llm)
        use_prompt_lookup = lookup.install(llm)
        capture = confidence.install(llm)
    except Exception as exc:  # llama.cpp reports a bad model as a plain exception
        conn.send({"type": "error", "kind": "load", "message": f"llama.cpp could not load the model: {exc}"})
        return
    conn.send({"type": "ready", "n_ctx": llm.n_ctx(), "load_s": time.perf_counter() - started})
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request.get("op") == "shutdown":
            return
        try:
            if request.get("op") == "embed":
                _embed(llm, request, conn, cancel_flag)
            else:
                _use_adapters(llm, adapters, cache, request.get("adapters", []), request.get("control_vectors", []))
                use_prompt_lookup(request.get("prompt_lookup", 0))
                _chat(llm, request, conn, cancel_flag, capture)
        except (BrokenPipeError, EOFError):
            return
        except AdapterLoadError as exc:
            conn.send({"type": "error", "kind": "model_file", "message": str(exc)})
        except Exception as exc:
            conn.send(
                {
                    "type": "error",
                    "kind": _error_kind(exc),
                    "message": _describe(exc, llm),
                    "detail": traceback.format_exc(limit=3),
                }
            )


def _use_adapters(
    llm: Any, adapters: AdapterSet, cache: prompt_cache.StateCache | None, loras: list[Any], vectors: list[Any]
) -> None:
    """Apply the request's LoRA adapters and control vectors; after a switch the evaluated tokens belong to the
    other set, so the prompt is evaluated again, or restored from a state saved under this set."""
    key = adapter_key(loras, vectors)
    if adapters.activate(key):
        llm.reset()
    if cache is not None:
        cache.active = key


def probe_main(conn: Any, path: str) -> None:
    """Entry point of a short-lived process: can the installed llama.cpp read this model? Sends None or why not."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from llama_cpp import Llama

        Llama(model_path=path, vocab_only=True, verbose=False)
    except Exception as exc:
        conn.send(str(exc) or type(exc).__name__)
        return
    conn.send(None)


def _error_kind(exc: Exception) -> str:
    return "context" if "context window" in str(exc) else "generation"


def _describe(exc: Exception, llm: Any) -> str:
    if "context window" in str(exc):
        return (
            f"The conversation is too long for this model's context of {llm.n_ctx()} tokens: "
            "shorten the message, start a new thread, or raise context_size in settings."
        )
    return f"Generation failed: {exc}"


def _fit_to_context(
    llm: Any, messages: list[dict[str, Any]], max_tokens: int, tools: str = ""
) -> tuple[list[dict[str, Any]], int]:
    """Drop the oldest turns until the prompt leaves room for a reply; returns messages and the reply cap.
    `tools`: the tools the template renders (JSON), in the prompt whichever turns are kept."""
    n_ctx = llm.n_ctx()
    sizes = [len(llm.tokenize(_turn_text(m).encode(), add_bos=False)) + _PER_MESSAGE_OVERHEAD for m in messages]
    listed = len(llm.tokenize(tools.encode(), add_bos=False)) if tools else 0
    system = [i for i, m in enumerate(messages) if m["role"] == "system"]
    keep = list(range(len(messages)))
    room = min(max_tokens, max(_MIN_REPLY_ROOM, n_ctx // 4))
    while listed + sum(sizes[i] for i in keep) + room > n_ctx:
        droppable = [i for i in keep if i not in system and i != keep[-1]]
        if not droppable:
            total = listed + sum(sizes[i] for i in keep)
            raise ValueError(f"Requested tokens ({total}) exceed context window of {n_ctx}")
        keep.remove(droppable[0])
    prompt = listed + sum(sizes[i] for i in keep)
    return [messages[i] for i in keep], max(1, min(max_tokens, n_ctx - prompt))


def _turn_text(message: dict[str, Any]) -> str:
    """What a turn puts in the prompt: its text, and the calls it made (a tool-aware template writes them)."""
    return (message.get("content") or "") + (json.dumps(message["tool_calls"]) if message.get("tool_calls") else "")


def _chat(
    llm: Any, request: dict[str, Any], conn: Any, cancel_flag: Any, capture: confidence.Capture | None = None
) -> None:
    received = time.perf_counter()
    sampling = request["sampling"]
    tools = json.dumps(request.get("tools") or [])
    messages, max_tokens = _fit_to_context(llm, request["messages"], sampling["max_tokens"], tools)
    counts = {"prompt": 0, "completion": 0}
    recording = bool(request.get("confidence", True))
    if capture is not None:
        capture.start(recording, max_tokens, cancel_flag.is_set)

    eos = llm.token_eos()

    def count_and_cancel(input_ids: Any, scores: Any) -> Any:
        # Called once per generated token. On cancel, only end-of-text stays possible, so generation
        # ends within one token while the chat template and its stop handling stay llama.cpp's own.
        if counts["completion"] == 0:
            counts["prompt"] = len(input_ids)
        counts["completion"] += 1
        if cancel_flag.is_set():
            scores[:] = -float("inf")
            scores[eos] = 0.0
        return scores

    extra: dict[str, Any] = {}
    if request.get("json_schema"):
        extra["response_format"] = {"type": "json_object", "schema": request["json_schema"]}
    if request.get("tools"):  # the model's own chat template renders them; the provider parses its calls
        extra.update(tools=request["tools"], tool_choice="auto")
    if sampling.get("seed") is not None:
        extra["seed"] = sampling["seed"]
    greedy = sampling["temperature"] <= 0
    chunks = llm.create_chat_completion(
        messages=messages,
        stream=True,
        temperature=max(sampling["temperature"], 0.0),
        top_p=1.0 if greedy else sampling["top_p"],
        top_k=1 if greedy else 40,
        min_p=sampling.get("min_p", 0.05),
        repeat_penalty=sampling.get("repeat_penalty", 1.0),
        presence_penalty=sampling.get("presence_penalty", 0.0),
        frequency_penalty=sampling.get("frequency_penalty", 0.0),
        max_tokens=max_tokens,
        logits_processor=[count_and_cancel],
        **extra,
    )
    first_token_at: float | None = None
    finish_reason = "stop"
    for chunk in chunks:
        choice = chunk["choices"][0]
        text = choice.get("delta", {}).get("content")
        if text:
            if first_token_at is None:
                first_token_at = time.perf_counter()
            conn.send({"type": "text", "delta": text})
        if choice.get("finish_reason"):
            finish_reason = choice["finish_reason"]
        if cancel_flag.is_set():
            break
    ended = time.perf_counter()
    if cancel_flag.is_set():
        finish_reason = "cancelled"
    decode_s = ended - first_token_at if first_token_at else 0.0
    completion = counts["completion"]
    drafts = llm.draft_model if isinstance(llm.draft_model, lookup.AdaptiveLookup) else None
    conn.send(
        {
            "type": "usage",
            "prompt_tokens": counts["prompt"],
            "completion_tokens": completion,
            "ttft_s": (first_token_at - received) if first_token_at else None,
            "decode_tokens_per_s": (completion - 1) / decode_s if decode_s > 0 and completion > 1 else None,
            # prompt lookup: drafts proposed, and how many the model kept at least in part (not forwarded further)
            "drafts": drafts.drafted if drafts else 0,
            "drafts_kept": drafts.kept if drafts else 0,
        }
    )
    if capture is not None and recording:
        capture.recording = False
        # each generated token's probability and its alternatives, packed (app/core/confidence.py)
        conn.send({"type": "confidence", "packed": capture.packed()})
    conn.send({"type": "done", "finish_reason": finish_reason})


# Texts per llama.cpp call while embedding: progress and Stop are seen between batches.
_EMBED_BATCH = 16


def _embed(llm: Any, request: dict[str, Any], conn: Any, cancel_flag: Any) -> None:
    """Embed `texts` (each cut to the batch size), one unit-length vector per text, sent a batch at a time.

    Models that pool by themselves (BERT-style embedding models) give one vector per text; a model without
    pooling (a chat model) gives one per token, averaged here, as llama.cpp's server does for mean pooling.
    """
    texts: list[str] = request["texts"]
    # WORKAROUND: llama-cpp-python 0.3.x reads the token vectors of every text after the first in a batch from
    # the wrong offset when the model does not pool; such models get one text per call.
    pooled = llm.pooling_type() != 0  # LLAMA_POOLING_TYPE_NONE
    tokens = 0
    for start in range(0, len(texts), _EMBED_BATCH):
        if cancel_flag.is_set():
            conn.send({"type": "done", "finish_reason": "cancelled", "prompt_tokens": tokens})
            return
        batch = texts[start : start + _EMBED_BATCH]
        vectors: list[Any] = []
        for part in [batch] if pooled else [[text] for text in batch]:
            found, count = llm.embed(part, truncate=True, return_count=True)
            vectors.extend(found)
            tokens += count
        conn.send({"type": "embeddings", "start": start, "vectors": [_pooled(v) for v in vectors]})
    conn.send({"type": "done", "finish_reason": "stop", "prompt_tokens": tokens})


def _pooled(vector: list[Any]) -> list[float]:
    """One unit-length vector for a text: its own, or the mean of its tokens' vectors (numpy: a text has hundreds
    of tokens of hundreds of dimensions each; numpy is llama_cpp's own dependency)."""
    import numpy as np

    values = np.asarray(vector, dtype=np.float64)
    if values.ndim == 2:
        values = values.mean(axis=0)
    norm = float(np.linalg.norm(values))
    result: list[float] = (values / norm if norm > 0 else values).tolist()
    return result
