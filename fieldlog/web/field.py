"""The rep's screens: Today, visit entry, my visits, proposals, customers."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("field", __name__)


@bp.get("/")
@login_required
def today():
    return render_template("field/today.html")
