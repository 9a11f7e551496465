"""Weekly report PDF download: managers for their own branch, owners for any branch."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request
from flask_babel import force_locale
from flask_login import current_user

from .. import access
from ..extensions import db
from ..models import Branch
from ..periods import Period
from ..reports import data, pdf
from .common import company_tz, local_today, roles_required

bp = Blueprint("reports", __name__)


@bp.get("/branches/<code>/report.pdf")
@roles_required("manager", "owner")
def branch_pdf(code: str) -> Response:
    """The branch's weekly PDF for ?week=2026-W47 (default: last complete week)."""
    branch = db.session.scalar(access.branches(current_user).where(Branch.code == code))
    if branch is None or not access.is_manager_of(current_user, branch.id):
        abort(404)
    today = local_today()
    try:
        period = Period.parse(request.args["week"]) if "week" in request.args else None
    except ValueError:
        abort(400)
    if period is None:
        period = Period.week_of(today).previous()
    if period.kind != "week":
        abort(400)
    # The report is Japanese throughout, whatever the reader's UI language.
    with force_locale("ja"):
        report = data.branch_report(db.session, branch, period, today=today, tz=company_tz())
        body = pdf.render_pdf(report)
    filename = f"report-{branch.code}-{period.label}.pdf"
    return Response(
        body,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
