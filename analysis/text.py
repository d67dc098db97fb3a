"""Text folding shared by brand, topic and story matching: case and accents ignored."""

from __future__ import annotations

import unicodedata


def _strip_marks(char: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))


# Precomputed for the Latin, Greek and Vietnamese letters people write brands and complaints in,
# plus the combining marks themselves, so folding is one C-speed str.translate per text.
_RANGES = ((0x80, 0x250), (0x300, 0x370), (0x370, 0x400), (0x1E00, 0x1F00))
_TABLE = {
    code: _strip_marks(chr(code))
    for start, end in _RANGES
    for code in range(start, end)
    if _strip_marks(chr(code)) != chr(code)
}


def fold(text: str) -> str:
    """Lower-case `text` and strip its accents, so "Atención" and "atencion" compare equal."""
    return text.casefold().translate(_TABLE)
