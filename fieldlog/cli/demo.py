"""flask demo-data: fill an empty database with the demo company."""

from __future__ import annotations

import unicodedata
from datetime import date
from zoneinfo import ZoneInfo

import click
from flask import current_app

from .. import demo
from ..app.database import unit_of_work, write_intent
from ..app.extensions import db
from ..rules.periods import today as local_today
from .options import Day


@click.command("demo-data")
@click.option("--if-empty", is_flag=True, help="Do nothing (exit 0) when any branch exists.")
@click.option("--reset", is_flag=True, help="Delete ALL data first (the schema stays).")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option("--weeks", type=click.IntRange(1, 104), default=52, show_default=True)
@click.option(
    "--today",
    "anchor",
    type=Day(),
    default=None,
    help="The last day of the history (default: today in the company timezone).",
)
def command(if_empty: bool, reset: bool, seed: int, weeks: int, anchor) -> None:
    """Create a demo company: 3 branches, ~15 reps, ~600 customers, a year of visits."""
    tz = ZoneInfo(current_app.config["FIELDLOG_TIMEZONE"])
    day: date = anchor or local_today(tz, current_app.config.get("FIELDLOG_NOW"))
    with write_intent(), unit_of_work(db.session) as work:
        if reset:
            demo.wipe(db.session)
        elif demo.has_data(db.session):
            if if_empty:
                work.discard()
                click.echo("demo-data: the database already has data; nothing to do.")
                return
            raise click.ClickException(
                "the database already has data; use --reset to replace it, or --if-empty"
            )
        result = demo.build(db.session, today=day, tz=tz, weeks=weeks, seed=seed)
    counts = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in result.counts.items())
    click.echo(f"{result.company}: {counts} (history to {day}, {result.seconds:.1f} s)")
    click.echo("")
    rows = [("role", "email", "name", "what to look at")]
    rows += [(x.role, x.email, x.name, x.note) for x in result.logins]
    widths = [max(_width(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        cells = [row[i] + " " * (widths[i] - _width(row[i])) for i in range(3)]
        click.echo("  " + "  ".join([*cells, row[3]]))
    click.echo(f"\nPassword for every demo user: {result.password}")


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
