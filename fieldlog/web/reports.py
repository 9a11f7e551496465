"""Weekly reports on the web: the PDF download and the list of mails sent (with "send again").

Managers for their own branch, owners for every branch and the company report."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from ..app.extensions import db
from ..present import pdf
from ..reports import data, mail_log, mailer
from ..rules.periods import Period, week_or_none
from ..services import access
from .common import attachment, chosen_period, company_tz, local_today, now, roles_required
from .transaction import discard

bp = Blueprint("reports", __name__)


@bp.get("/branches/<code>/report.pdf")
@roles_required("manager", "owner")
def branch_pdf(code: str) -> Response:
    """The branch's weekly PDF for ?week=2026-W47 (default: last complete week)."""
    branch = access.managed_branch(db.session, current_user, code)
    if branch is None:
        abort(404)
    today = local_today()
    period = chosen_period(months="refused")  # weekly: a month would silently give last week's
    # The report is Japanese throughout, whatever the reader's UI language.
    with force_locale("ja"):
        report = data.branch_report(db.session, branch, period, today=today, tz=company_tz())
        body = pdf.render_pdf(report)
    filename = f"report-{branch.code}-{period.label}.pdf"
    return Response(
        body,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": attachment(filename),
            "Cache-Control": "private, no-store",
        },
    )


# ---- what happened to the weekly mails ------------------------------------------------------


def _status_labels() -> dict[str, str]:
    return {
        "sent": _("Sent"),
        "failed": _("Failed"),
        "waiting": _("Waiting to retry"),
        "sending": _("Sending"),
        mailer.NO_RECIPIENTS: _("No recipients"),
    }


def _error_texts() -> dict[str, str]:
    """Each kind of recorded error (deliveries.error_kind) in plain words."""
    return {
        "refused": _(
            "The mail server refused the connection: is it running, and is its address right?"
        ),
        "timeout": _("The mail server did not answer in time."),
        "host": _("The mail server's name could not be found. Check the address in the settings."),
        "tls": _(
            "A secure connection to the mail server could not be made (certificate or TLS setting)."
        ),
        "auth": _("The mail server did not accept the user name or password."),
        "recipient": _("The mail server refused this recipient's address."),
        "sender": _("The mail server refused the sender address."),
        "message": _("The mail server refused the message."),
        "disconnected": _("The mail server closed the connection while sending."),
        "other": _("The report could not be prepared or sent."),
    }


def _week_arg(text: str | None) -> str | None:
    """A valid ISO week label from a query or form value, else None."""
    try:
        period = week_or_none(text)
    except ValueError:
        return None
    return period.label if period else None


@bp.get("/reports/deliveries")
@roles_required("manager", "owner")
def deliveries_page():
    """Recent weekly report mails (a manager: their branch's), failures first; ?week= filters."""
    week = _week_arg(request.args.get("week"))
    if request.args.get("week") and week is None:
        abort(400)
    rows = mail_log.recent(db.session, current_user, now(), week=week, today=local_today())
    return render_template(
        "reports/deliveries.html",
        rows=rows,
        week=week,
        weeks=mail_log.weeks(db.session, current_user),
        recent_weeks=mail_log.RECENT_WEEKS,
        status_labels=_status_labels(),
        error_texts=_error_texts(),
        failed=sum(1 for r in rows if r.status == "failed"),
        mail_ready=bool(current_app.config.get("FIELDLOG_SMTP_URL")),
    )


@bp.post("/reports/deliveries/<int:delivery_id>/resend")
@roles_required("manager", "owner")
def delivery_resend(delivery_id: int):
    """Send one failed report mail again, through the same claim rows as the weekly run."""
    row = mail_log.resendable(db.session, current_user, delivery_id)
    if row is None:
        abort(404)
    back = redirect(url_for(".deliveries_page", week=_week_arg(request.form.get("week"))))
    config = current_app.config
    try:
        smtp = mailer.SmtpSettings.parse(config["FIELDLOG_SMTP_URL"])
    except ValueError:
        flash(
            _("Mail is not set up on the server (FIELDLOG_SMTP_URL), so nothing was sent."), "error"
        )
        return back
    recipient, week = row.recipient, row.week
    period = Period.parse(week)
    tz = company_tz()
    try:
        # The mail and its PDF are Japanese throughout, as in the weekly run.
        with force_locale("ja"):
            outcome = mail_log.resend(
                db.session,
                row,
                build=mailer.default_builder(db.session, period, local_today(), tz),
                smtp=smtp,
                mail_from=config["FIELDLOG_MAIL_FROM"],
            )
    except mail_log.ResendRefused as refused:
        discard()
        messages = {
            "not_failed": _("Only a failed mail can be sent again; this one was not resent."),
            "not_a_recipient": _(
                "%(email)s no longer receives this report, so it was not sent.", email=recipient
            ),
        }
        flash(messages[refused.reason], "error")
        return back
    if outcome.status == "sent":
        flash(
            _("The %(week)s report was sent again to %(email)s.", week=week, email=recipient),
            "success",
        )
    elif outcome.status == "failed":
        kind = _error_texts()[mail_log.error_kind(outcome.error)]
        flash(
            _("Sending to %(email)s failed again: %(reason)s", email=recipient, reason=kind),
            "error",
        )
    else:
        flash(
            _(
                "%(email)s was already served by another send; nothing was sent twice.",
                email=recipient,
            ),
            "info",
        )
    return back
