"""Writers keep the kept lead analyses in step by named steps (no Session hook), and the test
suite's check reports a writer that forgot (docs/architecture.md, "Write steps")."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from fieldlog.app.database import unit_of_work
from fieldlog.app.extensions import db
from fieldlog.io.importer import import_file
from fieldlog.kpi import deepening, dormancy
from fieldlog.kpi.lead_cache import UntoldLeadWriteWarning
from fieldlog.models import CompanySettings, LeadCache, Proposal, Visit
from fieldlog.services.visits import record_visit

from .conftest import NOW, TZ, visit_payload
from .io_files import csv_file


def _kept(until: datetime, name: str) -> LeadCache:
    """A kept analysis whose window ends at ``until`` (naive UTC, as stored)."""
    return LeadCache(
        until=name,
        weeks=26,
        kgi="sales_amount",
        scope="company",
        kpi="visit_count",
        window_end=until.date(),
        window_until=until,
        result={},
    )


def _kept_names() -> list[str]:
    db.session.expire_all()
    return sorted(db.session.scalars(select(LeadCache.until)))


@pytest.fixture
def world(make):
    branch = make.branch("TKY", "東京支店")
    rep = make.user("rep", branch, email="rep@example.jp")
    customer = make.customer(branch, rep, code="C-1")
    db.session.commit()
    return {"branch": branch, "rep": rep, "customer": customer}


def _keep_two(day: date) -> None:
    """One analysis whose window covers ``day`` and one that ended the day before."""
    end = datetime(day.year, day.month, day.day) + timedelta(days=1)
    db.session.add_all([_kept(end, "covering"), _kept(end - timedelta(days=2), "earlier")])
    db.session.commit()


def test_a_visit_alone_forgets_the_kept_analyses_whose_window_it_falls_in(world):
    """No proposal, no follow-up: the visit's own time still makes covering analyses stale."""
    visited = NOW - timedelta(days=3)
    covering = _kept(visited + timedelta(hours=1), "covering")
    earlier = _kept(visited - timedelta(hours=1), "earlier")
    db.session.add_all([covering, earlier])
    db.session.commit()
    payload = visit_payload(world["customer"], visited_at=visited.isoformat())
    record_visit(db.session, world["rep"], payload, tz=TZ, now=NOW)
    db.session.commit()
    assert _kept_names() == ["earlier"]


def test_a_follow_up_done_through_the_api_forgets_what_it_falls_in(client, auth, world):
    auth.login(world["rep"])
    token = auth.csrf()
    payload = visit_payload("C-1", next_action={"action": "電話", "due_on": "2026-11-24"})
    visit = client.post("/api/v1/visits", json=payload, headers={"X-CSRFToken": token})
    follow_up_id = visit.get_json()["follow_up"]["id"]
    _keep_two(date(2026, 11, 24))
    answer = client.post(
        f"/api/v1/follow-ups/{follow_up_id}/done",
        json={"done_on": "2026-11-23"},
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 200
    assert _kept_names() == []  # done_on and the visit's day both fall in the windows


def test_a_proposal_closed_through_the_api_forgets_what_it_falls_in(client, auth, world):
    auth.login(world["rep"])
    token = auth.csrf()
    visited = (NOW - timedelta(days=5)).isoformat()
    payload = visit_payload("C-1", visited_at=visited, proposal={"amount": 1000})
    proposal_id = client.post(
        "/api/v1/visits", json=payload, headers={"X-CSRFToken": token}
    ).get_json()["proposal"]["id"]
    _keep_two(date(2026, 11, 19))  # after the proposal's day, before the visit's window ends
    answer = client.post(
        f"/api/v1/proposals/{proposal_id}/close",
        json={"status": "won", "closed_on": "2026-11-20"},
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 200
    assert _kept_names() == []


def test_a_sales_import_forgets_from_its_earliest_line(world, tmp_path):
    """The import's Core writes, which no flush hook saw, forget from the earliest line."""
    _keep_two(date(2026, 10, 1))
    db.session.add(_kept(datetime(2026, 11, 1), "later"))
    db.session.commit()
    path = csv_file(
        tmp_path,
        "sales.csv",
        ["売上日,顧客コード,カテゴリ,金額,粗利,伝票番号", "2026/10/2,C-1,,1000,,S-1"],
    )
    assert import_file(db.session, "sales", path).ok
    assert _kept_names() == ["earlier"]  # the windows ending on or after 2 October went


def test_a_customers_import_forgets_everything(world, tmp_path):
    _keep_two(date(2026, 10, 1))
    path = csv_file(
        tmp_path,
        "customers.csv",
        ["顧客コード,顧客名,フリガナ,支店,担当者,ランク,訪問サイクル", "C-2,新規,,TKY,,B,"],
    )
    assert import_file(db.session, "customers", path).ok
    assert _kept_names() == []


def test_a_writer_that_forgets_its_step_is_reported(world, make):
    """The suite's check: rows a unit of work flushes without ``rows_changed`` are reported."""
    make.visit(world["rep"], world["customer"], purpose="proposal", proposal={"amount": 1})
    db.session.commit()
    proposal = db.session.scalars(select(Proposal)).one()
    with pytest.warns(UntoldLeadWriteWarning, match="Proposal rows"), unit_of_work(db.session):
        proposal.status, proposal.closed_on = "won", date(2026, 11, 23)


def test_the_summaries_are_exact_after_visit_posts_through_the_api(client, auth, world, make):
    """The API's one write transaction runs the dormancy step: the runs equal a rebuild's, and
    a client_id posted twice is stored once."""
    make.sale(world["customer"], date(2026, 9, 1))
    make.sale(world["customer"], date(2026, 11, 2))
    db.session.commit()
    assert dormancy.usable(db.session, db.session.get(CompanySettings, 1), TZ)
    auth.login(world["rep"])
    token = auth.csrf()
    days = ["2026-08-20", "2026-11-20", "2026-10-01", "2026-11-21", "2026-09-15"]
    for k, day in enumerate(days):
        extra = {"proposal": {"amount": 1000}, "purpose": "proposal"} if k % 2 else {}
        payload = visit_payload("C-1", visited_at=f"{day}T23:30:00+09:00", **extra)
        for status in (201, 200):  # the replay writes nothing
            answer = client.post("/api/v1/visits", json=payload, headers={"X-CSRFToken": token})
            assert answer.status_code == status
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Visit.id))) == len(days)
    assert dormancy.differences(db.session) == 0
    assert deepening.differences(db.session) == 0
