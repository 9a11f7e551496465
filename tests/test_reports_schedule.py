"""The Monday 07:00 decision with a controlled clock, and the thread's start-up rules."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fieldlog import create_app
from fieldlog.jobs import schedule
from fieldlog.jobs.schedule import due_week
from fieldlog.rules.periods import Period

TZ = ZoneInfo("Asia/Tokyo")
W46, W47 = Period.parse("2026-W46"), Period.parse("2026-W47")


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


@pytest.mark.parametrize(
    ("now", "last_done", "due"),
    [
        (jst(2026, 11, 22, 23, 59), W46, None),  # Sunday night: W47 not over yet
        (jst(2026, 11, 23, 6, 59), W46, None),  # Monday before 07:00
        (jst(2026, 11, 23, 6, 59), None, W46),  # fresh process before 07:00: W46 still owed
        (jst(2026, 11, 23, 7, 0), W46, W47),  # Monday 07:00 sharp
        (jst(2026, 11, 23, 7, 0), None, W47),
        (jst(2026, 11, 24, 15, 0), W46, W47),  # down on Monday, back on Tuesday
        (jst(2026, 11, 23, 7, 5), W47, None),  # already sent
        (jst(2026, 11, 29, 23, 0), W47, None),  # rest of the week
        (jst(2026, 11, 30, 7, 0), W47, Period.parse("2026-W48")),
        (datetime.fromisoformat("2026-11-22T22:00:00+00:00"), W46, W47),  # 07:00 JST in UTC
        (datetime.fromisoformat("2026-11-22T21:59:00+00:00"), W46, None),
        (jst(2027, 1, 4, 7, 0), None, Period.parse("2026-W53")),  # ISO year with 53 weeks
    ],
)
def test_due_week(now, last_done, due):
    assert due_week(now, TZ, last_done) == due


def test_due_week_in_another_timezone():
    ny = ZoneInfo("America/New_York")
    monday_7am_ny = datetime(2026, 11, 23, 7, 0, tzinfo=ny)
    assert due_week(monday_7am_ny, ny, W46) == W47
    assert due_week(monday_7am_ny, TZ, W46) == W47  # already Monday 21:00 in Tokyo


@pytest.mark.parametrize(
    ("config", "started"),
    [
        ({"TESTING": True, "FIELDLOG_SCHEDULER": True, "FIELDLOG_SMTP_URL": "smtp://x"}, False),
        ({"FIELDLOG_SCHEDULER": False, "FIELDLOG_SMTP_URL": "smtp://x"}, False),
        ({"FIELDLOG_SCHEDULER": True, "FIELDLOG_SMTP_URL": ""}, False),
    ],
)
def test_scheduler_only_starts_when_enabled(tmp_path, config, started):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", **config})
    assert (schedule.start_scheduler(app) is not None) is started


def test_factory_starts_no_thread(tmp_path):
    import threading

    before = {t.name for t in threading.enumerate()}
    create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "FIELDLOG_SCHEDULER": True,
                "FIELDLOG_SMTP_URL": "smtp://127.0.0.1:1"})  # fmt: skip
    assert "fieldlog-reports" not in {t.name for t in threading.enumerate()} - before


def test_run_once_sends_due_week_then_stops(app, make, monkeypatch):
    calls = []

    def fake_send(session, period, **kwargs):
        calls.append(period)
        from fieldlog.reports.mailer import RunResult

        return RunResult(period.label)

    monkeypatch.setattr("fieldlog.reports.mailer.send_week", fake_send)
    monkeypatch.setattr("fieldlog.reports.mailer.default_builder", lambda *a: None)
    scheduler = schedule.Scheduler(app)
    assert scheduler.run_once(jst(2026, 11, 23, 7, 1)) is True
    assert scheduler.run_once(jst(2026, 11, 23, 7, 6)) is True
    assert calls == [W47] and scheduler.last_done == W47


def test_run_once_keeps_retrying_after_failures(app, monkeypatch):
    from fieldlog.reports.mailer import Outcome, RunResult

    def failing(session, period, **kwargs):
        return RunResult(period.label, [Outcome("company", "o@example.jp", "failed", "down")])

    monkeypatch.setattr("fieldlog.reports.mailer.send_week", failing)
    monkeypatch.setattr("fieldlog.reports.mailer.default_builder", lambda *a: None)
    scheduler = schedule.Scheduler(app)
    assert scheduler.run_once(jst(2026, 11, 23, 7, 1)) is False
    assert scheduler.last_done is None  # due again on the next wake
