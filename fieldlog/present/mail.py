"""The weekly report's mail: subject, a short Japanese note and the PDF attached.

``job`` and ``recipient`` are the mailer's (reports.mailer.Job, Recipient): the report's key
and title, a name and an address.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any

from ..rules.limits import clean_text
from ..rules.periods import Period
from . import numbers
from .report_text import kpi_name


def subject(job: Any, period: Period) -> str:
    return f"週次KPIレポート {job.title} {period.label}"


def body(report: Any, job: Any, recipient: Any) -> str:
    """A short Japanese note naming the three biggest changes of the week."""
    lines = [
        f"{recipient.name} 様",
        "",
        f"{job.title}の週次KPIレポート（{report.week}：{report.start:%m/%d}〜{report.end:%m/%d}）"
        "をお送りします。",
        "",
    ]
    if not report.has_activity:
        lines.append("この週の訪問記録はありません。記録漏れがないかご確認ください。")
    else:
        changes = report.biggest_changes()
        lines.append("今週の大きな変化:" if changes else "先週から大きく動いた指標はありません。")
        for f in changes:
            before, now = numbers.value(f.previous, f.unit), numbers.value(f.value, f.unit)
            change = numbers.change(f.change, f.unit)
            lines.append(f"・{kpi_name(f.key)}: {before} → {now}（{change}）")
    lines += [
        "",
        "詳細は添付のPDFをご覧ください。振り返りでは「なぜ達成／未達か」「原因は母数・質・設計の"
        "どれか」「来週何を変えるか」の3点を話し合いましょう。",
        "",
        "FieldLog",
    ]
    return "\n".join(lines)


def message(
    job: Any, period: Period, built: tuple[Any, bytes], recipient: Any, mail_from: str
) -> EmailMessage:
    """The mail of one built report (report data, PDF bytes) to one recipient."""
    report, pdf = built
    msg = EmailMessage()
    # A header is one line whatever names were stored before limits.clean_text guarded them.
    msg["Subject"] = clean_text(subject(job, period), multiline=False)
    msg["From"] = mail_from
    msg["To"] = formataddr((clean_text(recipient.name, multiline=False), recipient.email))
    # RFC 5322 requires Date; smtplib adds neither it nor a Message-ID, and relays may not.
    msg["Date"] = formatdate(localtime=True)
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(body(report, job, recipient))
    code = job.report.replace("branch:", "")
    msg.add_attachment(
        pdf,
        maintype="application",
        subtype="pdf",
        filename=clean_text(f"report-{code}-{period.label}.pdf", multiline=False),
    )
    return msg
