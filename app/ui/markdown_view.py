"""Messages as HTML: Markdown with highlighted code, for Qt's rich-text views.

Reply text comes from models, remote agents and tools, so it is data: raw HTML in it is shown as text, images
become links (nothing is ever fetched), and a link survives only if its target is http, https or mailto.
Markdown that arrives in pieces is split into blocks (`MarkdownBlocks`): a finished block is rendered once and
only the open one again, so a long reply costs the same per update at its end as at its start.
"""

from __future__ import annotations

import html
import re
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:  # markdown itself is imported with the first converter: the window opens without it (~15 ms)
    import markdown

_EXTENSIONS = ["fenced_code", "tables", "sane_lists", "codehilite"]
LINK_SCHEMES = ("http", "https", "mailto")  # the only targets ever offered to the user
_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f-\x9f\\]")  # controls, spaces and backslashes (UNC, scheme tricks)

# A block of Markdown is at most this long while it streams: past it the block is cut at a line (a long code
# block becomes several), so re-rendering the open block stays cheap however long the reply grows.
BLOCK_CAP = 2048
_LINE_CAP = 4 * BLOCK_CAP  # a line without a break is cut at a space past this
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r" {0,3}([-*+]|\d{1,9}[.)])( |\t|$)")


def safe_link(url: str | None) -> str | None:
    """`url` if it may be offered to the user (http, https with a host, or mailto), else None.

    file:, smb:, UNC paths (\\\\host\\share, //host), javascript:, data: and custom schemes are refused, and so is
    anything with controls, spaces or backslashes, which parsers disagree about.
    """
    if not url or _UNSAFE_IN_URL.search(url.strip()):
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in LINK_SCHEMES:
        return None
    if scheme in ("http", "https") and not parts.hostname:
        return None
    if scheme == "mailto" and (parts.netloc or not parts.path):
        return None
    return url


def _data_only(converter: markdown.Markdown) -> Any:
    """A tree processor: links to anything but http, https and mailto become plain text; any image its alt text."""
    import xml.etree.ElementTree as etree

    import markdown  # imported when first used: start-up time
    from markdown.treeprocessors import Treeprocessor

    class DataOnly(Treeprocessor):
        def run(self, root: etree.Element) -> None:
            for element in root.iter():
                # autolinked addresses are entity-obfuscated (mailto:a@b -> &#109;...): read them as Qt will
                href = html.unescape((element.get("href") or "").replace(markdown.util.AMP_SUBSTITUTE, "&"))
                if element.tag == "a" and safe_link(href) is None:
                    element.tag = "span"
                    element.attrib.clear()
                elif element.tag == "img":
                    alt = element.get("alt") or ""
                    element.tag = "span"
                    element.attrib.clear()
                    element.text = f"[image: {alt}]" if alt else "[image]"

    return DataOnly(converter)


_local = threading.local()
# Qt draws a table without rules unless told; Markdown's own <table> is the only one (raw HTML is text)
_TABLE = '<table border="1" cellspacing="0" cellpadding="4" style="border-collapse: collapse; border-color: #8a8f98">'


def _converter(dark: bool) -> markdown.Markdown:
    """One Markdown converter per thread and theme (building one costs more than converting a paragraph)."""
    key = "dark" if dark else "light"
    converter = getattr(_local, key, None)
    if converter is None:
        import markdown  # imported when first used: start-up time

        config = {
            "codehilite": {"noclasses": True, "pygments_style": "monokai" if dark else "friendly", "guess_lang": False}
        }
        converter = markdown.Markdown(extensions=_EXTENSIONS, extension_configs=config)
        # raw HTML is text: without these two, <script>, <img src=...> and <a href=...> pass through as markup
        converter.preprocessors.deregister("html_block")
        converter.inlinePatterns.deregister("html")
        # ![alt](src) is read as "!" and a link, which then meets the link rules like any other
        converter.inlinePatterns.deregister("image_link")
        converter.inlinePatterns.deregister("image_reference")
        converter.treeprocessors.register(_data_only(converter), "roundtable_data_only", 0)
        setattr(_local, key, converter)
    return converter


@lru_cache(maxsize=2048)
def block_html(text: str, dark: bool) -> str:
    """One block of Markdown as HTML; code is highlighted with inline styles (Qt reads no stylesheet classes)."""
    converter = _converter(dark)
    try:
        converted = converter.reset().convert(text).replace("<table>", _TABLE)
        return converted.replace('<pre style="', '<pre style="white-space: pre-wrap; ')  # long lines wrap
    except Exception:  # half-streamed Markdown can be odd; escaped text is always safe
        return f"<p>{html.escape(text)}</p>"


class MarkdownBlocks:
    """Markdown arriving in pieces, cut into blocks that can be rendered on their own.

    A block ends at a blank line outside a code fence, unless what follows continues it (an indented line, or
    the next item of the same list). `take` hands out the blocks finished since the last call; `tail` is the
    open block. Scanning is incremental: each character is looked at about once.

    Code fences are numbered as they open (0, 1, …, the order `code_blocks` finds them in the whole text):
    `taken_fences` holds the numbers of the fences that open in each block the last `take` handed out, and
    `open_fences` those that open in the open block; a long code block cut in parts opens in its first part only.

    Attributes:
        text: everything fed so far.
        taken_fences: for each block of the last `take`, the code fences that open in it.
    """

    def __init__(self) -> None:
        self.text = ""
        self.taken_fences: list[list[int]] = []
        self._fences = 0  # code fences opened so far
        self._block_fences: list[int] = []  # ... those of them that opened in the open block
        self._start = 0  # where the open block begins in `text`
        self._scan = 0  # the first line not scanned yet
        self._prefix = ""  # a code fence reopened after a cut, put before the open block
        self._fence: str | None = None  # the open fence's marker (``` or ~~~, at least)
        self._blank_seen = False  # the open block has had a blank line outside a fence
        self._list = False  # the open block began with a list item
        self._started = False  # the open block has a non-blank line
        self._opener = ""  # the line that opened the open fence

    def feed(self, delta: str) -> None:
        self.text += delta

    @property
    def open_fences(self) -> list[int]:
        """The code fences that open in the open block."""
        return list(self._block_fences)

    @property
    def tail(self) -> str:
        """The open block, as it would be rendered now."""
        return self._prefix + self.text[self._start :]

    def take(self, final: bool = False) -> list[str]:
        """Blocks finished since the last call; with `final`, the open block is finished too."""
        done: list[str] = []
        self.taken_fences = []
        text = self.text
        while True:
            newline = text.find("\n", self._scan)
            if newline >= 0 and (self._fence is not None or newline - self._scan <= _LINE_CAP):
                line_start, self._scan = self._scan, newline + 1
                self._line(text[line_start:newline], line_start, done)
            elif self._fence is None and len(text) > self._scan + _LINE_CAP:
                # a very long line: cut it after a space (or anywhere) so it stops growing the open block;
                # where depends only on the line's first _LINE_CAP characters: streamed or not, the same cut
                space = text.find(" ", self._scan + _LINE_CAP // 2, self._scan + _LINE_CAP)
                self._scan = space + 1 if space >= 0 else self._scan + _LINE_CAP
                self._cut(self._scan, done)
            else:
                break
        if final and (self._prefix or self._start < len(text)):
            done.append(self.tail)
            self.taken_fences.append(self._block_fences)
            self._block_fences = []
            self._start, self._scan, self._prefix = len(text), len(text), ""
            self._fence, self._blank_seen, self._list, self._started = None, False, False, False
        return done

    def _cut(self, at: int, done: list[str], closer: str = "", reopen: str = "") -> None:
        if at > self._start or self._prefix:
            done.append(self._prefix + self.text[self._start : at] + closer)
            self.taken_fences.append(self._block_fences)
            self._block_fences = []
        self._start, self._prefix = at, reopen
        self._blank_seen, self._list, self._started = False, False, bool(reopen)

    def _line(self, line: str, line_start: int, done: list[str]) -> None:
        if self._fence is not None:
            stripped = line.strip()
            if stripped.startswith(self._fence) and not stripped.strip(self._fence[0]):
                self._fence = None
            elif line_start + len(line) + 1 - self._start > BLOCK_CAP:
                # a long code block: close it here and open it again, so the open part stays short
                opener = self._opener
                self._cut(line_start + len(line) + 1, done, closer=self._fence + "\n", reopen=opener)
            return
        if not line.strip():
            self._blank_seen = self._started
            return
        list_item = _LIST_ITEM.match(line) is not None
        continues = line[0] in " \t" or (list_item and self._list)
        if self._blank_seen and not continues:
            self._cut(line_start, done)
        elif self._started and line_start - self._start > BLOCK_CAP and line[0] not in " \t":
            self._cut(line_start, done)  # a long paragraph or list: cut between two lines
        if not self._started:
            self._started, self._list = True, list_item
        self._blank_seen = False
        fence = _FENCE.match(line)
        if fence:
            self._fence = fence.group(1)
            self._opener = line + "\n"
            self._block_fences.append(self._fences)
            self._fences += 1


def code_blocks(text: str) -> list[str]:
    """The code of each fenced block in `text`, in order (numbered as `MarkdownBlocks` numbers its fences)."""
    found: list[str] = []
    fence: str | None = None
    lines: list[str] = []
    for line in text.split("\n"):
        if fence is None:
            opened = _FENCE.match(line)
            if opened:
                fence, lines = opened.group(1), []
            continue
        stripped = line.strip()
        if stripped.startswith(fence) and not stripped.strip(fence[0]):
            found.append("\n".join(lines))
            fence = None
        else:
            lines.append(line)
    if fence is not None:  # still streaming, or never closed: what there is
        found.append("\n".join(lines))
    return found
