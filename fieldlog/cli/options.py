"""What several commands share: the clock they read and the options they spell the same way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from flask import current_app

from ..models import utcnow
from ..rules.periods import MAX_YEAR, MIN_YEAR, in_range

F = TypeVar("F", bound=Callable[..., Any])


def clock() -> tuple[ZoneInfo, datetime]:
    """The company timezone and now (FIELDLOG_NOW when set, for tests and demos)."""
    tz = ZoneInfo(current_app.config["FIELDLOG_TIMEZONE"])
    return tz, current_app.config.get("FIELDLOG_NOW") or utcnow()


period_option = click.option(
    "--period", "period_text", required=True, help="ISO week 2026-W47 or month 2026-11."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/contract.md).")


class Day(click.ParamType):
    """A YYYY-MM-DD date in the years a period may name (``periods.in_range``); any other is
    a usage error (exit 2) naming the option, not a traceback from a date past ``date``'s end."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            day = value
        else:
            try:
                day = datetime.strptime(str(value), "%Y-%m-%d").date()
            except ValueError:
                self.fail(f"{value!r} is not a date like 2026-11-23", param, ctx)
        if not in_range(day):
            self.fail(
                f"{day.isoformat()}: the year must be from {MIN_YEAR} to {MAX_YEAR}", param, ctx
            )
        return day


def scope_option(help: str = "company, branch:CODE or rep:EMAIL.") -> Callable[[F], F]:
    """--scope (default company), parsed in the command by ``kpi.parse_scope``."""
    return click.option("--scope", "scope_text", default="company", show_default=True, help=help)
