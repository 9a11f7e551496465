"""flask report … — weekly PDF reports and their delivery."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from ..app.extensions import db
from ..rules.periods import Period, last_complete_week, today
from ..services import directory
from .options import clock
from .paths import output_option


def _week(text: str) -> Period:
    tz, now = clock()
    if text == "last":
        return last_complete_week(tz, now)
    try:
        period = Period.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from None
    if period.kind != "week":
        raise click.BadParameter("give an ISO week like 2026-W47", param_hint="--week")
    return period


@click.group("report", help="Weekly KPI reports (PDF) and their delivery by email.")
def group() -> None:
    pass


@group.command("weekly")
@click.option("--branch", "branch_code", help="Branch code (or use --company).")
@click.option("--company", is_flag=True, help="The owners' company report instead.")
@click.option("--week", required=True, help="ISO week like 2026-W47, or 'last'.")
@output_option
def weekly(branch_code: str | None, company: bool, week: str, output: Path) -> None:
    """Write one weekly report as a PDF file."""
    from ..present import pdf
    from ..reports import data

    if bool(branch_code) == company:
        raise click.UsageError("give exactly one of --branch CODE or --company")
    period = _week(week)
    tz, now = clock()
    if company:
        report = data.company_report(db.session, period, today=today(tz, now), tz=tz)
    else:
        branch = directory.branch_by_code(db.session, branch_code)
        if branch is None:
            raise click.BadParameter(f"no branch {branch_code!r}", param_hint="--branch")
        report = data.branch_report(db.session, branch, period, today=today(tz, now), tz=tz)
    pdf.warn_if_slow_fonts()
    output.write_bytes(pdf.render_pdf(report))
    click.echo(f"wrote {output} ({output.stat().st_size:,} bytes)")


@group.command("send")
@click.option("--week", required=True, help="ISO week like 2026-W47, or 'last'.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send and record nothing.")
@click.option(
    "--in-process",
    is_flag=True,
    help="Build and send here even when FIELDLOG_REDIS_URL is set (default there: enqueue).",
)
def send(week: str, dry_run: bool, in_process: bool) -> None:
    """Email each branch's report to its managers and the company report to the owners.

    With FIELDLOG_REDIS_URL set, enqueue one job per report for `flask report worker`."""
    from ..reports import mailer

    period = _week(week)
    tz, now = clock()
    smtp_url = current_app.config["FIELDLOG_SMTP_URL"]
    if not smtp_url and not dry_run:
        raise click.UsageError("FIELDLOG_SMTP_URL is not set")
    if not dry_run:
        try:
            mailer.SmtpSettings.parse(smtp_url)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    if current_app.config["FIELDLOG_REDIS_URL"] and not (dry_run or in_process):
        from ..jobs import fanout

        queue = fanout.report_queue(current_app)
        jobs = fanout.enqueue_week(db.session, queue, period, today(tz, now), echo=click.echo)
        click.echo(
            f"{period.label}: {len(jobs)} jobs enqueued on {queue.name}; "
            "`flask --app fieldlog report worker` delivers them"
        )
        return
    result = mailer.send_week(
        db.session,
        period,
        build=mailer.default_builder(db.session, period, today(tz, now), tz),
        smtp_url=smtp_url,
        mail_from=current_app.config["FIELDLOG_MAIL_FROM"],
        dry_run=dry_run,
        echo=click.echo,
    )
    counts: dict[str, int] = {}
    for outcome in result.outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    click.echo(f"{period.label}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if result.failed:
        raise SystemExit(1)


@group.command("worker")
@click.option("--burst", is_flag=True, help="Exit once the queue is empty.")
@click.option("--queue", "queue_name", help="Queue name (default: fieldlog-reports).")
@click.option("--name", help="Worker name shown by `rq info` (default: host and pid).")
@click.option("--fork", is_flag=True, help="Run each job in a forked process (RQ's Worker).")
def worker(burst: bool, queue_name: str | None, name: str | None, fork: bool) -> None:
    """Build and mail the weekly reports enqueued on Redis (FIELDLOG_REDIS_URL)."""
    from ..jobs import fanout

    if not current_app.config["FIELDLOG_REDIS_URL"]:
        raise click.UsageError("FIELDLOG_REDIS_URL is not set")
    if not current_app.config["FIELDLOG_SMTP_URL"]:
        raise click.UsageError("FIELDLOG_SMTP_URL is not set")
    queue = fanout.report_queue(current_app, queue_name)
    fanout.run_worker(current_app._get_current_object(), queue, burst=burst, name=name, fork=fork)
