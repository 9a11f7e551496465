"""flask import … / flask export …: files in and out, thin wrappers over fieldlog.io."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask_babel import force_locale
from sqlalchemy.exc import DBAPIError

from .. import io as fio
from ..app.database import storage_problem, unit_of_work, write_intent
from ..app.extensions import db
from ..io import export as fexport
from ..io.importer import group_errors
from ..present.limit_messages import day_range_error
from ..rules.periods import DayRange, RangeError, today
from .options import Day
from .paths import output_file, output_option

F = TypeVar("F", bound=Callable[..., Any])


@click.group(
    "import",
    help="Import branches, categories, users, customers, sales or visits from CSV/TSV/XLSX.",
)
def import_group() -> None:
    pass


def _import_command(kind: str) -> click.Command:
    @click.command(
        kind, help=f"Import {kind} from FILE (CSV/TSV in UTF-8, UTF-8 BOM or cp932, or XLSX)."
    )
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
    def command(file: Path, dry_run: bool) -> None:
        with (
            write_intent(),
            click.progressbar(length=1000, label=f"{kind}", file=sys.stderr) as bar,
        ):
            done = [0]

            def progress(fraction: float) -> None:
                step = int(fraction * 1000) - done[0]
                if step > 0:
                    bar.update(step)
                    done[0] += step

            try:
                with unit_of_work(db.session) as work:
                    result = fio.import_file(
                        db.session,
                        kind,
                        file,
                        dry_run=dry_run,
                        progress=progress,
                        tz=ZoneInfo(current_app.config["FIELDLOG_TIMEZONE"]),
                        now=current_app.config.get("FIELDLOG_NOW"),
                    )
                    if not result.written:
                        work.discard()
            except DBAPIError as exc:
                problem = storage_problem(exc)
                if problem is None:
                    raise
                click.echo(f"\nThe database refused the write ({problem}: {exc.orig}).", err=True)
                click.echo(
                    "Nothing was imported; fix the disk and run the command again.", err=True
                )
                raise SystemExit(1) from None
        for error in result.errors:
            click.echo(str(error), err=True)
        if not result.ok:
            more = result.error_count - len(result.errors)
            if more > 0:
                click.echo(f"… {more} more", err=True)
            groups = group_errors(
                (e.where.label(), e.column, str(e.message)) for e in result.errors
            )
            if len(groups) < len(result.errors):  # the same problem on several rows: sum up
                click.echo("By kind:", err=True)
                for g in groups:
                    column = f"[{g.column}] " if g.column else ""
                    rows = ", ".join(g.first) + (", …" if g.count > len(g.first) else "")
                    click.echo(f"  {column}{g.message}: {g.count} row(s) ({rows})", err=True)
            click.echo(f"{result.error_count} error(s); nothing was imported.", err=True)
            raise SystemExit(1)
        verb = "would create" if dry_run else "created"
        click.echo(
            f"{kind}: {result.rows} rows; {verb} {result.created}, "
            f"{'would update' if dry_run else 'updated'} {result.updated}"
            + (" (dry run, nothing written)" if dry_run else "")
        )

    return command


for _kind in fio.KINDS:
    import_group.add_command(_import_command(_kind))


@click.group(
    "export",
    help="Export visits, proposals, follow-ups, kpis, customers or sales; or a snapshot.",
)
def export_group() -> None:
    pass


# Each dated kind's --from/--to help: what the range narrows by (fexport.DATED).
_DATED_HELP = {
    "visits": "Visits (by their day in FIELDLOG_TIMEZONE)",
    "proposals": "Proposals (by proposed_on)",
    "follow-ups": "Follow-ups (by due_on)",
    "sales": "Sales lines (by sold_on)",
    "kpis": "KPI weeks (Monday to Sunday) lying wholly",
}


def _range_options(kind: str) -> Callable[[F], F]:
    """--from/--to for the kinds a range narrows; customers have no date, so no such options."""

    def add(command: F) -> F:
        if kind not in fexport.DATED:
            return command
        what = _DATED_HELP[kind]
        for name, dest, side in (("--to", "end", "before"), ("--from", "start", "after")):
            option = click.option(name, dest, type=Day(), help=f"{what} on or {side} this day.")
            command = option(command)
        return command

    return add


def _export_command(kind: str) -> click.Command:
    @click.command(kind, help=f"Export every {kind} record (as the owner sees them) to a file.")
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["csv", "xlsx"]),
        default=None,
        help="Defaults from the file name's extension, else csv.",
    )
    @click.option(
        "--encoding",
        type=click.Choice(["utf-8-sig", "cp932"]),
        default="utf-8-sig",
        help="CSV encoding: UTF-8 with BOM (Excel opens it) or cp932 (Shift_JIS).",
    )
    @output_option
    @click.option(
        "--weeks",
        type=click.IntRange(min=1),
        default=None,
        help="kpis: how many ISO weeks, up to this one (or up to --to); default 12.",
    )
    @_range_options(kind)
    def command(
        fmt: str | None,
        encoding: str,
        output: Path,
        weeks: int | None,
        start: date | None = None,
        end: date | None = None,
    ) -> None:
        fmt = fmt or ("xlsx" if output.suffix.lower() == ".xlsx" else "csv")
        tz = fexport.zone(current_app.config["FIELDLOG_TIMEZONE"])
        if weeks is not None and start is not None:
            raise click.BadParameter("give --from or --weeks, not both", param_hint="--weeks")
        try:
            days = DayRange(start, end)
            table = fexport.table(
                db.session,
                kind,
                fexport.EVERYTHING,
                tz=tz,
                today=_today(tz),
                weeks=weeks or 12,
                days=days,
            )
        except RangeError as error:
            with force_locale("en"):  # the commands speak English (options.Day)
                raise click.UsageError(str(day_range_error(error, f"--{error.field}"))) from None
        count, replaced = fexport.write(table, output, fmt=fmt, encoding=encoding)
        click.echo(f"{kind}: {count} rows → {output}")
        if replaced:
            click.echo(
                f"note: {replaced} character(s) outside cp932 were replaced with 〓", err=True
            )

    return command


def _today(tz):
    pinned = current_app.config.get("FIELDLOG_NOW")
    return today(tz, pinned)


for _kind in fexport.KINDS:
    export_group.add_command(_export_command(_kind))


@export_group.command("snapshot")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), callback=output_file)
def snapshot(file: Path) -> None:
    """Write a denormalised SQLite file (full-text search on notes) for Datasette or any browser."""
    from ..io.snapshot import write_snapshot

    tz = fexport.zone(current_app.config["FIELDLOG_TIMEZONE"])
    counts = write_snapshot(db.session, file, tz=tz, today=_today(tz))
    click.echo(", ".join(f"{name}: {n}" for name, n in counts.items()) + f" → {file}")


commands = (import_group, export_group)
