"""Value, target and last year for each KPI: how a KPI target and a sales budget read alike.

``target`` is the KPI's target in force (``kpi.targets``); for ``sales_amount`` it is the sales
budget of the period and scope (``kpi.budgets``), and the ``sales_amount`` KPI target only where
no budget is set. ``last_year`` is the same KPI, scope and kind of period a year earlier
(``Period.last_year``: the same month, or the same ISO week of the previous ISO year), read as
the contract defines it: 0 visits a year ago is last year's ``visit_count`` even where the
visit record began later (docs/kgi.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..rules.kpi_catalogue import CATALOGUE, KPI_KEYS
from ..rules.periods import Period
from .budgets import budget_for, rep_budgets
from .rollup import KpiValue, trend, trend_by
from .scope import Scope
from .targets import targets_for


@dataclass(frozen=True)
class Reading:
    """One KPI of one period: the figure, its target (or budget) and last year's figure."""

    figure: KpiValue
    target: float | int | None
    last_year: float | int | None

    def as_dict(self) -> dict[str, float | int | None]:
        """The figure's keys, plus ``target`` and ``last_year`` where they exist."""
        body = self.figure.as_dict()
        if self.target is not None:
            body["target"] = self.target
        if self.last_year is not None:
            body["last_year"] = self.last_year
        return body


def read(
    session: Session, scope: Scope, period: Period, *, today: date, tz: ZoneInfo
) -> dict[str, Reading]:
    """Every KPI of a scope and period with its target and last year's value (2 roll-ups)."""
    last = period.last_year()
    now, before = trend(session, scope, [period, last], today=today, tz=tz)
    targets = targets_for(session, KPI_KEYS, scope, period)
    budget = budget_for(session, scope, period)
    if budget is not None:
        targets["sales_amount"] = budget
    return {
        key: Reading(now[key], _whole(key, targets[key]), before[key].value) for key in KPI_KEYS
    }


def _whole(key: str, value: float | None) -> float | int | None:
    """Targets are stored as floats: a count or yen target reads as the integer it is."""
    if value is not None and CATALOGUE[key].unit != "rate":
        return int(value)
    return value


# ---- 予実: month to date against the budget, last year and the landing estimate ----------


@dataclass(frozen=True)
class ForecastWeek:
    week: str
    value: int
    interval: tuple[int, int]


@dataclass(frozen=True)
class MonthToDate:
    """One scope's month so far: actual, budget, progress against time, last year, landing.

    ``progress`` (進捗率) is actual ÷ budget; ``elapsed`` (経過率) the share of the month's
    calendar days up to ``as_of``; ``last_year`` the sales of the same dates a year earlier
    and ``yoy`` (前年比) actual ÷ last year. ``landing`` is actual + the forecast of the rest of
    the month (each remaining day takes 1/7 of its week's forecast; the days left of the week
    of ``as_of`` take the first forecast week's), with ``landing_interval`` the same sum of the
    80 % bounds, wider than an 80 % interval of the sum (docs/kgi.md). No forecast (too little
    history, or a rep): ``landing`` is None and ``forecast_note`` says why.

    ``state`` says which of three a page shows (docs/kgi.md): ``running`` (days of the month
    lie after ``as_of``, or ``as_of`` is the month's last day and that is ``today``: the month
    so far, and its landing while days are left), ``whole`` (the month is over: its actual,
    with no forecast, since no day is left to forecast) and
    ``ahead`` (a month that has not begun: its budget and last year's month, nothing counted).
    """

    month: Period
    as_of: date
    actual: int
    budget: int | None
    progress: float | None
    elapsed: float
    last_year: int
    yoy: float | None
    gross_margin: float | None
    landing: int | None = None
    landing_interval: tuple[int, int] | None = None
    forecast: list[ForecastWeek] | None = None
    history: list[tuple[str, int]] | None = None
    forecast_note: str | None = None
    # While the forecast is computed in the background: the job to poll (docs/kgi.md).
    forecast_job: str | None = None
    # The day the page is read on: the month's last day is not yet the whole month then.
    today: date | None = None

    @property
    def state(self) -> str:
        if self.as_of < self.month.start:
            return "ahead"
        over = self.today is None or self.today > self.month.end
        return "whole" if self.as_of >= self.month.end and over else "running"


def card_month(period: Period, today: date) -> Period:
    """The month whose 予実 a page of ``period`` shows: the month of the day the page reads
    as at (``today``, or the period's end once it is over), or the period's first month when
    it has not begun."""
    return Period.month_of(max(period.start, min(today, period.end)))


def _same_day_last_year(day: date) -> date:
    """The same date a year earlier; 29 February becomes the 28th."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def same_dates_last_year(as_of: date) -> Period:
    """The month to date of ``as_of`` a year earlier: from the 1st to the same date, and to
    the month's end when ``as_of`` is its last day (28 February then takes in the 29th)."""
    month = Period.month_of(as_of)
    before = Period.month_of(_same_day_last_year(month.start))
    end = before.end if as_of == month.end else _same_day_last_year(as_of)
    return Period(before.start, end, "month")


def month_to_date(
    session: Session,
    scope: Scope,
    as_of: date,
    *,
    today: date,
    tz: ZoneInfo,
    month: Period | None = None,
    forecast_weeks: int = 8,
    history_weeks: int = 13,
    cold: Callable[[Scope, date, int], tuple[str, str]] | None = None,
) -> MonthToDate:
    """予実 for the month containing ``as_of``, counting sales up to ``as_of`` (see the class).

    ``month`` (``card_month``) may name a month that begins after ``as_of``: its budget and
    last year's whole month then, nothing counted and no forecast (state ``ahead``). A month
    counted to its last day has no forecast either (state ``whole``).

    With ``cold``, a forecast not computed yet is not waited for: ``cold(scope, as_of, weeks)``
    starts it in the background and returns (the job's id, "computing" or "failed"), which
    the figures carry instead of the landing estimate (a page then shows a placeholder)."""
    from .forecast import TooLittleHistory

    if month is not None and as_of < month.start:
        return _month_ahead(session, scope, month, as_of, today=today, tz=tz)
    month = Period.month_of(as_of)
    so_far = Period(month.start, as_of, "month")
    before = same_dates_last_year(as_of)
    keys = ["sales_amount", "gross_margin_rate"]
    now, last = trend(session, scope, [so_far, before], keys=keys, today=today, tz=tz)
    actual = int(now["sales_amount"].value or 0)
    last_year = int(last["sales_amount"].value or 0)
    budget = budget_for(session, scope, month)
    figures = MonthToDate(
        month=month,
        as_of=as_of,
        actual=actual,
        budget=budget,
        progress=actual / budget if budget else None,
        elapsed=((as_of - month.start).days + 1) / month.days,
        last_year=last_year,
        yoy=actual / last_year if last_year > 0 else None,
        gross_margin=now["gross_margin_rate"].value,
        today=today,
    )
    # No day of the month is left after as_of to forecast: counted to its end (whole), or
    # read on its last day (running: that day's sales are still coming in, no landing).
    if scope.kind == "rep" or forecast_weeks < 1 or as_of >= month.end:
        return figures
    if cold is not None and cached_forecast(session, scope, as_of, forecast_weeks) is None:
        job, state = cold(scope, as_of, forecast_weeks)
        return MonthToDate(**{**figures.__dict__, "forecast_note": state, "forecast_job": job})
    try:
        result = _cached_forecast(session, scope, as_of, forecast_weeks, tz=tz)
    except TooLittleHistory as exc:
        note = f"too_little_history:{exc.args[0]}"
        return MonthToDate(**{**figures.__dict__, "forecast_note": note})
    weeks = [ForecastWeek(w.week, w.value, w.interval) for w in result.weeks]
    landing = [float(actual), float(actual), float(actual)]
    by_week = {Period.parse(w.week).start: w for w in weeks}
    day = as_of + timedelta(days=1)
    while day <= month.end:
        week = by_week.get(Period.week_of(day).start) or weeks[0]
        for k, v in enumerate((week.value, *week.interval)):
            landing[k] += v / 7
        day += timedelta(days=1)
    last_week = Period.week_of(as_of).previous()
    past = last_week.trailing(history_weeks)
    series = trend(session, scope, past, keys=["sales_amount"], today=today, tz=tz)
    return MonthToDate(
        **{
            **figures.__dict__,
            "landing": round(landing[0]),
            "landing_interval": (round(landing[1]), round(landing[2])),
            "forecast": weeks,
            "history": [
                (p.label, int(s["sales_amount"].value or 0))
                for p, s in zip(past, series, strict=True)
            ],
            "forecast_note": result.method,
        }
    )


def _month_ahead(
    session: Session, scope: Scope, month: Period, as_of: date, *, today: date, tz: ZoneInfo
) -> MonthToDate:
    """A month that has not begun on ``as_of``: its budget and last year's whole month."""
    (last,) = trend(session, scope, [month.last_year()], keys=["sales_amount"], today=today, tz=tz)
    return MonthToDate(
        month=month,
        as_of=as_of,
        actual=0,
        budget=budget_for(session, scope, month),
        progress=None,
        elapsed=0.0,
        last_year=int(last["sales_amount"].value or 0),
        yoy=None,
        gross_margin=None,
    )


# Forecasts by (scope, as_of, weeks, what the data looked like): a page shown again is not
# refitted (a fit reads every proposal; ~5 s CPU at 300,000 proposals). In front of the
# forecasts kept in the database for every process (``kpi.forecast_cache``, docs/kgi.md).
_FORECASTS: dict[tuple[Any, ...], Any] = {}
_FORECASTS_KEPT = 64


class ForecastKey(NamedTuple):
    """What a forecast depends on: the scope, day and horizon, and the data's version.

    ``url`` names the database (password masked): the fits are kept per process, and a process
    may serve several databases (tests, benchmarks)."""

    url: str
    scope: Scope
    as_of: date
    weeks: int
    version: str


def data_version(session: Session) -> str:
    """The data's version a forecast depends on, as one string that compares exactly on
    SQLite and PostgreSQL: the newest sales line, import and proposal, and the last proposal
    change (``s…/i…/p…/u…``, ``-`` for none)."""
    from ..models import ImportBatch, Proposal, SalesLine

    sale, batch, proposal, changed = session.execute(
        select(
            select(func.max(SalesLine.id)).scalar_subquery(),
            select(func.max(ImportBatch.id)).scalar_subquery(),
            select(func.max(Proposal.id)).scalar_subquery(),
            select(func.max(Proposal.updated_at)).scalar_subquery(),
        )
    ).one()
    marks = [sale, batch, proposal, changed.isoformat() if changed is not None else None]
    return "/".join(f"{k}{'-' if v is None else v}" for k, v in zip("sipu", marks, strict=True))


def forecast_key(session: Session, scope: Scope, as_of: date, weeks: int) -> ForecastKey:
    """The key of the forecast a page asks for, with the data's version now."""
    # A session bound to a connection names its engine's URL.
    bind = session.get_bind()
    url = getattr(bind, "engine", bind).url.render_as_string(hide_password=True)
    return ForecastKey(url, scope, as_of, weeks, data_version(session))


def _remember(key: ForecastKey, found: Any) -> None:
    if len(_FORECASTS) >= _FORECASTS_KEPT:
        _FORECASTS.pop(next(iter(_FORECASTS)))
    _FORECASTS[key] = found


def kept_forecast(session: Session, key: ForecastKey) -> Any:
    """The forecast (or its TooLittleHistory) of this key from this process's memory, else
    from the kept ones (then remembered); None when neither has it. Never computes."""
    from .forecast_cache import kept

    found = _FORECASTS.get(key)
    if found is None:
        found = kept(session, key.scope, key.as_of, key.weeks, key.version)
        if found is not None:
            _remember(key, found)
    return found


def cached_forecast(session: Session, scope: Scope, as_of: date, weeks: int) -> Any:
    """The forecast (or its TooLittleHistory) if computed for this version of the data, in
    this process or kept for all, else None; never computes."""
    return kept_forecast(session, forecast_key(session, scope, as_of, weeks))


def fit_forecast(
    session: Session,
    scope: Scope,
    as_of: date,
    weeks: int,
    *,
    tz: ZoneInfo,
    progress: Callable[[float], None] | None = None,
) -> tuple[ForecastKey, Any]:
    """Fit the forecast now and remember it in this process: the key read in the same
    transaction as the fit's data (on SQLite, the same snapshot) and the ``Forecast`` or
    ``TooLittleHistory``. ``progress`` hears the share done (history read, leading KPIs
    found, fitted)."""
    from .forecast import forecast
    from .forecast_data import add_leading_kpis, load_history

    key = forecast_key(session, scope, as_of, weeks)
    step = progress or (lambda share: None)
    try:
        history = load_history(session, scope, as_of)
        step(0.1)
        add_leading_kpis(session, history, scope, as_of, tz=tz)
        step(0.6)
        found: Any = forecast(history, as_of, weeks)
    except ValueError as exc:  # TooLittleHistory: an answer too, kept like a forecast
        found = exc
    _remember(key, found)
    step(1.0)
    return key, found


def _cached_forecast(
    session: Session,
    scope: Scope,
    as_of: date,
    weeks: int,
    *,
    tz: ZoneInfo,
) -> Any:
    """``forecast.forecast`` for a scope, refitted only when sales, imports or proposals
    changed: from this process's memory, else the kept forecasts, else fitted here (and kept in
    this process only: a page that computes in the request writes nothing, docs/kgi.md).
    Raises the TooLittleHistory when that is the answer."""
    found = kept_forecast(session, forecast_key(session, scope, as_of, weeks))
    if found is None:
        _key, found = fit_forecast(session, scope, as_of, weeks, tz=tz)
    if isinstance(found, Exception):
        raise found
    return found


@dataclass(frozen=True)
class RepKgi:
    """One salesperson's sales by their customers: the period's, and the month's 予実."""

    user_id: int
    sales: int
    gross_margin: float | None
    month_actual: int
    budget: int | None
    progress: float | None
    last_year: int
    yoy: float | None


def reps_kgi(
    session: Session, branch_id: int, period: Period, as_of: date, *, today: date, tz: ZoneInfo
) -> dict[int, RepKgi]:
    """Per rep of a branch: sales and gross margin of ``period`` by the customer's rep, and
    the month-to-date against the rep's budget and last year (as ``month_to_date``)."""
    month = Period.month_of(as_of)
    so_far = Period(month.start, as_of, "month")
    before = same_dates_last_year(as_of)
    keys = ["sales_amount", "gross_margin_rate"]
    by_rep = trend_by(
        session, "rep", [period, so_far, before], branch_id=branch_id, keys=keys, today=today, tz=tz
    )
    budgets = rep_budgets(session, month.start)
    out = {}
    for user_id, (now, mtd, last) in by_rep.items():
        actual = int(mtd["sales_amount"].value or 0)
        last_year = int(last["sales_amount"].value or 0)
        budget = budgets.get(user_id)
        out[user_id] = RepKgi(
            user_id=user_id,
            sales=int(now["sales_amount"].value or 0),
            gross_margin=now["gross_margin_rate"].value,
            month_actual=actual,
            budget=budget,
            progress=actual / budget if budget else None,
            last_year=last_year,
            yoy=actual / last_year if last_year > 0 else None,
        )
    return out
