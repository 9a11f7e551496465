"""Command groups over the services (flask --app fieldlog …); never imports web views."""

from __future__ import annotations

from importlib import import_module

from flask import Flask

# One line per command module (each exposes `command`, `group` or a tuple `commands`),
# so that features added in parallel do not collide here.
MODULES = (
    "backup",
    "demo",
    "i18n",
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
            app.cli.add_command(command)
