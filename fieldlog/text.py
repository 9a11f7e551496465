"""Normalisation of Japanese text for matching: width, kana and case."""

from __future__ import annotations

import re
import unicodedata

_KATAKANA_TO_HIRAGANA = {cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)}
_SPACES = re.compile(r"\s+")


def nfkc(value: str | None) -> str:
    """NFKC-normalise and trim: full-width ASCII and half-width kana become their usual forms."""
    return unicodedata.normalize("NFKC", value or "").strip()


def search_key(*parts: str | None) -> str:
    """A key on which hiragana, katakana, half-width kana and case all match."""
    joined = " ".join(nfkc(p) for p in parts if p)
    return _SPACES.sub("", joined.translate(_KATAKANA_TO_HIRAGANA).casefold())
