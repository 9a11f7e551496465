"""Cell values as Japanese spreadsheets hold them: era dates, serial dates, ¥1,000, △500, カナ."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from ..present import limit_messages
from ..rules import limits
from ..rules.periods import MAX_YEAR, MIN_YEAR
from ..rules.text import clean, numeric, reading

# First day of each era; year 1 (元年) of an era is the Gregorian year of that day.
ERAS = {
    "令和": date(2019, 5, 1),
    "平成": date(1989, 1, 8),
    "昭和": date(1926, 12, 25),
    "大正": date(1912, 7, 30),
    "明治": date(1868, 1, 25),
}
ERA_LETTERS = {"R": "令和", "H": "平成", "S": "昭和", "T": "大正", "M": "明治"}
EXCEL_EPOCH = date(1899, 12, 30)
# Excel serials from 1950 to 2100: anything else numeric is not taken for a date.
SERIAL_RANGE = (18264, 73051)

_ERA_DATE = re.compile(
    r"^(令和|平成|昭和|大正|明治|[RHSTM])\s*(\d{1,2}|元)\s*[年./\-]\s*(\d{1,2})\s*[月./\-]\s*(\d{1,2})\s*日?$",
    re.IGNORECASE,
)
_WESTERN_DATE = re.compile(r"^(\d{4})\s*[年./\-]\s*(\d{1,2})\s*[月./\-]\s*(\d{1,2})\s*日?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TIME_SUFFIX = re.compile(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
_NEGATIVE_MARKS = ("-", "−", "△", "▲", "ー")
_FORMULA_STARTS = ("=", "+", "-", "@")


class CellError(ValueError):
    """A cell that cannot be read; the message is a lazy translation for the report."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


def text(value: Any) -> str:
    """A cell as trimmed text with width forms folded; Excel's 1001.0 loses its '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    cleaned = clean(str(value))
    if cleaned.startswith("'") and cleaned[1:2] in _FORMULA_STARTS:
        return cleaned[1:]  # our own export's guard against formula injection
    return cleaned


def _nfkc(value: Any) -> str:
    cleaned = text(value)
    return cleaned if cleaned.isascii() else unicodedata.normalize("NFKC", cleaned)


def kana(value: Any) -> str:
    """A reading cell as stored (``fieldlog.rules.text.reading``), whatever type the cell held."""
    return reading(text(value))


def _serial(number: float) -> date:
    if not SERIAL_RANGE[0] <= number <= SERIAL_RANGE[1]:
        raise CellError(_l("Not a date."))
    return EXCEL_EPOCH + timedelta(days=int(number))


def parse_date(value: Any) -> date:
    """ISO, 2024/4/1, 2024年4月1日, 20240401, 令和6年4月1日, R6.4.1, H31/4/30, Excel serials."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _serial(value)
    raw = _nfkc(value)
    if len(raw) == 10 and raw[4] == "-":
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raw = _TIME_SUFFIX.sub("", raw)
    if not raw:
        raise CellError(_l("This field is required."))
    try:
        if match := _ERA_DATE.match(raw):
            era = ERA_LETTERS.get(match.group(1).upper(), match.group(1))
            start = ERAS[era]
            year = 1 if match.group(2) == "元" else int(match.group(2))
            day = date(start.year + year - 1, int(match.group(3)), int(match.group(4)))
            if day < start:
                raise CellError(_l("This date is before the start of the era."))
            return day
        if match := _WESTERN_DATE.match(raw) or _COMPACT_DATE.match(raw):
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if re.fullmatch(r"\d+(\.\d+)?", raw):
            return _serial(float(raw))
    except ValueError as exc:
        if isinstance(exc, CellError):
            raise
        raise CellError(_l("This date does not exist.")) from None
    raise CellError(_l("Not a date (use 2024-04-01, 2024/4/1 or 令和6年4月1日)."))


def parse_amount(value: Any, *, required: bool = True) -> int | None:
    """Whole yen within ±limits.MAX_AMOUNT; the sign is the caller's rule (returns may be < 0)."""
    number = _amount(value, required=required)
    if number is not None and abs(number) > limits.MAX_AMOUNT:
        raise CellError(limit_messages.amount_error(abs(number)))
    return number


def _amount(value: Any, *, required: bool) -> int | None:
    """1,000 / ¥1,000 / 1000円 / full-width digits; returns with -, △, ▲ or (…)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise CellError(_l("Use a whole number of yen."))
        return int(value)
    raw = numeric(text(value))
    if len(raw) > 40:  # longer than any amount in range, however written: never int() it
        raise CellError(limit_messages.amount_error(limits.MAX_AMOUNT + 1))
    plain = limits.whole_number(raw)  # the one reader of typed integers
    if plain is not None:
        return plain
    if not raw:
        if required:
            raise CellError(_l("This field is required."))
        return None
    negative = False
    raw = raw.replace(",", "").replace("¥", "").replace("\\", "").replace("円", "").strip()
    if raw.startswith("(") and raw.endswith(")"):
        negative, raw = True, raw[1:-1].strip()
    if raw.startswith(_NEGATIVE_MARKS):
        negative, raw = True, raw[1:].strip()
    raw = raw.removeprefix("+")
    try:
        number = Decimal(raw)
    except InvalidOperation:
        number = Decimal("NaN")
    if number.is_nan():
        raise CellError(_l("Not an amount (use digits, e.g. 12,000 or △500)."))
    if not number.is_finite() or abs(number) > limits.MAX_AMOUNT:
        raise CellError(limit_messages.amount_error(limits.MAX_AMOUNT + 1))
    if number != number.to_integral_value():
        raise CellError(_l("Use a whole number of yen."))
    return -int(number) if negative else int(number)


def parse_int(value: Any) -> int | None:
    """A positive whole number, or None for an empty cell (days of a visit cycle)."""
    raw = numeric(text(value)).removesuffix("日").strip()
    if not raw:
        return None
    try:
        number = Decimal(raw)
    except InvalidOperation:
        raise CellError(_l("Enter a whole number of days.")) from None
    if not number.is_finite() or number != number.to_integral_value() or number <= 0:
        raise CellError(_l("Enter a whole number of days."))
    if number > limits.MAX_CYCLE_DAYS:
        raise CellError(_l("At most %(n)s days.", n=format(limits.MAX_CYCLE_DAYS, ",")))
    return int(number)


ROLE_WORDS = {
    "rep": "rep",
    "営業": "rep",
    "営業担当": "rep",
    "担当者": "rep",
    "営業員": "rep",
    "manager": "manager",
    "支店長": "manager",
    "マネージャー": "manager",
    "マネジャー": "manager",
    "管理者": "manager",
    "owner": "owner",
    "経営者": "owner",
    "社長": "owner",
    "オーナー": "owner",
    "役員": "owner",
}


def parse_role(value: Any) -> str:
    """rep / manager / owner, also 営業, 支店長, 経営者 and their common variants."""
    role = ROLE_WORDS.get(text(value).casefold())
    if role is None:
        raise CellError(_l("Role must be rep, manager or owner (営業, 支店長, 経営者)."))
    return role


def parse_rank(value: Any) -> str:
    """A, B or C (full-width or lower case too); an empty cell is B."""
    rank = text(value).upper() or "B"
    if rank not in ("A", "B", "C"):
        raise CellError(_l("Rank must be A, B or C."))
    return rank


_MONTH = re.compile(r"^(\d{4})\s*[年./\-]\s*(\d{1,2})\s*月?$")


def parse_month(value: Any) -> date:
    """A month as its first day: 2026-11, 2026/11, 2026年11月, or a date in it (2026/11/1)."""
    if isinstance(value, datetime):
        return value.date().replace(day=1)
    if isinstance(value, date):
        return value.replace(day=1)
    raw = _nfkc(value)
    if not raw:
        raise CellError(_l("This field is required."))
    if match := _MONTH.match(raw):
        year, month = int(match.group(1)), int(match.group(2))
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise CellError(_l("The year must be from %(lo)s to %(hi)s.", lo=MIN_YEAR, hi=MAX_YEAR))
        if not 1 <= month <= 12:
            raise CellError(_l("There is no month %(month)s (use 1 to 12).", month=month))
        return date(year, month, 1)
    try:
        return parse_date(raw).replace(day=1)
    except CellError:
        raise CellError(_l("Not a month (use 2026-11 or 2026年11月).")) from None


# A date with a time of day: "2026/11/16 10:30", "2026-11-16T10:30:00", "令和8年11月16日 10時30分".
_DATE_AND_TIME = re.compile(
    r"^(?P<day>.+?)[\sT]+(?P<h>\d{1,2})\s*[:時]\s*(?P<m>\d{1,2})\s*分?"
    r"(?:\s*[:]\s*(?P<s>\d{1,2})(?:\.\d+)?)?$"
)
NOON = time(12, 0)


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


def parse_datetime(value: Any, tz: ZoneInfo) -> tuple[datetime, bool]:
    """A visit's date and time, and whether the time of day was given (False for a bare date).

    A bare date means 12:00, and a time without offset is ``tz``'s. Excel keeps a date cell as
    that day's midnight, so a workbook datetime at exactly 00:00 is read as a bare date. An ISO
    8601 value with an offset keeps its offset.
    """
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value, True
        if value.time() == time(0, 0):
            return _local(value.date(), NOON, tz), False
        return value.replace(tzinfo=tz), True
    if isinstance(value, date):
        return _local(value, NOON, tz), False
    if isinstance(value, int | float) and not isinstance(value, bool):
        day = _serial(value)
        fraction = value - int(value)
        if not fraction:
            return _local(day, NOON, tz), False
        seconds = round(fraction * 86400)
        return _local(day, time(0, 0), tz) + timedelta(seconds=seconds), True
    raw = _nfkc(value)
    if not raw:
        raise CellError(_l("This field is required."))
    if len(raw) > 10 and raw[4] == "-" and raw[10] in "T ":
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            return (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)), True
    if match := _DATE_AND_TIME.match(raw):
        day = parse_date(match.group("day"))
        try:
            at = time(int(match.group("h")), int(match.group("m")), int(match.group("s") or 0))
        except ValueError:
            raise CellError(_l("This time does not exist.")) from None
        return _local(day, at, tz), True
    return _local(parse_date(raw), NOON, tz), False


def fold_word(value: Any) -> str:
    """A cell folded for matching a word list: NFKC, case-folded, without spaces."""
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", text(value)).casefold())


YES_NO = {
    **dict.fromkeys(("yes", "y", "true", "1", "はい", "○", "〇", "◯", "有", "あり", "済"), True),
    **dict.fromkeys(("no", "n", "false", "0", "いいえ", "×", "✕", "無", "なし", "未"), False),
}


def parse_yes_no(value: Any) -> bool:
    """yes/no, はい/いいえ, ○/×, 1/0, true/false (and あり/なし); an empty cell is an error."""
    if isinstance(value, bool):
        return value
    word = fold_word(value)
    if not word:
        raise CellError(_l("This field is required."))
    if word not in YES_NO:
        raise CellError(_l("Use yes or no (はい/いいえ, ○/×, 1/0)."))
    return YES_NO[word]


PROPOSAL_STATUS_WORDS = {
    **dict.fromkeys(("open", "商談中", "提案中", "検討中", "継続", "未決"), "open"),
    **dict.fromkeys(("won", "受注", "成約"), "won"),
    **dict.fromkeys(("lost", "失注", "不成約", "見送り"), "lost"),
}


def parse_proposal_status(value: Any) -> str | None:
    """open / won / lost, also 受注 / 失注 / 商談中; None for an empty cell."""
    word = fold_word(value)
    if not word:
        return None
    status = PROPOSAL_STATUS_WORDS.get(word)
    if status is None:
        raise CellError(_l("Status must be open, won or lost (受注, 失注)."))
    return status


PROPOSAL_KIND_WORDS = {
    **dict.fromkeys(("upsell", "up-sell", "アップセル"), "upsell"),
    **dict.fromkeys(("cross_sell", "cross-sell", "crosssell", "クロスセル"), "cross_sell"),
    **dict.fromkeys(("other", "その他"), "other"),
}


def parse_proposal_kind(value: Any) -> str | None:
    """upsell / cross_sell / other (アップセル, クロスセル, その他); None: derive it."""
    word = fold_word(value)
    if not word:
        return None
    kind = PROPOSAL_KIND_WORDS.get(word)
    if kind is None:
        raise CellError(_l("Kind must be upsell, cross_sell or other."))
    return kind
