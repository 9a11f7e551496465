"""Weekly report delivery by SMTP, each (week, report, recipient) sent at most once.

Every delivery is a ``ReportDelivery`` row. A sender *claims* a row (insert, or update a
failed/stale one, to status "sending") in its own committed transaction before it sends, so
a second sender — another thread, process or host on the same database — sees the claim
and skips it. A rerun never sends twice to the same person; a failed send is retried.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..app.database import read_only, write_unit
from ..kpi import closed_weeks
from ..models import Branch, ReportDelivery, User
from ..present.mail import message, subject
from ..rules.periods import Period
from ..services import directory
from .data import BranchReport, CompanyReport

NO_RECIPIENTS = "no_recipients"
# A "sending" claim older than this belongs to a sender that died mid-send: retry it.
STALE_CLAIM = timedelta(minutes=15)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send: parsed from FIELDLOG_SMTP_URL."""

    host: str
    port: int
    security: str  # "plain" | "starttls" | "ssl"
    user: str = ""
    password: str = ""
    verify: bool = True
    timeout: float = 30.0

    @classmethod
    def parse(cls, url: str) -> SmtpSettings:
        """smtp://host:port, smtp+starttls://…, smtp://…?starttls=1, smtps://… (SSL);
        optional user:password@ and ?verify=0 (tests with self-signed certificates only)."""
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        scheme = parts.scheme.lower()
        if scheme not in {"smtp", "smtp+starttls", "smtps"}:
            raise ValueError(f"FIELDLOG_SMTP_URL: unsupported scheme {parts.scheme!r}")
        if scheme == "smtps":
            security = "ssl"
        elif scheme == "smtp+starttls" or query.get("starttls", "0") in {"1", "true", "yes"}:
            security = "starttls"
        else:
            security = "plain"
        if not parts.hostname:
            raise ValueError("FIELDLOG_SMTP_URL: no host")
        return cls(
            host=parts.hostname,
            port=parts.port
            or (465 if security == "ssl" else 587 if security == "starttls" else 25),
            security=security,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            verify=query.get("verify", "1") not in {"0", "false", "no"},
            timeout=float(query.get("timeout", 30)),
        )

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    @contextmanager
    def connect(self) -> Iterator[smtplib.SMTP]:
        """An open, logged-in SMTP connection."""
        if self.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.starttls(context=self._context())
            if self.user:
                smtp.login(self.user, self.password)
            yield smtp
        finally:
            try:
                smtp.quit()
            except smtplib.SMTPException:
                smtp.close()


@dataclass
class Recipient:
    email: str
    name: str


@dataclass
class Job:
    """One report of one week and who should receive it."""

    report: str  # "branch:CODE" | "company"
    title: str  # 東京支店 / 全社
    recipients: list[Recipient]
    branch: Branch | None = None


@dataclass
class Outcome:
    report: str
    recipient: str
    status: str  # sent | failed | skipped (already sent/claimed) | no_recipients | would_send
    error: str = ""


@dataclass
class RunResult:
    week: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


Built = tuple[BranchReport | CompanyReport, bytes]
Builder = Callable[[Job], Built]


def _branch_job(session: Session, branch: Branch) -> Job:
    managers = session.scalars(
        select(User)
        .where(User.branch_id == branch.id, User.role == "manager", User.active.is_(True))
        .order_by(User.email)
    )
    people = [Recipient(u.email, u.name) for u in managers]
    return Job(f"branch:{branch.code}", branch.name, people, branch)


def _company_job(session: Session) -> Job:
    owners = session.scalars(
        select(User).where(User.role == "owner", User.active.is_(True)).order_by(User.email)
    )
    return Job("company", "全社", [Recipient(u.email, u.name) for u in owners])


def plan(session: Session, period: Period) -> list[Job]:
    """Each branch's report to its active managers, the company report to active owners."""
    jobs = [_branch_job(session, b) for b in session.scalars(select(Branch).order_by(Branch.code))]
    jobs.append(_company_job(session))
    return jobs


def plan_report(session: Session, report: str) -> Job | None:
    """The job of one report ("branch:CODE" or "company"), None when the branch is gone."""
    if report == "company":
        return _company_job(session)
    code = report.removeprefix("branch:")
    branch = directory.branch_by_code(session, code)
    return None if branch is None else _branch_job(session, branch)


def outstanding(session: Session, period: Period) -> list[Job]:
    """The week's jobs with someone still to serve (or a missing "no recipients" record)."""
    stmt = select(ReportDelivery.report, ReportDelivery.recipient).where(
        ReportDelivery.week == period.label,
        ReportDelivery.status.in_(["sent", NO_RECIPIENTS]),
    )
    done = {(report, recipient) for report, recipient in session.execute(stmt)}
    return [
        job
        for job in plan(session, period)
        if any((job.report, r.email) not in done for r in job.recipients)
        or (not job.recipients and (job.report, "") not in done)
    ]


# ---- claim rows ---------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _row(week: str, report: str, recipient: str) -> Any:
    """The delivery row of (week, report, recipient), as a where clause."""
    return (
        (ReportDelivery.week == week)
        & (ReportDelivery.report == report)
        & (ReportDelivery.recipient == recipient)
    )


def claim(
    session: Session, week: str, report: str, recipient: str, *, status: str = "sending"
) -> bool:
    """Take (week, report, recipient) for this sender, in its own committed transaction.

    True when this caller may send: the row is new, or it failed before, or a previous
    claim went stale. False when it was sent already or another sender holds it.
    """
    now = _now()
    row = {"week": week, "report": report, "recipient": recipient}
    try:
        with write_unit(session):
            session.execute(
                insert(ReportDelivery).values(
                    **row, status=status, attempts=1, error="", created_at=now, updated_at=now
                )
            )
        return True
    except IntegrityError:
        pass
    retryable = ReportDelivery.status.in_(["failed", "pending"]) | (
        (ReportDelivery.status == "sending") & (ReportDelivery.updated_at < now - STALE_CLAIM)
    )
    with write_unit(session):
        taken = session.execute(
            update(ReportDelivery)
            .where(_row(week, report, recipient), retryable)
            .values(status=status, attempts=ReportDelivery.attempts + 1, error="", updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return taken.rowcount == 1


def finish(session: Session, week: str, report: str, recipient: str, error: str | None) -> None:
    """Mark a claimed row sent (error None) or failed, in the caller's unit of work."""
    now = _now()
    values = (
        {"status": "sent", "sent_at": now, "error": "", "updated_at": now}
        if error is None
        else {"status": "failed", "error": error[:2000], "updated_at": now}
    )
    session.execute(
        update(ReportDelivery)
        .where(_row(week, report, recipient))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _sent_already(session: Session, week: str, report: str) -> set[str]:
    stmt = select(ReportDelivery.recipient).where(
        ReportDelivery.week == week,
        ReportDelivery.report == report,
        ReportDelivery.status.in_(["sent", NO_RECIPIENTS]),
    )
    return set(session.scalars(stmt))


# ---- the run --------------------------------------------------------------------------------


def default_builder(session: Session, period: Period, today, tz: ZoneInfo) -> Builder:
    """Build each report from the database with the KPI engine and render its PDF."""
    from ..present import pdf
    from . import data

    def build(job: Job) -> Built:
        if job.branch is not None:
            report: BranchReport | CompanyReport = data.branch_report(
                session, job.branch, period, today=today, tz=tz
            )
        else:
            report = data.company_report(session, period, today=today, tz=tz)
        return report, pdf.render_pdf(report)

    return build


def no_recipients(
    session: Session,
    period: Period,
    job: Job,
    *,
    record: bool = True,
    echo: Callable[[str], None] = lambda line: None,
) -> Outcome:
    """Say (and record, once) that a report has nobody to go to: never skipped silently."""
    who = "owner" if job.branch is None else "manager"
    echo(f"{job.report}: NO RECIPIENTS (no active {who}) — report not sent")
    if record:
        claim(session, period.label, job.report, "", status=NO_RECIPIENTS)
    return Outcome(job.report, "", NO_RECIPIENTS)


def send_report(
    session: Session,
    period: Period,
    job: Job,
    *,
    build: Builder,
    smtp: SmtpSettings | None,
    mail_from: str,
    echo: Callable[[str], None] = lambda line: None,
) -> list[Outcome]:
    """Send one report to each of its recipients not served yet (smtp None: a dry run)."""
    dry_run = smtp is None
    if not job.recipients:
        return [no_recipients(session, period, job, record=not dry_run, echo=echo)]
    with read_only(session):
        done = _sent_already(session, period.label, job.report)
    outcomes = [Outcome(job.report, r.email, "skipped") for r in job.recipients if r.email in done]
    pending = [r for r in job.recipients if r.email not in done]
    if dry_run:
        for r in pending:
            echo(f"would send {subject(job, period)} to {r.email}")
            outcomes.append(Outcome(job.report, r.email, "would_send"))
        return outcomes
    built: Built | None = None
    for r in pending:
        # Each claim commits in a transaction of its own (app.database.write_unit), and so does
        # the sent or failed mark together with the closed week's snapshot; the build only
        # reads, and whatever it might have written is rolled back with its transaction,
        # whether it succeeds or fails.
        if not claim(session, period.label, job.report, r.email):
            outcomes.append(Outcome(job.report, r.email, "skipped"))
            continue
        error = None
        try:
            if built is None:
                with read_only(session):
                    built = build(job)
            with smtp.connect() as conn:
                conn.send_message(message(job, period, built, r, mail_from))
        except Exception as exc:  # any failure is recorded on the row and retried next run
            error = f"{type(exc).__name__}: {exc}"
        with write_unit(session):
            finish(session, period.label, job.report, r.email, error)
            if error is None and built is not None:
                # The figures as they went out, kept once per week and report: later roll-ups
                # say how far the closed week moved since (fieldlog.kpi.closed_weeks).
                closed_weeks.record_snapshot(
                    session,
                    period.label,
                    job.report,
                    closed_weeks.snapshot_values(built[0]),
                    sent_at=_now(),
                )
        status = "sent" if error is None else "failed"
        echo(f"{status}: {job.report} to {r.email}" + (f" ({error})" if error else ""))
        outcomes.append(Outcome(job.report, r.email, status, error or ""))
    return outcomes


def send_week(
    session: Session,
    period: Period,
    *,
    build: Builder,
    smtp_url: str,
    mail_from: str,
    dry_run: bool = False,
    echo: Callable[[str], None] = lambda line: None,
) -> RunResult:
    """Send every report of one week to everyone who has not received it yet."""
    result = RunResult(period.label)
    smtp = None if dry_run else SmtpSettings.parse(smtp_url)
    for job in plan(session, period):
        result.outcomes += send_report(
            session, period, job, build=build, smtp=smtp, mail_from=mail_from, echo=echo
        )
    return result
