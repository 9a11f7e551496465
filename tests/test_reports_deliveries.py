"""The report mail page: what went out, what failed and why, and "send again" through real SMTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from fieldlog.app.extensions import db
from fieldlog.models import ReportDelivery
from fieldlog.reports import mail_log, mailer
from tests.test_concurrency import server  # noqa: F401 — the live-server fixture
from tests.test_reports_delivery import WEEK, fake_build, free_port, inbox  # noqa: F401

from .conftest import NOW, PASSWORD, csrf_from

PAGE = "/reports/deliveries"


@pytest.fixture
def world(make):
    tokyo = make.branch("TKY", "東京支店")
    osaka = make.branch("OSK", "大阪支店")
    people = {
        "m1": make.user("manager", tokyo, email="m1@example.jp", name="田中 課長"),
        "m2": make.user("manager", tokyo, email="m2@example.jp"),
        "osaka": make.user("manager", osaka, email="osk@example.jp"),
        "rep": make.user("rep", tokyo, email="rep@example.jp"),
        "owner": make.user("owner", email="owner@example.jp", name="社長"),
    }
    db.session.commit()
    return people


def add(week, report, recipient, status, error="", attempts=1):
    row = ReportDelivery(
        week=week, report=report, recipient=recipient, status=status, attempts=attempts,
        error=error, created_at=NOW, updated_at=NOW, sent_at=NOW if status == "sent" else None,
    )  # fmt: skip
    db.session.add(row)
    db.session.commit()
    return row


def failed_run() -> None:
    """Week 47 sent while the mail server was down: every mail failed (a real refused connect)."""
    mailer.send_week(
        db.session, WEEK, build=fake_build,
        smtp_url=f"smtp://127.0.0.1:{free_port()}?timeout=2", mail_from="fieldlog@example.jp",
    )  # fmt: skip
    db.session.rollback()


def row_of(report: str, recipient: str) -> ReportDelivery:
    db.session.rollback()
    return db.session.scalars(
        select(ReportDelivery).where(
            ReportDelivery.week == WEEK.label,
            ReportDelivery.report == report,
            ReportDelivery.recipient == recipient,
        )
    ).one()


def listed(html: str) -> list[str]:
    """The delivery ids in page order."""
    return re.findall(r'data-delivery="(\d+)"', html)


def test_owner_sees_every_report_failures_first_with_the_cause_in_plain_words(client, auth, world):
    sent = add("2026-W47", "branch:TKY", "m1@example.jp", "sent")
    failed = add(
        "2026-W46", "branch:OSK", "osk@example.jp", "failed",
        error="ConnectionRefusedError: [Errno 111] Connection refused", attempts=3,
    )  # fmt: skip
    company = add("2026-W47", "company", "owner@example.jp", "sent")
    auth.login(world["owner"])
    html = client.get(PAGE).get_data(as_text=True)
    assert listed(html) == [str(failed.id), str(sent.id), str(company.id)]
    assert "レポート配信" in html and "失敗" in html and "送信済み" in html
    assert "メールサーバーが接続を拒否しました" in html
    assert "Connection refused" in html  # the technical detail stays readable
    assert "大阪支店" in html and "全社レポート" in html and "田中 課長" in html
    assert html.count('class="delivery-resend"') == 1  # only the failed one
    assert f"{PAGE}/{failed.id}/resend" in html


def test_manager_sees_only_their_branch(client, auth, world):
    own = add("2026-W47", "branch:TKY", "m1@example.jp", "failed", error="TimeoutError: timed out")
    add("2026-W47", "branch:OSK", "osk@example.jp", "failed", error="TimeoutError: timed out")
    add("2026-W47", "company", "owner@example.jp", "failed", error="TimeoutError: timed out")
    auth.login(world["m2"])
    html = client.get(PAGE).get_data(as_text=True)
    assert listed(html) == [str(own.id)]
    assert "メールサーバーから時間内に応答がありませんでした" in html
    assert client.get(PAGE, follow_redirects=False).status_code == 200
    auth.logout()
    auth.login(world["rep"])
    assert client.get(PAGE).status_code == 403


def test_week_filter_and_empty_states(client, auth, world):
    w46 = add("2026-W46", "branch:TKY", "m1@example.jp", "sent")
    w47 = add("2026-W47", "branch:TKY", "m1@example.jp", "sent")
    auth.login(world["owner"])
    assert listed(client.get(PAGE + "?week=2026-W46").get_data(as_text=True)) == [str(w46.id)]
    assert listed(client.get(PAGE).get_data(as_text=True)) == [str(w47.id), str(w46.id)]
    empty = client.get(PAGE + "?week=2026-W40").get_data(as_text=True)
    assert listed(empty) == [] and "2026-W40 のレポート配信の記録はありません。" in empty
    assert client.get(PAGE + "?week=soon").status_code == 400
    db.session.execute(ReportDelivery.__table__.delete())
    db.session.commit()
    nothing = client.get(PAGE).get_data(as_text=True)
    assert "直近12週にレポート配信の記録はありません。" in nothing


def test_page_in_english_with_waiting_and_no_recipients(client, auth, world):
    stale = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 1 h before NOW: the sender died
    row = add("2026-W47", "branch:TKY", "m1@example.jp", "sending")
    row.updated_at = stale
    add("2026-W47", "branch:OSK", "", mailer.NO_RECIPIENTS)
    db.session.commit()
    auth.login(world["owner"])
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    client.post("/locale", data={"csrf_token": token, "lang": "en", "next": PAGE})
    html = client.get(PAGE).get_data(as_text=True)
    assert "Report mail" in html and "Waiting to retry" in html and "No recipients" in html
    assert "Nobody receives this report" in html and "Send again" not in html


def test_summary_links_to_the_page(client, auth, world):
    auth.login(world["owner"])
    assert f'href="{PAGE}"' in client.get("/summary?week=2026-W47").get_data(as_text=True)
    assert f'href="{PAGE}"' in client.get("/settings/kpis").get_data(as_text=True)


def resend(client, row_id: int, week: str | None = None):
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    data = {"csrf_token": token} | ({"week": week} if week else {})
    return client.post(f"{PAGE}/{row_id}/resend", data=data)


def test_resend_mails_the_one_recipient_once_through_smtp(app, client, auth, world, inbox):  # noqa: F811
    failed_run()
    m1 = row_of("branch:TKY", "m1@example.jp")
    assert m1.status == "failed" and m1.attempts == 1
    app.config["FIELDLOG_SMTP_URL"] = inbox.url
    auth.login(world["m2"])
    response = resend(client, m1.id, week=WEEK.label)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{PAGE}?week={WEEK.label}")
    assert inbox.to() == ["m1@example.jp"]  # not m2, whose mail also failed
    ((_, msg),) = inbox.messages
    assert msg["Subject"] == "週次KPIレポート 東京支店 2026-W47"
    (attachment,) = msg.iter_attachments()
    assert attachment.get_content().startswith(b"%PDF")  # the real builder, as the weekly run
    row = row_of("branch:TKY", "m1@example.jp")
    assert (row.status, row.attempts, row.error) == ("sent", 2, "")
    assert row_of("branch:TKY", "m2@example.jp").status == "failed"
    html = client.get(PAGE).get_data(as_text=True)
    assert "2026-W47 のレポートを m1@example.jp に再送しました。" in html

    # Sent now: a second press (an old tab) and the weekly run both leave it alone.
    resend(client, m1.id)
    mailer.send_week(
        db.session, WEEK, build=fake_build, smtp_url=inbox.url,
        mail_from="fieldlog@example.jp",
    )  # fmt: skip
    assert inbox.to().count("m1@example.jp") == 1


def test_resend_that_fails_again_is_recorded(app, client, auth, world):
    failed_run()
    app.config["FIELDLOG_SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}?timeout=2"
    auth.login(world["owner"])
    row = row_of("company", "owner@example.jp")
    resend(client, row.id)
    again = row_of("company", "owner@example.jp")
    assert (again.status, again.attempts) == ("failed", 2)
    html = client.get(PAGE).get_data(as_text=True)
    assert "owner@example.jp への再送も失敗しました" in html


def test_resend_is_refused_for_other_branches_and_reps(app, client, auth, world, inbox):  # noqa: F811
    failed_run()
    app.config["FIELDLOG_SMTP_URL"] = inbox.url
    tokyo = row_of("branch:TKY", "m1@example.jp")
    company = row_of("company", "owner@example.jp")
    auth.login(world["osaka"])
    assert resend(client, tokyo.id).status_code == 404
    assert resend(client, company.id).status_code == 404
    auth.logout()
    auth.login(world["rep"])
    token = auth.csrf()
    response = client.post(f"{PAGE}/{tokyo.id}/resend", data={"csrf_token": token})
    assert response.status_code == 403
    auth.logout()
    auth.login(world["m1"])
    assert client.post(f"{PAGE}/{tokyo.id}/resend").status_code == 400  # no CSRF token
    assert inbox.messages == [] and row_of("branch:TKY", "m1@example.jp").status == "failed"


def test_resend_refused_for_someone_who_no_longer_receives_it(app, client, auth, world, inbox):  # noqa: F811
    failed_run()
    app.config["FIELDLOG_SMTP_URL"] = inbox.url
    world["m1"].active = False
    db.session.commit()
    auth.login(world["owner"])
    resend(client, row_of("branch:TKY", "m1@example.jp").id)
    html = client.get(PAGE).get_data(as_text=True)
    assert "m1@example.jp はこのレポートの宛先ではなくなったため、送信しませんでした。" in html
    assert inbox.messages == []


def test_resend_without_mail_settings_sends_nothing(app, client, auth, world):
    failed_run()
    auth.login(world["owner"])
    row = row_of("branch:TKY", "m1@example.jp")
    resend(client, row.id)
    assert row_of("branch:TKY", "m1@example.jp").attempts == 1
    assert "FIELDLOG_SMTP_URL" in client.get(PAGE).get_data(as_text=True)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("ConnectionRefusedError: [Errno 111] Connection refused", "refused"),
        ("TimeoutError: timed out", "timeout"),
        ("gaierror: [Errno -2] Name or service not known", "host"),
        ("SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED]", "tls"),
        ("SMTPAuthenticationError: (535, b'5.7.8 bad credentials')", "auth"),
        ("SMTPRecipientsRefused: {'x@y': (550, b'no such user')}", "recipient"),
        ("SMTPSenderRefused: (553, b'sender', 'f@x')", "sender"),
        ("SMTPServerDisconnected: Connection unexpectedly closed", "disconnected"),
        ("SMTPNotSupportedError: STARTTLS extension not supported by server.", "tls"),
        ("RuntimeError: boom", "other"),
        ("", ""),
    ],
)
def test_error_kind(error, kind):
    assert mail_log.error_kind(error) == kind


def test_summary_and_branch_dashboard_warn_while_a_mail_has_failed(client, auth, world):
    warning = "送信に失敗したレポートメールが1件あります。"
    add("2026-W47", "branch:OSK", "osk@example.jp", "failed", error="TimeoutError: timed out")
    add("2026-W47", "branch:TKY", "m1@example.jp", "sent")
    add("2026-W30", "branch:TKY", "m1@example.jp", "failed", error="TimeoutError: timed out")
    auth.login(world["owner"])
    assert warning in client.get("/summary?week=2026-W47").get_data(as_text=True)
    auth.logout()
    auth.login(world["m1"])  # Tokyo's only failure is older than the page's 12 weeks
    assert "送信に失敗したレポートメール" not in client.get("/branches/TKY").get_data(as_text=True)
    auth.logout()
    auth.login(world["osaka"])
    html = client.get("/branches/OSK").get_data(as_text=True)
    assert warning in html and f'href="{PAGE}"' in html


@pytest.mark.browser
def test_phone_width_page_and_resend_in_chromium(app, world, server, inbox, tmp_path):  # noqa: F811
    """At 390 px: no sideways scrolling, a thumb-sized button, and the resend goes out."""

    from .browser import desktop_page, launch_chromium, require_chromium, screenshot_dir

    require_chromium()
    failed_run()
    app.config["FIELDLOG_SMTP_URL"] = inbox.url
    errors: list[str] = []
    with launch_chromium() as browser:
        page = desktop_page(
            browser, server, "m1@example.jp", PASSWORD, errors, width=390, height=844
        )
        page.goto(f"{server}{PAGE}")
        assert page.locator("h1").inner_text() == "レポート配信"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        buttons = page.locator("form.delivery-resend button")
        assert buttons.count() == 2  # Tokyo's two managers; not the company report
        assert buttons.first.bounding_box()["height"] >= 44
        page.screenshot(path=str(screenshot_dir(tmp_path) / "deliveries-phone.png"))
        buttons.first.click()
        page.wait_for_selector(".flash-success")
        assert "再送しました" in page.locator(".flash-success").inner_text()
        assert page.locator("form.delivery-resend button").count() == 1
        page.context.close()
    assert len(inbox.messages) == 1
    assert [e for e in errors if "Content Security Policy" in e] == []
