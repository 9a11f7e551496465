"""Command groups over the services (flask --app fieldlog …); never imports web views."""

from __future__ import annotations

from flask import Flask

from . import i18n, io, kpi, users


def init_app(app: Flask) -> None:
    app.cli.add_command(users.group)
    app.cli.add_command(i18n.group)
    app.cli.add_command(kpi.group)
    app.cli.add_command(io.import_group)
    app.cli.add_command(io.export_group)
