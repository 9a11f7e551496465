"""flask users …"""

from __future__ import annotations

import click

from ..app.database import unit_of_work, write_intent
from ..app.extensions import db
from ..services import accounts
from ..services.errors import Invalid


@click.group("users", help="Manage user accounts.")
def group() -> None:
    pass


@group.command("create")
@click.option("--email", required=True, help="Login email (case-insensitive).")
@click.option("--name", required=True, help="Display name.")
@click.option("--role", required=True, type=click.Choice(["rep", "manager", "owner"]))
@click.option("--branch", default=None, help="Branch code; required for reps and managers.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create(email: str, name: str, role: str, branch: str | None, password: str) -> None:
    """Create a user who can log in."""
    try:
        with write_intent(), unit_of_work(db.session):
            user = accounts.create_user(
                db.session, email=email, name=name, role=role, branch_code=branch, password=password
            )
    except Invalid as exc:
        for field, messages in exc.errors.items():
            for message in messages:
                click.echo(f"{field}: {message}", err=True)
        raise SystemExit(1) from None
    click.echo(f"created {user.role} {user.email}")
