"""What happened to the weekly report mails: the list an owner or manager reads, and "send again".

The rows are the ``ReportDelivery`` claim rows that ``mailer.send_report`` writes. A resend goes
through that same function, for one recipient, so the claim rules still hold: only a failed
row is taken again, and a row another sender has meanwhile sent or claimed is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, false, func, select
from sqlalchemy.orm import Session

from ..models import Branch, ReportDelivery, User
from ..rules.periods import Period
from ..services import access
from . import mailer

# How many rows the page lists at most, and how many weeks back it looks without a filter.
LIMIT = 300
RECENT_WEEKS = 12

# The order a reader needs: what went wrong first, what went out last.
_RANK = {"failed": 0, mailer.NO_RECIPIENTS: 1, "pending": 2, "sending": 3, "sent": 4}


@dataclass(frozen=True)
class Row:
    """One delivery as the page shows it."""

    id: int
    week: str
    report: str  # "branch:CODE" | "company"
    branch: Branch | None
    recipient: str
    recipient_name: str
    status: str  # sent | failed | waiting | sending | no_recipients
    attempts: int
    at: datetime  # when it was sent, else when it was last tried
    error: str
    error_kind: str

    @property
    def can_resend(self) -> bool:
        return self.status == "failed"


def _branch_code(report: str) -> str | None:
    return report.removeprefix("branch:") if report.startswith("branch:") else None


def scope(user: User) -> object:
    """The rows a user may see: owners all, a manager their own branch's report, others none."""
    if access.is_owner(user):
        return ReportDelivery.id.is_not(None)
    if access.is_manager(user) and user.branch is not None:
        return ReportDelivery.report == f"branch:{user.branch.code}"
    return false()


def may_resend(user: User, row: ReportDelivery) -> bool:
    """Owners may resend any report; a manager only their own branch's."""
    if access.is_owner(user):
        return True
    code = _branch_code(row.report)
    return (
        access.is_manager(user)
        and user.branch is not None
        and code is not None
        and code == user.branch.code
    )


def resendable(session: Session, user: User, delivery_id: int) -> ReportDelivery | None:
    """The delivery row this user may send again, or None (missing or outside their scope)."""
    row = session.scalar(
        select(ReportDelivery).where(ReportDelivery.id == delivery_id, scope(user))
    )
    return row if row is not None and may_resend(user, row) else None


def display_status(row: ReportDelivery, now: datetime) -> str:
    """sent | failed | no_recipients | waiting (to be tried again) | sending (right now)."""
    if row.status == "sending":
        return "waiting" if row.updated_at < now - mailer.STALE_CLAIM else "sending"
    if row.status == "pending":
        return "waiting"
    return row.status


def error_kind(error: str) -> str:
    """The cause of a recorded error ("TypeName: text") as one word the page explains."""
    if not error:
        return ""
    name, _, text = error.partition(":")
    text = text.lower()
    kinds = {
        "SMTPAuthenticationError": "auth",
        "SMTPRecipientsRefused": "recipient",
        "SMTPSenderRefused": "sender",
        "SMTPDataError": "message",
        "SMTPServerDisconnected": "disconnected",
        "SMTPConnectError": "refused",
        "ConnectionRefusedError": "refused",
        "ConnectionResetError": "disconnected",
        "TimeoutError": "timeout",
        "timeout": "timeout",
        "gaierror": "host",
        "SSLError": "tls",
        "SSLCertVerificationError": "tls",
        "SMTPNotSupportedError": "tls",
    }
    if name in kinds:
        return kinds[name]
    if "refused" in text:
        return "refused"
    if "timed out" in text:
        return "timeout"
    if name.startswith("SMTP"):
        return "message"
    return "other"


def _recent(today: date) -> object:
    return ReportDelivery.week >= Period.week_of(today).shift(-RECENT_WEEKS).label


def failed_count(session: Session, user: User, today: date, *, report: str | None = None) -> int:
    """Failed mails of the last RECENT_WEEKS weeks the user may see (of one report, if given)."""
    stmt = select(func.count(ReportDelivery.id)).where(
        scope(user), ReportDelivery.status == "failed", _recent(today)
    )
    if report is not None:
        stmt = stmt.where(ReportDelivery.report == report)
    return session.scalar(stmt) or 0


def weeks(session: Session, user: User) -> list[str]:
    """The weeks with any delivery the user may see, newest first (for the filter)."""
    stmt = (
        select(ReportDelivery.week)
        .where(scope(user))
        .distinct()
        .order_by(ReportDelivery.week.desc())
        .limit(104)
    )
    return list(session.scalars(stmt))


def recent(
    session: Session,
    user: User,
    now: datetime,
    *,
    week: str | None = None,
    today: date | None = None,
) -> list[Row]:
    """The deliveries a user may see, failures first, then newest week first.

    With ``week`` only that ISO week; otherwise the last RECENT_WEEKS weeks before ``today``.
    """
    stmt = select(ReportDelivery).where(scope(user))
    if week:
        stmt = stmt.where(ReportDelivery.week == week)
    elif today is not None:
        stmt = stmt.where(_recent(today))
    rank = case(_RANK, value=ReportDelivery.status, else_=5)
    stmt = stmt.order_by(
        rank, ReportDelivery.week.desc(), ReportDelivery.report, ReportDelivery.recipient
    ).limit(LIMIT)
    found = list(session.scalars(stmt))
    codes = {c for r in found if (c := _branch_code(r.report))}
    branches = {b.code: b for b in session.scalars(select(Branch).where(Branch.code.in_(codes)))}
    emails = {r.recipient for r in found if r.recipient}
    stmt_names = select(User.email, User.name).where(User.email.in_(emails))
    names = {email: name for email, name in session.execute(stmt_names)}
    rows = [
        Row(
            id=r.id,
            week=r.week,
            report=r.report,
            branch=branches.get(_branch_code(r.report) or ""),
            recipient=r.recipient,
            recipient_name=names.get(r.recipient, ""),
            status=display_status(r, now),
            attempts=r.attempts,
            at=r.sent_at or r.updated_at,
            error=r.error,
            error_kind=error_kind(r.error),
        )
        for r in found
    ]
    # A stale "sending" claim is waiting to be retried: after the failures, with the waiting.
    order = {"failed": 0, mailer.NO_RECIPIENTS: 1, "waiting": 2, "sending": 3, "sent": 4}
    return sorted(rows, key=lambda row: order.get(row.status, 5))


class ResendRefused(Exception):
    """Why a row cannot be sent again: ``reason`` is one of the keys the page explains."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def resend(
    session: Session,
    row: ReportDelivery,
    *,
    build: mailer.Builder,
    smtp: mailer.SmtpSettings,
    mail_from: str,
) -> mailer.Outcome:
    """Send a failed delivery once more, through ``mailer.send_report`` for its one recipient.

    Refused (``ResendRefused``) when the row is not failed, or when its recipient no longer
    receives that report (deactivated, moved, or the branch is gone). The outcome is "sent",
    "failed" (recorded on the row again) or "skipped" (another sender took it meanwhile).
    """
    if row.status != "failed":
        raise ResendRefused("not_failed")
    job = mailer.plan_report(session, row.report)
    people = [] if job is None else [r for r in job.recipients if r.email == row.recipient]
    if job is None or not people:
        raise ResendRefused("not_a_recipient")
    job.recipients = people
    period = Period.parse(row.week)
    outcomes = mailer.send_report(session, period, job, build=build, smtp=smtp, mail_from=mail_from)
    return outcomes[0]
