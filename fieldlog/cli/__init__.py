"""Command groups over the services (flask --app fieldlog …); never imports web views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import import_module
from typing import Any

import click
from flask import Flask
from sqlalchemy.exc import OperationalError, ProgrammingError

# One line per command module (each exposes `command`, `group` or a tuple `commands`),
# so that features added in parallel do not collide here.
MODULES = (
    "backup",
    "demo",
    "translations",
    "io",
    "kpi",
    "reports",
    "users",
)


def init_app(app: Flask) -> None:
    for name in MODULES:
        module = import_module(f"{__name__}.{name}")
        commands = getattr(module, "commands", None) or (
            getattr(module, "group", None) or module.command,
        )
        for command in commands:
            _explain_errors(command)
            app.cli.add_command(command)
    # Flask-Migrate's `db` group comes in as a plugin of the flask command, beside these: an
    # unreachable database there (`db upgrade`, the first command of a deployment) is one line too.
    from flask_migrate.cli import db as migrate_group

    _explain_errors(migrate_group, schema_hint=False)


def _explain_errors(command: click.Command, *, schema_hint: bool = True) -> None:
    """A missing schema (with schema_hint), an unreachable database or an unwritable file is said
    in one line, instead of a traceback."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _explain_errors(sub, schema_hint=schema_hint)
    if command.callback is None or getattr(command.callback, "_schema_checked", False):
        return
    callback: Callable[..., Any] = command.callback

    @functools.wraps(callback)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except (OperationalError, ProgrammingError) as exc:
            text = str(exc.orig)
            missing = "no such table" in text or ("relation" in text and "does not exist" in text)
            if schema_hint and missing:
                raise click.ClickException(
                    f"the database has no FieldLog tables yet ({text.splitlines()[0]}): "
                    "run `flask --app fieldlog db upgrade` first"
                ) from exc
            if isinstance(exc, OperationalError) and _unreachable(text):
                raise click.ClickException(
                    f"FIELDLOG_DATABASE_URL: cannot connect to the database "
                    f"({text.splitlines()[0]})"
                ) from exc
            raise
        except OSError as exc:
            if exc.filename is None:
                raise
            raise click.ClickException(f"{exc.filename}: {exc.strerror}") from exc

    checked._schema_checked = True  # type: ignore[attr-defined]
    command.callback = checked


def _unreachable(text: str) -> bool:
    """Whether a driver's error says the database could not be reached or opened."""
    return any(
        words in text
        for words in ("connection failed", "could not connect", "unable to open database file")
    )
