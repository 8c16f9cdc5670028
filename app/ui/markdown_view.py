"""Messages as HTML: Markdown with highlighted code, for Qt's rich-text labels."""

from __future__ import annotations

import html
from functools import lru_cache

import markdown

_EXTENSIONS = ["fenced_code", "tables", "sane_lists", "codehilite"]


@lru_cache(maxsize=512)
def to_html(text: str, dark: bool) -> str:
    """Render Markdown; code blocks are highlighted with inline styles (Qt reads no stylesheet classes)."""
    config = {
        "codehilite": {"noclasses": True, "pygments_style": "monokai" if dark else "friendly", "guess_lang": False}
    }
    try:
        return markdown.markdown(text, extensions=_EXTENSIONS, extension_configs=config)
    except Exception:  # half-streamed Markdown can be odd; plain text is always safe
        return f"<p>{html.escape(text)}</p>"
