"""What several commands share: the clock they read and the options they spell the same way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from flask import current_app

from ..models import utcnow

F = TypeVar("F", bound=Callable[..., Any])


def clock() -> tuple[ZoneInfo, datetime]:
    """The company timezone and now (FIELDLOG_NOW when set, for tests and demos)."""
    tz = ZoneInfo(current_app.config["FIELDLOG_TIMEZONE"])
    return tz, current_app.config.get("FIELDLOG_NOW") or utcnow()


period_option = click.option(
    "--period", "period_text", required=True, help="ISO week 2026-W47 or month 2026-11."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/contract.md).")


def scope_option(help: str = "company, branch:CODE or rep:EMAIL.") -> Callable[[F], F]:
    """--scope (default company), parsed in the command by ``kpi.parse_scope``."""
    return click.option("--scope", "scope_text", default="company", show_default=True, help=help)
