"""Liveness and database check for load balancers."""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..app.database import ping
from ..app.extensions import db
from .transaction import discard

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        ping(db.session)
    except Exception as exc:  # the answer must say "down", not raise
        discard()
        return jsonify({"status": "error", "database": type(exc).__name__}), 503
    return jsonify({"status": "ok", "database": "ok"})
