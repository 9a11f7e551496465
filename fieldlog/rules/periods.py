"""ISO weeks and calendar months in the company timezone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
# Exactly YYYY-MM-DD: date.fromisoformat also reads 20261123, 2026-W48 and 2026-W48-1, which the
# contract's date fields are not.
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# Years a period may name: far enough for any business history, and far enough from the ends of
# ``date`` that a trend, a 730-day deepening window or the next period never overflows.
MIN_YEAR, MAX_YEAR = 1900, 2999


def in_range(value: date) -> bool:
    """Whether a date, or an instant as written (any offset), lies in the years MIN_YEAR …
    MAX_YEAR: the one bound for dates and instants from input. Outside it they are refused
    (422, 400, exit 2), as no week, month, window or timezone conversion near the ends of
    ``date`` can be computed."""
    return MIN_YEAR <= value.year <= MAX_YEAR


def parse_day(text: str) -> date | None:
    """A YYYY-MM-DD text (spaces around it allowed) as a date; None when it is not one."""
    text = text.strip()
    if not _DAY.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


class RangeError(ValueError):
    """A date range that cannot be used, on its ``field`` ("from" or "to"): the ``problem`` is
    "not_a_date", "year" (outside MIN_YEAR … MAX_YEAR), "reversed" (from after to),
    "undated" (the export has no date to filter by) or "too_long" (more weeks than one KPI
    export holds). Worded by present/limit_messages.day_range_error."""

    def __init__(self, field: str, problem: str, value: str = "") -> None:
        super().__init__(f"{field}: {problem} {value}".strip())
        self.field, self.problem, self.value = field, problem, value


@dataclass(frozen=True)
class DayRange:
    """Local dates from ``start`` to ``end``, both included; either end may be open (None).

    The exports' optional range (docs/contract.md); its two days are checked as every date
    from input is: the years MIN_YEAR … MAX_YEAR, and ``start`` not after ``end``.
    """

    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        for field, day in (("from", self.start), ("to", self.end)):
            if day is not None and not in_range(day):
                raise RangeError(field, "year", day.isoformat())
        if self.start is not None and self.end is not None and self.start > self.end:
            raise RangeError("to", "reversed", self.end.isoformat())

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> DayRange:
        """?from=YYYY-MM-DD&to=YYYY-MM-DD, each optional (absent or blank: open); RangeError
        naming the first field that cannot be read."""
        days = []
        for field, text in (("from", start), ("to", end)):
            text = (text or "").strip()
            day = parse_day(text) if text else None
            if text and day is None:
                raise RangeError(field, "not_a_date", text)
            days.append(day)
        return cls(*days)

    def __bool__(self) -> bool:
        return self.start is not None or self.end is not None

    @property
    def label(self) -> str:
        """For a file name: "2026-11-01_2026-11-30", "from-2026-11-01", "until-2026-11-30"."""
        if self.start and self.end:
            return f"{self.start.isoformat()}_{self.end.isoformat()}"
        if self.start:
            return f"from-{self.start.isoformat()}"
        return f"until-{self.end.isoformat()}" if self.end else ""

    def utc_bounds(self, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """[start, end] as UTC instants [from, before): local midnight of ``start``, local
        midnight after ``end``; None for an open end."""
        after = None if self.end is None else local_midnight_utc(self.end + timedelta(days=1), tz)
        return (None if self.start is None else local_midnight_utc(self.start, tz)), after


@dataclass(frozen=True, order=True)
class Period:
    """A closed range of local dates: one ISO week (Monday–Sunday) or one calendar month."""

    start: date
    end: date
    kind: Literal["week", "month"]

    @classmethod
    def parse(cls, text: str) -> Period:
        """Read "2026-W47" or "2026-11"; raises ValueError with a readable message."""
        text = text.strip()
        m = _WEEK.match(text) or _MONTH.match(text)
        if m and not MIN_YEAR <= int(m[1]) <= MAX_YEAR:
            raise ValueError(f"{text!r}: the year must be from {MIN_YEAR} to {MAX_YEAR}")
        if m := _WEEK.match(text):
            year, week = int(m[1]), int(m[2])
            try:
                start = date.fromisocalendar(year, week, 1)
            except ValueError:
                raise ValueError(f"{text!r} is not an ISO week") from None
            return cls.week_of(start)
        if m := _MONTH.match(text):
            year, month = int(m[1]), int(m[2])
            if not 1 <= month <= 12:
                raise ValueError(f"{text!r} is not a month")
            return cls.month_of(date(year, month, 1))
        raise ValueError(f"{text!r} is neither a week like 2026-W47 nor a month like 2026-11")

    @classmethod
    def week_of(cls, day: date) -> Period:
        """The ISO week containing a date."""
        start = day - timedelta(days=day.weekday())
        return cls(start, start + timedelta(days=6), "week")

    @classmethod
    def month_of(cls, day: date) -> Period:
        """The calendar month containing a date."""
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return cls(start, following - timedelta(days=1), "month")

    @classmethod
    def of(cls, kind: str, day: date) -> Period:
        """The week or month containing a date."""
        return cls.week_of(day) if kind == "week" else cls.month_of(day)

    @property
    def label(self) -> str:
        """ "2026-W47" for a week, "2026-11" for a month."""
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    def __str__(self) -> str:
        return self.label

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def shift(self, n: int) -> Period:
        """The period n steps later (negative: earlier)."""
        if self.kind == "week":
            return Period.week_of(self.start + timedelta(weeks=n))
        index = self.start.year * 12 + self.start.month - 1 + n
        return Period.month_of(date(index // 12, index % 12 + 1, 1))

    def previous(self) -> Period:
        return self.shift(-1)

    def next(self) -> Period:
        return self.shift(1)

    def last_year(self) -> Period:
        """The same period a year earlier: the same month, or the same ISO week number.

        A week 53 whose previous ISO year has only 52 weeks maps to that year's week 52
        (docs/kgi.md), so every week has exactly one comparison week.
        """
        if self.kind == "month":
            return Period.month_of(self.start.replace(year=self.start.year - 1))
        year, week, _ = self.start.isocalendar()
        weeks_last_year = date(year - 1, 12, 28).isocalendar()[1]
        return Period.week_of(date.fromisocalendar(year - 1, min(week, weeks_last_year), 1))

    def trailing(self, n: int) -> list[Period]:
        """The n periods ending with this one, oldest first."""
        return [self.shift(i) for i in range(-n + 1, 1)]

    def trailing_in_range(self, n: int) -> list[Period]:
        """``trailing(n)`` without the periods that begin before MIN_YEAR: a window that is kept
        names its first period, which must parse back (the lead analyses)."""
        return [p for p in self.trailing(n) if p.start.year >= MIN_YEAR]

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def utc_bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) as UTC instants: local midnight of start to local midnight after end."""
        return local_midnight_utc(self.start, tz), local_midnight_utc(
            self.end + timedelta(days=1), tz
        )


def local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which a local date begins."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The local date of an instant (naive instants are taken as UTC)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(tz).date()


def today(tz: ZoneInfo, now: datetime | None = None) -> date:
    """Today's local date, for a given clock."""
    return local_date(now or datetime.now(UTC), tz)


def last_complete_week(tz: ZoneInfo, now: datetime | None = None) -> Period:
    """The ISO week before the current one."""
    return Period.week_of(today(tz, now)).previous()


def from_query(
    week: str | None,
    month: str | None,
    *,
    today: date,
    current: bool = False,
    months: Literal["accepted", "ignored", "refused"] = "accepted",
) -> Period:
    """The period a page asks for with ?week=2026-W47 or ?month=2026-11; ValueError if unreadable.

    No period: the last complete week (with ``current``, the week in progress). A weekly view
    either ignores ``month`` (a page whose picker offers weeks) or refuses it (a download,
    which would otherwise silently be last week's); either way a month in ``week`` is refused.
    """
    week, month = (week or "").strip(), (month or "").strip()
    if months == "refused" and month and not week:
        raise ValueError("this view is weekly: ask for ?week=")
    text = week or (month if months == "accepted" else "")
    if not text:
        this_week = Period.week_of(today)
        return this_week if current else this_week.previous()
    period = Period.parse(text)
    if months != "accepted" and period.kind != "week":
        raise ValueError(f"{text!r} is not an ISO week")
    return period


def week_or_none(text: str | None) -> Period | None:
    """An optional ISO week (a filter): None when absent; ValueError when not a week."""
    if not (text or "").strip():
        return None
    return from_query(text, None, today=date.min, months="refused")
