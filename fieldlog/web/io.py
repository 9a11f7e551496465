"""Upload page (validate, preview, confirm, with progress) and export downloads."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..app.database import end_reads
from ..app.extensions import db
from ..io import KINDS
from ..io import export as fexport
from ..io.importer import group_errors
from ..jobs import imports
from ..jobs.imports import JobStore
from ..models import User
from ..present.limit_messages import day_range_error
from ..rules import limits
from ..rules.periods import DayRange, RangeError
from ..services import access
from .common import (
    STORAGE_MESSAGES,
    attachment,
    company_tz,
    local_today,
    now,
    roles_required,
    too_large_message,
)

bp = Blueprint("io", __name__)

KIND_LABELS = {
    "branches": _l("Branches"),
    "categories": _l("Product categories"),
    "users": _l("Users"),
    "customers": _l("Customers"),
    "sales": _l("Sales lines"),
    "budgets": _l("Sales budgets"),
    "visits": _l("Visit history (日報)"),
}
EXPORT_LABELS = {
    "visits": _l("Visits"),
    "proposals": _l("Proposals"),
    "follow-ups": _l("Follow-ups"),
    "kpis": _l("KPIs by week"),
    "customers": _l("Customers"),
    "sales": _l("Sales lines"),
}
# What narrows each dated export (fexport.DATED), said on the page beside its buttons.
RANGE_HINTS = {
    "visits": _l("By the day of the visit (company time)."),
    "proposals": _l("By the day proposed."),
    "follow-ups": _l("By the due date."),
    "kpis": _l(
        "By ISO week: the weeks (Monday to Sunday) lying wholly within the range. With no "
        "start date, the 12 weeks up to the end date (or up to this week)."
    ),
    "sales": _l("By the sales date."),
}
RANGE_FIELDS = {"from": _l("From"), "to": _l("To")}
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def jobs() -> JobStore:
    root = current_app.config.get("FIELDLOG_IMPORT_DIR")
    return JobStore(root or Path(current_app.instance_path) / "imports")


def allowed_kinds(user: User) -> tuple[str, ...]:
    """Owners import everything; managers the customers and visits of their own branch."""
    return KINDS if access.is_owner(user) else ("customers", "visits")


def _start(job_id: str, dry_run: bool) -> None:
    # End this request's transaction first: the job writes from its own session.
    end_reads(db.session)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    imports.start(app, jobs().root, job_id, dry_run, tz=company_tz, now=now)


def _job(job_id: str) -> dict[str, Any]:
    status = jobs().read(job_id)
    if status is None or status.get("user_id") != current_user.id:
        abort(404)
    return status


def _form(error: Any = None, status: int = 200):
    return render_template(
        "io/import.html", kinds=allowed_kinds(current_user), labels=KIND_LABELS, error=error
    ), status


def _busy() -> Any:
    return _l(
        "%(n)s of your imports are still running. Wait until one finishes, then try again.",
        n=limits.MAX_RUNNING_IMPORTS,
    )


@bp.get("/import")
@roles_required("owner", "manager")
def import_page():
    return _form()


@bp.post("/import")
@roles_required("owner", "manager")
def upload():
    kind = request.form.get("kind", "")
    upload = request.files.get("file")
    if kind not in allowed_kinds(current_user):
        return _form(_l("Choose what the file contains."), 422)
    if upload is None or not upload.filename:
        return _form(_l("Choose a file to upload."), 422)
    if jobs().running(current_user.id) >= limits.MAX_RUNNING_IMPORTS:
        return _form(_busy(), 429)
    job_id = jobs().create(
        user_id=current_user.id,
        kind=kind,
        filename=Path(upload.filename).name,
        locale=str(get_locale() or "ja"),
        data=upload,
    )
    _start(job_id, dry_run=True)
    return redirect(url_for("io.job", job_id=job_id))


@bp.errorhandler(413)
def too_large(error: Exception):
    # The body is refused while CSRF protection reads it, before any view checks who is asking.
    if not current_user.is_authenticated or not access.runs_a_branch(current_user):
        return render_template("error.html", code=413, message=too_large_message()), 413
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    return _form(
        _l(
            "The file is larger than %(mb)s MB. Split it into smaller files.",
            mb=limit // (1024 * 1024) or 1,
        ),
        413,
    )


@bp.get("/import/<job_id>")
@roles_required("owner", "manager")
def job(job_id: str):
    status = _job(job_id)
    return render_template(
        "io/job.html",
        job_id=job_id,
        job=status,
        labels=KIND_LABELS,
        problem=STORAGE_MESSAGES.get(status.get("problem") or ""),
        groups=group_errors(status.get("errors") or []),
    )


@bp.get("/import/<job_id>/status")
@roles_required("owner", "manager")
def job_status(job_id: str):
    status = _job(job_id)
    imports.prune_threads()
    return jsonify({"state": status["state"], "progress": status.get("progress", 0)})


@bp.post("/import/<job_id>/confirm")
@roles_required("owner", "manager")
def confirm(job_id: str):
    status = _job(job_id)
    if status["state"] != "validated":
        abort(409)
    if jobs().running(current_user.id) >= limits.MAX_RUNNING_IMPORTS:
        return _form(_busy(), 429)
    jobs().update(job_id, state="importing", progress=0.0, problem=None)
    _start(job_id, dry_run=False)
    return redirect(url_for("io.job", job_id=job_id))


def _export_form(error: RangeError | None = None, status: int = 200):
    """The export page: one optional range for the dated kinds, then the undated ones."""
    errors = {}
    if error is not None:
        # Holds the typed input: escaped as any lazy string (app/extensions.escape_lazy_strings).
        errors[error.field] = day_range_error(error, RANGE_FIELDS[error.field])
    return render_template(
        "io/export.html",
        dated=[(k, EXPORT_LABELS[k], RANGE_HINTS[k]) for k in fexport.KINDS if k in fexport.DATED],
        undated=[(k, EXPORT_LABELS[k]) for k in fexport.KINDS if k not in fexport.DATED],
        fields=RANGE_FIELDS,
        values={name: request.args.get(name, "").strip()[:40] for name in RANGE_FIELDS},
        errors=errors,
    ), status


@bp.get("/export")
@login_required
def export_page():
    """The export page; a range in the query (Enter in a date field) is checked and kept."""
    try:
        DayRange.parse(request.args.get("from"), request.args.get("to"))
    except RangeError as error:
        return _export_form(error, 400)
    return _export_form()


@bp.get("/export/<kind>.<fmt>")
@login_required
def download(kind: str, fmt: str):
    if kind not in fexport.KINDS or fmt not in ("csv", "xlsx"):
        abort(404)
    encoding = "cp932" if request.args.get("encoding") == "cp932" else "utf-8-sig"
    try:
        days = DayRange.parse(request.args.get("from"), request.args.get("to"))
        table = fexport.table(
            db.session,
            kind,
            current_user,
            tz=company_tz(),
            locale=str(get_locale() or "ja"),
            today=local_today(),
            labels=True,  # headers in the reader's language; the CLI keeps the column keys
            days=days,
        )
    except RangeError as error:  # said on the export page, the values kept in the form
        return _export_form(error, 400)
    # Spills to disk past 8 MB, so a large export does not sit in the worker's memory.
    buffer = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 (closed by chunks)
    fexport.write(table, buffer, fmt=fmt, encoding=encoding)

    def chunks():
        with buffer:
            buffer.seek(0)
            while chunk := buffer.read(1 << 16):
                yield chunk

    suffix = "-sjis" if encoding == "cp932" and fmt == "csv" else ""
    name = f"fieldlog-{kind}-{days.label or local_today()}{suffix}.{fmt}"
    if fmt == "xlsx":
        content_type = XLSX_MIMETYPE
    else:  # WHATWG's "Shift_JIS" decoder is Windows-31J, i.e. cp932
        content_type = f"text/csv; charset={'Shift_JIS' if encoding == 'cp932' else 'utf-8'}"
    return Response(
        chunks(),
        content_type=content_type,
        headers={"Content-Disposition": attachment(name), "Cache-Control": "private, no-store"},
    )
