"""Folding of Japanese text, in one place: what forms and imports store, and what search matches.

Pure (no Flask, no database). Four rules, each used by every path that needs it:

- ``clean_text``: no NUL, control character or lone surrogate, so stored text can always be
  written to HTML, PDF, CSV, XLSX and headers; ``fieldlog.rules.limits`` applies it at every edge.

- ``clean``: what a typed or imported name is stored as — full-width ASCII and half-width kana
  folded to their usual widths (㈱ and ① are kept), runs of white space made one space, trimmed.
  The owner's forms (``fieldlog.services.directory``) and the imports (``fieldlog.io.normalize``)
  both call it, so a name reads the same however it came in.
- ``reading``: a reading (フリガナ) as stored — ``clean``, then hiragana made katakana.
- ``search_key``: what search matches on — NFKC, katakana made hiragana, case folded, white space
  dropped. The offline customer search mirrors it in ``static/js/outbox-core.mjs`` (``searchKey``);
  ``tests/test_text.py`` runs both over a shared table and over whole Unicode blocks.
"""

from __future__ import annotations

import re
import unicodedata

_HIRAGANA_TO_KATAKANA = {cp: cp + 0x60 for cp in range(0x3041, 0x3097)}
_KATAKANA_TO_HIRAGANA = {cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)}
_SPACES = re.compile(r"\s+")

# C0 and C1 controls (tab, newline and carriage return handled apart), DEL, lone surrogates,
# and the Unicode non-characters U+FFFE/U+FFFF that XML (XLSX) refuses.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile(r"\r\n?")
_ONE_LINE = re.compile(r"[\t\r\n\u2028\u2029]+")


def clean_text(value: str, *, multiline: bool = True) -> str:
    """Text without NUL, control characters or lone surrogates; CR LF becomes LF.

    In a one-line field tabs and line breaks become one space, so a name can never split a
    header (mail, Content-Disposition) or a CSV row.
    """
    value = _FORBIDDEN.sub("", _LINE_BREAKS.sub("\n", value))
    if not multiline:
        value = _ONE_LINE.sub(" ", value)
    return value


# Full-width ASCII, half-width kana and the ideographic space; ㈱ and ① are left alone.
_WIDTH_FORMS = re.compile(r"[\u3000\uff00-\uffef]+")


def nfkc(value: str | None) -> str:
    """NFKC-normalise and trim: full-width ASCII and half-width kana become their usual forms."""
    return unicodedata.normalize("NFKC", value or "").strip()


def fold_width(value: str) -> str:
    """NFKC applied to full-width and half-width forms only, so ㈱ and ① survive."""
    folded = _WIDTH_FORMS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), value)
    return unicodedata.normalize("NFC", folded)


def numeric(value: str | None) -> str:
    """Typed number text folded for reading, trimmed: full-width and half-width forms only
    (１２，０００ → 12,000, ％ → %). Other compatibility characters stay as typed, so a number
    reader refuses "1²", "①" or "½" instead of reading 12, 1 or 1⁄2 (NFKC's folds): the one
    rule for every typed amount, count and target (docs/limits.md).
    """
    value = (value or "").strip()
    return value if value.isascii() else fold_width(value).strip()


def clean(value: str | None) -> str:
    """Text as stored: widths folded, white space runs made one space, trimmed.

    Control characters and lone surrogates go first (``fieldlog.rules.limits.clean_text``).
    """
    value = value or ""
    if not value.isprintable():
        value = clean_text(value, multiline=False)
    if value.isascii():  # no width forms to fold: the common case skips the regular expressions
        return " ".join(value.split())
    return _SPACES.sub(" ", fold_width(value)).strip()


def to_katakana(value: str) -> str:
    """Hiragana made katakana; everything else as it is."""
    return value.translate(_HIRAGANA_TO_KATAKANA)


def reading(value: str | None) -> str:
    """A reading (フリガナ) as stored: ``clean`` in full-width katakana, however it was typed."""
    return to_katakana(clean(value))


def search_key(*parts: str | None) -> str:
    """A key on which hiragana, katakana, half-width kana and case all match."""
    joined = " ".join(nfkc(p) for p in parts if p)
    return _SPACES.sub("", joined.translate(_KATAKANA_TO_HIRAGANA).casefold())
