"""Checks shared by the commands that write a file."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from sqlalchemy.engine import make_url

from ..services.backup import sqlite_files


def database_files(database_url: str) -> set[Path]:
    """The files of a SQLite database (with its WAL, shared memory and journal); none otherwise."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return set()
    return sqlite_files(Path(url.database))


def output_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Refuse an output path that is the database itself; create its missing folders (as
    `backup` does), or say in one line why they cannot be."""
    if value is None:
        return value
    if value.resolve() in database_files(current_app.config["SQLALCHEMY_DATABASE_URI"]):
        raise click.BadParameter(f"{str(value)!r} is the database itself; choose another file")
    try:
        value.resolve().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot create the folder {str(value.parent)!r}: {exc.strerror}"
        ) from None
    return value


output_option = click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    callback=output_file,
    help="The file to write.",
)
