"""One rule per kind of value: the ranges every entry point (API, forms, imports, admin) applies.

docs/limits.md lists each limit with its error; the errors' words are said by
``fieldlog/present/limit_messages.py`` (rules import neither Flask nor Babel). Text is cleaned
here once, so whatever is stored can be written to HTML, PDF, CSV, XLSX and mail headers.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from .text import clean_text

__all__ = ["clean_text"]  # the text rule lives with the other pure text rules

# Free text (notes, actions, review answers): characters after trimming.
MAX_TEXT = 2000
# One-line names (customer, branch, user, category): the columns' String(200).
MAX_NAME = 200
# A visit purpose's label, each language: the columns' String(100).
MAX_LABEL = 100
# A customer's street address: the column's String(500).
MAX_ADDRESS = 500
# The company's own "why" for one KPI (settings).
MAX_WHY = 500
# Whole yen, either sign for sales lines (returns), 0 and up for proposals and budgets.
MAX_AMOUNT = 99_999_999_999
# A customer's visit cycle in days.
MAX_CYCLE_DAYS = 3650
# Row ids and page numbers: PostgreSQL's integer column; beyond it nothing can exist (404).
MAX_ID = 2**31 - 1
# Digits of a whole number typed into a form or query string: more than any limit here needs
# (so a too large number is still read, and refused by its limit), far fewer than int()'s own.
MAX_DIGITS = 40
# Visits: not before 2000, at most a day ahead of the server's clock.
EARLIEST_DAY = date(2000, 1, 1)
VISIT_AHEAD = timedelta(hours=24)
# Due dates, plan dates and hypothesis starts: within this many days of the visit or today.
PLAN_DAYS = 3 * 366
# A planned visit, or a follow-up moved to a new date: within a year of today.
MAX_DAYS_AWAY = 365
# JSON bodies: nesting depth and items in any one array.
MAX_JSON_DEPTH = 16
MAX_JSON_ITEMS = 1000
# A JSON or url-encoded form body's bytes (neither carries a file): every API call sends one
# small object and every form a few fields (a visit with its 2,000-character texts is a few
# KB); MAX_CONTENT_LENGTH, far larger, is for file uploads (multipart).
MAX_BODY_BYTES = 1 << 20
# Follow-ups one visit may tick off.
MAX_COMPLETES = 50
# XLSX uploads, checked before openpyxl opens them: what the zip unpacks to, how much one
# member may be compressed (ordinary sheets ~10:1, a zip bomb 1000:1), how many members.
MAX_XLSX_UNPACKED = 256 << 20
MAX_XLSX_RATIO = 200
MAX_XLSX_MEMBERS = 1000
# One cell of an imported file: Excel's own limit.
MAX_CELL = 32_767
# ISO weeks one KPI export may hold when a date range chooses them (five years): each week is
# a row per KPI and per rep, and a range from 1900 would tie a worker up for minutes.
MAX_EXPORT_WEEKS = 260
# Imports one user may have validating or importing at the same time.
MAX_RUNNING_IMPORTS = 2
# Passwords: at least this long, at most this long (hashing a megabyte is a denial of service).
MIN_PASSWORD = 8
MAX_PASSWORD = 256


def clean_any(value: Any) -> Any:
    """clean_text for strings; any other value is returned as it is."""
    return clean_text(value) if isinstance(value, str) else value


def text_too_long(value: str, *, limit: int = MAX_TEXT) -> bool:
    """Text over its limit of characters (fieldlog/present/limit_messages.py words it)."""
    return len(value) > limit


def amount_problem(value: int, *, negative: bool = False) -> str | None:
    """An amount of yen out of range: "negative" (where returns are not allowed), "too_large"
    (beyond ±MAX_AMOUNT), or None."""
    if value < 0 and not negative:
        return "negative"
    if abs(value) > MAX_AMOUNT:
        return "too_large"
    return None


def visit_time_problem(value: datetime, *, now: datetime) -> str | None:
    """A visit time outside the window 2000 … now + 24 h: "ahead", "too_early", or None."""
    if value > now + VISIT_AHEAD:
        return "ahead"
    if value.date() < EARLIEST_DAY:
        return "too_early"
    return None


def plan_day_too_far(value: date, *, around: date) -> bool:
    """A due or start date more than PLAN_DAYS from ``around``."""
    return abs((value - around).days) > PLAN_DAYS


def id_in_range(value: Any) -> bool:
    """Whether a number can be a row id (1 … MAX_ID): larger ones cannot exist."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def whole_number(raw: str | None) -> int | None:
    """Form or query text as a whole number: ASCII digits 0-9 only, after trimming, with an
    optional leading "-", at most MAX_DIGITS of them; None for anything else.

    The one reader of typed integers (docs/limits.md): ``str.isdigit()`` is no test for
    ``int()``, as it is true for "²", which int() refuses, and int() refuses more than 4,300 digits.
    """
    text = (raw or "").strip()
    digits = text.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > MAX_DIGITS:
        return None
    return int(text)


def row_id(raw: str | None) -> int | None:
    """Form or query text as a row id (ASCII digits, 1 … MAX_ID); None when it cannot be one."""
    number = whole_number(raw)
    return number if id_in_range(number) else None


def page_number(raw: str | None) -> int:
    """A ?page= value as 1 … MAX_ID; anything else is page 1."""
    number = whole_number(raw)
    return 1 if number is None else min(max(number, 1), MAX_ID)


class JsonTooDeep(ValueError):
    """A JSON body nested deeper, or with a longer array, than the limits allow."""


def check_json(value: Any) -> Any:
    """A parsed JSON value within MAX_JSON_DEPTH and MAX_JSON_ITEMS, its strings cleaned.

    Walks without recursion, so no body can raise RecursionError here.
    """
    root = [value]
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise JsonTooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(container, list):
            if len(container) > MAX_JSON_ITEMS:
                raise JsonTooDeep(f"a JSON array longer than {MAX_JSON_ITEMS} items")
            for i, item in enumerate(container):
                if isinstance(item, str):
                    container[i] = clean_text(item)
                elif isinstance(item, list | dict):
                    stack.append((item, depth + 1))
        else:
            for key in list(container):
                item = container[key]
                clean_key = clean_text(key)
                if clean_key != key:
                    del container[key]
                if isinstance(item, str):
                    item = clean_text(item)
                elif isinstance(item, list | dict):
                    stack.append((item, depth + 1))
                container[clean_key] = item
    return root[0]
