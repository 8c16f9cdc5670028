"""Quantization names as GGUF files carry them (`Q4_K_M`, `IQ3_XS`, `Q8_0`, `BF16`…): light enough for the
window to read a model's name with."""

from __future__ import annotations

import re

_QUANT = re.compile(
    r"(?<![A-Za-z0-9])(IQ[1-4]_(?:XXS|XS|NL|S|M)|Q[2-8]_K(?:_[SML]|_XL)?|Q[4-8]_[01]|TQ[12]_0|MXFP4|BF16|F16|F32)"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)


def quant_from_name(filename: str) -> str | None:
    """The last quantization name in `filename`, upper-case, or None."""
    matches = _QUANT.findall(filename)
    return matches[-1].upper() if matches else None


def model_and_quant(filename: str) -> tuple[str, str | None]:
    """`Qwen2.5-7B-Instruct-Q4_K_M.gguf` as (`Qwen2.5-7B-Instruct`, `Q4_K_M`): the name before its quant."""
    name = filename.rsplit("/", 1)[-1]
    name = name[: -len(".gguf")] if name.lower().endswith(".gguf") else name
    matches = list(_QUANT.finditer(name))
    if not matches:
        return name, None
    last = matches[-1]
    base = (name[: last.start()] + name[last.end() :]).strip("-._ ") or name
    return base, last.group(1).upper()
