"""Turning platform markup into plain text, and keeping untrusted text inert when shown or exported.

Mention text, authors and URLs come from strangers. The stored values stay as fetched (they are
evidence); `without_bidi` and `csv_cell` are applied where they are shown or exported, and
`web_url` where a Mention is made, so a non-web link is never stored. The dashboard and the core
(`vigia`) import these from here: collectors may not import the core.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

_BLOCK_TAGS = frozenset({"p", "br", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "tr"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip_depth:
            self._skip_depth -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def html_to_text(markup: str | None) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, blocks kept as line breaks."""
    if not markup:
        return ""
    if "<" not in markup:
        return _tidy(html.unescape(markup))
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    return _tidy("".join(extractor.parts))


def _tidy(text: str) -> str:
    return _BLANK_LINES.sub("\n", _SPACES.sub(" ", text)).strip()


def join_text(*parts: str | None) -> str:
    """Join title, body and the like into one text, skipping empty parts and exact repeats."""
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    return "\n".join(seen)


# Embeddings and overrides (U+202A-U+202E), isolates (U+2066-U+2069) and the LRM, RLM and ALM
# marks: they reorder what a reader sees ("Trojan source"), e.g. making "moc.evil" read "live.com".
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
# What a spreadsheet reads as the start of a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f]")


def without_bidi(text: Any) -> str:
    """`text` with its bidirectional control characters removed, for display and export.

    Removed rather than replaced by U+FFFD: legitimate right-to-left text (an Arabic or Hebrew
    name in a byline) carries such marks routinely, and a row of replacement characters would make
    it unreadable and unsearchable; without them the text still shows, in its stored logical
    order, which is what defeats the spoof. The stored original keeps them, as evidence.
    """
    return _BIDI_CONTROLS.sub("", "" if text is None else str(text))


def web_url(url: str | None) -> str:
    """`url` if it is an absolute http(s) link, else "" (`javascript:`, `data:`, relative, ...).

    Surrounding whitespace is trimmed and inner spaces are percent-encoded; any other control
    character or whitespace inside refuses the URL, since browsers drop them and may then read a
    different scheme (``java\tscript:``).
    """
    url = (url or "").strip().replace(" ", "%20")
    if not url or _URL_UNSAFE.search(url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return ""
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


def csv_cell(value: Any) -> Any:
    """An untrusted cell for a CSV file: bidi controls removed and, if the text would start a
    formula in a spreadsheet, a leading `'`. Numbers and None are returned as they are, so a
    negative score stays a number."""
    if not isinstance(value, str):
        return value
    value = without_bidi(value)
    return "'" + value if value.startswith(_FORMULA_START) else value
