"""Command groups over the services (flask --app fieldlog …); never imports web views."""

from __future__ import annotations

from importlib import import_module

from flask import Flask

# One line per command module (each exposes `command`, or `group` for a group of commands),
# so that features added in parallel do not collide here.
MODULES = (
    "backup",
    "demo",
    "i18n",
    "kpi",
    "reports",
    "users",
)


def init_app(app: Flask) -> None:
    for name in MODULES:
        module = import_module(f"{__name__}.{name}")
        app.cli.add_command(getattr(module, "group", None) or module.command)
