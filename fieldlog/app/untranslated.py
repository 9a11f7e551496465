"""The translation catalogue: which user-visible strings still lack a Japanese translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "fieldlog" / "translations" / "ja" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "lazy_gettext": None,
    "_l": None,
}
METHOD_MAP = [("fieldlog/**.py", "python"), ("templates/**.html", "jinja2")]


def extracted_messages() -> set[str]:
    """Every msgid in the code and templates (plural forms as their singular; "context|msgid")."""
    found: set[str] = set()
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        str(ROOT), METHOD_MAP, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.add(_key(context, msgid))
    return found


def _key(context: str | None, msgid: str) -> str:
    """A msgid, prefixed with its context (pgettext) when it has one: "tab|Log"."""
    return f"{context}|{msgid}" if context else msgid


def translated_messages() -> dict[str, str]:
    """msgid → Japanese msgstr for every non-fuzzy entry with a translation."""
    with CATALOGUE.open("rb") as handle:
        catalog = read_po(handle, locale="ja")
    out: dict[str, str] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        msgstr = message.string[0] if isinstance(message.string, tuple) else message.string
        if msgstr:
            out[_key(message.context, msgid)] = msgstr
    return out


def duplicate_msgids() -> list[str]:
    """msgids that appear more than once in the catalogue (only one of them would be used)."""
    seen: set[tuple[str | None, str]] = set()
    duplicates: list[str] = []
    context: str | None = None
    for line in CATALOGUE.read_text(encoding="utf-8").splitlines():
        if line.startswith("msgctxt "):
            context = line[8:]
        elif line.startswith("msgid "):
            key = (context, line[6:])
            context = None
            if key[1] != '""' and key in seen:
                duplicates.append(key[1])
            seen.add(key)
    return duplicates


def missing_translations() -> list[str]:
    """msgids used in the code that have no Japanese translation yet, sorted."""
    return sorted(extracted_messages() - set(translated_messages()))
