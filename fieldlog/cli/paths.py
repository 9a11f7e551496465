"""Checks shared by the commands that write a file."""

from __future__ import annotations

from pathlib import Path

import click


def output_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Refuse an output path whose folder does not exist, before any work is done."""
    if value is not None and not value.resolve().parent.is_dir():
        raise click.BadParameter(f"the folder {str(value.parent)!r} does not exist")
    return value


output_option = click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    callback=output_file,
    help="The file to write.",
)
