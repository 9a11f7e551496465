"""Delivery through a real SMTP server on loopback (aiosmtpd): once per person, retried, TLS."""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
import socket
import ssl
import subprocess
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from fieldlog.app.extensions import db
from fieldlog.models import ReportDelivery
from fieldlog.reports import mailer
from fieldlog.rules.periods import Period
from tests.report_samples import branch_report

WEEK = Period.parse("2026-W47")
FAKE_PDF = b"%PDF-1.4\n% test\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def to(self) -> list[str]:
        return sorted(r for rcpts, _ in self.messages for r in rcpts)


@pytest.fixture
def inbox():
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.url = f"smtp://127.0.0.1:{controller.port}"
    yield box
    controller.stop()


@pytest.fixture
def company(make):
    tokyo = make.branch("TKY", "東京支店")
    osaka = make.branch("OSK", "大阪支店")
    make.user("manager", tokyo, email="m1@example.jp", name="田中 課長")
    make.user("manager", tokyo, email="m2@example.jp")
    make.user("manager", tokyo, email="gone@example.jp", active=False)
    make.user("rep", tokyo, email="rep@example.jp")
    make.user("rep", osaka)
    make.user("owner", email="owner@example.jp", name="社長")
    db.session.commit()
    return tokyo, osaka


def fake_build(job):
    report = branch_report(name=job.title)
    report.week, report.start, report.end = WEEK.label, WEEK.start, WEEK.end
    return report, FAKE_PDF


def run(url: str, dry_run: bool = False, build=fake_build):
    lines: list[str] = []
    result = mailer.send_week(
        db.session, WEEK, build=build, smtp_url=url,
        mail_from="FieldLog <fieldlog@example.jp>", dry_run=dry_run, echo=lines.append,
    )  # fmt: skip
    return result, lines


def rows() -> dict[tuple[str, str], ReportDelivery]:
    db.session.rollback()
    found = db.session.scalars(select(ReportDelivery).where(ReportDelivery.week == WEEK.label))
    return {(r.report, r.recipient): r for r in found}


def test_sends_each_report_to_the_right_people_once(app, company, inbox):
    _result, lines = run(inbox.url)
    assert inbox.to() == ["m1@example.jp", "m2@example.jp", "owner@example.jp"]
    by_to = {rcpts[0]: msg for rcpts, msg in inbox.messages}
    msg = by_to["m1@example.jp"]
    assert msg["Subject"] == "週次KPIレポート 東京支店 2026-W47"
    assert by_to["owner@example.jp"]["Subject"] == "週次KPIレポート 全社 2026-W47"
    attachments = list(msg.iter_attachments())
    assert [a.get_content_type() for a in attachments] == ["application/pdf"]
    assert attachments[0].get_content() == FAKE_PDF
    assert attachments[0].get_filename() == "report-TKY-2026-W47.pdf"
    text = msg.get_body(("plain",)).get_content()
    assert "田中 課長 様" in text and "売上: ¥11,000,000 → ¥12,345,000" in text
    assert text.count("・") >= 3

    recorded = rows()
    assert recorded[("branch:TKY", "m1@example.jp")].status == "sent"
    assert recorded[("branch:TKY", "m1@example.jp")].sent_at is not None
    assert recorded[("branch:OSK", "")].status == mailer.NO_RECIPIENTS
    assert any("branch:OSK" in line and "NO RECIPIENTS" in line for line in lines)

    again, _ = run(inbox.url)
    assert len(inbox.messages) == 3
    assert {o.status for o in again.outcomes} == {"skipped", mailer.NO_RECIPIENTS}


def test_failed_send_is_retried_on_the_next_run(app, company, inbox):
    down = f"smtp://127.0.0.1:{free_port()}?timeout=2"
    first, _lines = run(down)
    assert len(first.failed) == 3 and inbox.messages == []
    failed = rows()[("branch:TKY", "m1@example.jp")]
    assert failed.status == "failed" and failed.error and failed.attempts == 1

    _second, _ = run(inbox.url)
    assert inbox.to() == ["m1@example.jp", "m2@example.jp", "owner@example.jp"]
    retried = rows()[("branch:TKY", "m1@example.jp")]
    assert retried.status == "sent" and retried.attempts == 2 and retried.error == ""


def test_dry_run_sends_and_writes_nothing(app, company, inbox):
    result, lines = run(inbox.url, dry_run=True)
    assert inbox.messages == [] and rows() == {}
    assert "would send 週次KPIレポート 東京支店 2026-W47 to m1@example.jp" in lines
    assert {o.status for o in result.outcomes} == {"would_send", mailer.NO_RECIPIENTS}


def test_build_failure_is_recorded_not_sent(app, company, inbox):
    def broken(job):
        raise RuntimeError("boom")

    result, _ = run(inbox.url, build=broken)
    assert inbox.messages == [] and len(result.failed) == 3
    assert "RuntimeError: boom" in rows()[("company", "owner@example.jp")].error


def test_two_concurrent_senders_send_once(app, company, inbox):
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def sender():
        try:
            with app.app_context():
                barrier.wait()
                run(inbox.url)
                db.session.remove()
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert inbox.to() == ["m1@example.jp", "m2@example.jp", "owner@example.jp"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.jp:2525", ("mail.example.jp", 2525, "plain", "", "", True)),
        ("smtp://mail.example.jp", ("mail.example.jp", 25, "plain", "", "", True)),
        ("smtp+starttls://u%40x:p%3Aw@mx:587", ("mx", 587, "starttls", "u@x", "p:w", True)),
        ("smtp://mx:25?starttls=1&verify=0", ("mx", 25, "starttls", "", "", False)),
        ("smtps://user:pw@mx", ("mx", 465, "ssl", "user", "pw", True)),
    ],
)
def test_smtp_url(url, expected):
    s = mailer.SmtpSettings.parse(url)
    assert (s.host, s.port, s.security, s.user, s.password, s.verify) == expected


@pytest.mark.parametrize("url", ["http://mx", "smtp://", "mx:25"])
def test_smtp_url_rejects(url):
    with pytest.raises(ValueError, match="FIELDLOG_SMTP_URL"):
        mailer.SmtpSettings.parse(url)


@pytest.fixture
def tls_inbox(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = Inbox()
    controller = Controller(
        box, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True
    )
    controller.start()
    box.url = f"smtp+starttls://127.0.0.1:{controller.port}"
    yield box
    controller.stop()


def test_starttls_with_verification_configurable(app, company, tls_inbox):
    verified, _ = run(tls_inbox.url + "?timeout=5")
    assert tls_inbox.messages == [] and len(verified.failed) == 3  # self-signed: refused
    assert "CERTIFICATE_VERIFY_FAILED" in rows()[("company", "owner@example.jp")].error

    run(tls_inbox.url + "?verify=0")
    assert tls_inbox.to() == ["m1@example.jp", "m2@example.jp", "owner@example.jp"]


def test_plain_server_refuses_when_starttls_required(app, company, tls_inbox):
    plain = tls_inbox.url.replace("smtp+starttls", "smtp")
    result, _ = run(plain)
    assert tls_inbox.messages == [] and len(result.failed) == 3


@pytest.mark.parametrize(
    ("status", "age_minutes", "claimed"),
    [
        (None, 0, True),  # new row
        ("sent", 60, False),
        ("failed", 0, True),
        ("pending", 0, True),
        ("sending", 1, False),  # another sender is on it
        ("sending", 60, True),  # that sender died mid-send
        (mailer.NO_RECIPIENTS, 0, False),
    ],
)
def test_claim(app, status, age_minutes, claimed):
    from datetime import UTC, datetime, timedelta

    if status is not None:
        when = datetime.now(UTC) - timedelta(minutes=age_minutes)
        db.session.add(ReportDelivery(week="2026-W47", report="company", recipient="o@x.jp",
                                      status=status, attempts=1, updated_at=when))  # fmt: skip
        db.session.commit()
    assert mailer.claim(db.session, "2026-W47", "company", "o@x.jp") is claimed
    row = rows()[("company", "o@x.jp")]
    assert row.status == ("sending" if claimed else status)
    assert row.attempts == (2 if claimed and status else 1)


def test_mail_carries_date_and_message_id(app, company, inbox):
    """RFC 5322 requires Date; relays and spam filters reject or mark mail without it."""
    run(inbox.url)
    msg = inbox.messages[0][1]
    sent = email.utils.parsedate_to_datetime(msg["Date"])
    assert sent.tzinfo is not None
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@example.jp>")
    assert len({m["Message-ID"] for _, m in inbox.messages}) == len(inbox.messages)


def test_readme_smtp_examples_with_a_password_are_encrypted():
    """An operator copies README's example: one with credentials must not log in in clear."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"`(smtps?(?:\+starttls)?://[^`\s]*:[^`\s]*@[^`\s]+)`", readme)
    assert len(examples) >= 2
    for url in examples:
        assert mailer.SmtpSettings.parse(url).security in {"starttls", "ssl"}, url


def test_a_failed_send_records_the_failure_and_keeps_nothing_half_written(app, company, inbox):
    """The build only reads: what it wrote before the mail failed is rolled back, while the
    failure is committed on the delivery row (no sent time, no snapshot of sent figures)."""
    from fieldlog.kpi import lead_cache
    from fieldlog.models import Branch, ReportSnapshot

    def writes_then_builds(job):
        half = Branch(code="HALF", name="書きかけ支店")
        db.session.add(half)
        lead_cache.rows_changed(db.session, [half])  # a writer's step, rolled back with it
        db.session.flush()
        return fake_build(job)

    down = f"smtp://127.0.0.1:{free_port()}?timeout=2"
    result, _ = run(down, build=writes_then_builds)
    assert len(result.failed) == 3 and inbox.messages == []
    recorded = rows()
    for key in [("branch:TKY", "m1@example.jp"), ("branch:TKY", "m2@example.jp")]:
        row = recorded[key]
        assert (row.status, row.attempts, row.sent_at) == ("failed", 1, None)
        assert "ConnectionRefusedError" in row.error
    assert recorded[("branch:OSK", "")].status == mailer.NO_RECIPIENTS
    assert db.session.scalars(select(Branch).where(Branch.code == "HALF")).all() == []
    assert db.session.scalars(select(ReportSnapshot)).all() == []

    def fails_after_writing(job):
        writes_then_builds(job)
        raise RuntimeError("half way")

    again, _ = run(inbox.url, build=fails_after_writing)
    assert len(again.failed) == 3 and inbox.messages == []
    row = rows()[("company", "owner@example.jp")]
    assert (row.status, row.attempts, row.sent_at) == ("failed", 2, None)
    assert row.error == "RuntimeError: half way"
    assert db.session.scalars(select(Branch).where(Branch.code == "HALF")).all() == []

    run(inbox.url)
    assert inbox.to() == ["m1@example.jp", "m2@example.jp", "owner@example.jp"]
    assert {r.status for r in rows().values()} == {"sent", mailer.NO_RECIPIENTS}
    assert len(db.session.scalars(select(ReportSnapshot)).all()) == 2


def test_the_sent_mark_and_the_closed_weeks_snapshot_are_one_unit_of_work(
    app, company, inbox, monkeypatch
):
    """A mail's "sent" and the figures kept for its closed week commit together: when keeping
    the figures fails, the mark is rolled back with them (nothing half written)."""
    from fieldlog.kpi import closed_weeks
    from fieldlog.models import ReportSnapshot

    kept = closed_weeks.record_snapshot

    def keeps_then_fails(session, *args, **kwargs):
        kept(session, *args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(closed_weeks, "record_snapshot", keeps_then_fails)
    with pytest.raises(RuntimeError):
        run(inbox.url)
    sent = {k: r.status for k, r in rows().items() if k[1]}
    assert sent == {("branch:TKY", "m1@example.jp"): "sending"}  # claimed, never marked sent
    assert db.session.scalars(select(ReportSnapshot)).all() == []

    monkeypatch.setattr(closed_weeks, "record_snapshot", kept)
    assert kept(db.session, WEEK.label, "company", {}, sent_at=mailer._now()) is True
    assert kept(db.session, WEEK.label, "company", {"x": 1}, sent_at=mailer._now()) is False
    db.session.rollback()
