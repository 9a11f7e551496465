"""flask i18n …: keep the Japanese catalogue complete."""

from __future__ import annotations

import click

from ..app.untranslated import CATALOGUE, missing_translations


@click.group("i18n", help="Translation catalogue tools.")
def group() -> None:
    pass


def _po_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@group.command("missing")
def missing() -> None:
    """Print msgids without a Japanese translation as .po entries to fill in and append."""
    entries = missing_translations()
    for msgid in entries:
        click.echo(f'msgid {_po_quote(msgid)}\nmsgstr ""\n')
    click.echo(f"# {len(entries)} missing in {CATALOGUE}", err=True)
