"""flask kpi …"""

from __future__ import annotations

import json
from typing import Any

import click

from ..app.database import unit_of_work
from ..app.extensions import db
from ..kpi import (
    CATALOGUE,
    KPI_KEYS,
    KpiValue,
    Scope,
    buyers,
    deepening,
    dormancy,
    kgi,
    parse_scope,
    rollup,
    scope_label,
)
from ..kpi.lead import LeadInputError, check_arguments, parse_until
from ..kpi.lead_cache import cached_lead
from ..kpi.scope import KINDS
from ..present import numbers
from ..rules.periods import Period, last_complete_week, today
from ..services.defaults import company_settings
from .options import Day, clock, json_option, period_option, scope_option


@click.group("kpi", help="KPI figures rolled up from the recorded events.")
def group() -> None:
    pass


def _period(text: str) -> Period:
    """--period as a week or month; a usage error naming the option otherwise."""
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None


def _scope(text: str, kinds: tuple[str, ...] = KINDS) -> Scope:
    """--scope as company, branch:CODE or rep:EMAIL (those of ``kinds``); a usage error naming
    the option and only what the command accepts otherwise."""
    try:
        return parse_scope(db.session, text, kinds)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scope") from None


def _format(key: str, figure: KpiValue) -> str:
    shown = numbers.value(figure.value, CATALOGUE[key].unit)
    if figure.denominator is not None:
        shown += f"  ({numbers.fraction(figure.numerator, figure.denominator)})"
    return shown


@group.command("show")
@period_option
@scope_option()
@json_option
def show(period_text: str, scope_text: str, as_json: bool) -> None:
    """Print every KPI of one scope and period, with numerators and denominators."""
    period = _period(period_text)
    scope = _scope(scope_text)
    tz, now = clock()
    label = scope_label(db.session, scope)
    if as_json:
        readings = kgi.read(db.session, scope, period, today=today(tz, now), tz=tz)
        body: dict[str, Any] = {
            "period": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "scope": label,
            "kpis": {key: readings[key].as_dict() for key in KPI_KEYS},
        }
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    figures = rollup(db.session, scope, period, today=today(tz, now), tz=tz)
    click.echo(f"{period.label}  {period.start} – {period.end}  {label}")
    width = max(len(CATALOGUE[k].name_ja) for k in KPI_KEYS) + 2
    for key in KPI_KEYS:
        name = CATALOGUE[key].name_ja
        # Full-width characters take two columns in a terminal.
        pad = width * 2 - sum(2 if ord(ch) > 0x2E7F else 1 for ch in name)
        click.echo(f"{name}{' ' * max(pad, 1)}{_format(key, figures[key])}")


@group.command("health")
@period_option
@scope_option()
@json_option
@click.option(
    "--lang",
    type=click.Choice(["ja", "en"]),
    default="ja",
    show_default=True,
    help="Language of the flags' detail.",
)
def health_command(period_text: str, scope_text: str, as_json: bool, lang: str) -> None:
    """How far a period's numbers can be trusted: entry times, late entries, changed weeks, flags.

    Signals and thresholds: docs/honest-numbers.md. A flag is a prompt for a conversation,
    never a verdict; flags are listed by kind and email, never ranked.
    """
    from flask_babel import force_locale

    from ..kpi.health import health
    from ..present.report_text import describe_flag

    period = _period(period_text)
    scope = _scope(scope_text)
    tz, _now = clock()
    with force_locale(lang):
        found = health(db.session, scope, period, tz=tz, scope_label=scope_label(db.session, scope))
        body = found.as_dict(describe_flag)
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    same = found.same_day_entry_rate
    click.echo(f"{period.label}  {period.start} – {period.end}  {body['scope']}")
    shown = numbers.percent(same.value)
    click.echo(f"same-day entry rate   {shown}  ({same.numerator:,} / {same.denominator:,})")
    if found.imported:
        click.echo(f"imported history      {found.imported:,} visits (exempt from entry times)")
    click.echo(f"late entries          {found.late_entries:,}")
    click.echo(f"changed after report  {found.changed_after_report:,}")
    for flag in body["flags"]:
        who = flag["rep"] or "—"
        click.echo(f"  {flag['kind']:<21} {who}  {flag['count']:,}  {flag['detail']}")


@group.command("rebuild-summary")
@click.option(
    "--check",
    is_flag=True,
    help="Only compare the summaries with the visits and sales lines; exit 1 if stale.",
)
def rebuild_summary(check: bool) -> None:
    """Rebuild the deepening_rate, dormant_rate and category buyer summaries (safe to run again)."""
    if check:
        stale = deepening.differences(db.session)
        click.echo(f"{stale} deepening runs differ from the sales lines.")
        stale_buyers = buyers.differences(db.session)
        click.echo(f"{stale_buyers} category buyer runs differ from the sales lines.")
        stale += stale_buyers
        tz, _now = clock()
        current = dormancy.usable(db.session, company_settings(db.session), tz)
        dormant = dormancy.differences(db.session) if current else 0
        if current:
            click.echo(f"{dormant} dormancy runs differ from the visits and sales lines.")
        else:
            click.echo("The dormancy summary was built for other settings (or not at all).")
        if stale or dormant or not current:
            raise SystemExit(1)
        return
    tz, _now = clock()
    with unit_of_work(db.session):
        runs = deepening.rebuild(db.session)
        kept = dormancy.rebuild(db.session, company_settings(db.session), tz)
    click.echo(f"Rebuilt the deepening summary: {runs:,} runs.")
    click.echo(f"Rebuilt the dormancy summary ({tz.key}): {kept:,} runs.")


@group.command("forecast")
@scope_option("company or branch:CODE.")
@click.option(
    "--weeks",
    type=click.IntRange(1, 52),
    default=8,
    show_default=True,
    help="Weeks to forecast, 1–52 (a year ahead at most).",
)
@click.option(
    "--as-of",
    "as_of",
    type=Day(),
    default=None,
    help="Use only data on or before this date (default: today); for backtests.",
)
@json_option
def forecast_command(scope_text: str, weeks: int, as_of: Any, as_json: bool) -> None:
    """Weekly sales for the weeks after the one containing --as-of, with 80% intervals."""
    from ..kpi.forecast import TooLittleHistory, forecast
    from ..kpi.forecast_data import add_leading_kpis, load_history

    scope = _scope(scope_text, ("company", "branch"))
    tz, now = clock()
    day = as_of if as_of is not None else today(tz, now)
    try:
        history = load_history(db.session, scope, day)
        add_leading_kpis(db.session, history, scope, day, tz=tz)
        result = forecast(history, day, weeks)
    except TooLittleHistory as exc:
        click.echo(
            f"Too little history for a forecast: {exc.args[0]} complete week(s) of sales up to "
            f"{day}; at least 8 are needed.",
            err=True,
        )
        raise SystemExit(2) from None
    body = {
        "scope": scope_label(db.session, scope),
        "as_of": day.isoformat(),
        "weeks": [
            {"week": w.week, "value": w.value, "interval": list(w.interval)} for w in result.weeks
        ],
        "method": result.method,
    }
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    click.echo(f"{body['scope']}  as of {body['as_of']}  (80% interval)")
    for w in result.weeks:
        click.echo(f"{w.week}  ¥{w.value:>14,}  [¥{w.interval[0]:,} – ¥{w.interval[1]:,}]")
    click.echo(result.method)


@group.command("lead")
@click.option("--kpi", "kpi", required=True, help="The KPI key, e.g. proposal_count.")
@click.option(
    "--kgi",
    "kgi",
    default="sales_amount",
    show_default=True,
    help="sales_amount or gross_margin_rate.",
)
@scope_option()
@click.option(
    "--weeks", type=int, default=104, show_default=True, help="Complete weeks to analyse (8–260)."
)
@click.option(
    "--until",
    "until_text",
    default=None,
    help="Last ISO week analysed (default: the last complete week).",
)
@json_option
def lead(
    kpi: str, kgi: str, scope_text: str, weeks: int, until_text: str | None, as_json: bool
) -> None:
    """Does the KPI lead the KGI here: at which lag (0–12 weeks), how much, how sure."""
    try:
        check_arguments(kpi, kgi, weeks)
    except LeadInputError as exc:
        raise click.BadParameter(str(exc), param_hint="--" + exc.field) from None
    tz, now = clock()
    last = last_complete_week(tz, now)
    until = last
    if until_text is not None:
        try:
            until = parse_until(until_text, last)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--until") from None
    scope = _scope(scope_text)
    # The settings page's ranking keeps last week's analyses (docs/verification.md).
    result = cached_lead(db.session, kpi, kgi, scope, weeks, until, tz=tz)
    body = result.as_dict()
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    click.echo(f"{body['kpi']} → {body['kgi']}  {body['scope']}  {body['from']} – {body['until']}")
    click.echo(f"verdict: {body['verdict']}  (n = {body['n']}, {result.units} units)")
    if result.verdict == "leads":
        lo, hi = body["interval"]
        shown = f"{body['effect']} [{lo}, {hi}] per {result.per:g}"
        click.echo(f"lag {body['lag_weeks']} weeks, effect {shown}")
    click.echo(f"method: {body['method']}")
