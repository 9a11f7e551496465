"""Targets and settings under audit: who may set a past target, and /settings/history."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from fieldlog.app.extensions import db
from fieldlog.kpi import Scope
from fieldlog.kpi.targets import set_target
from fieldlog.models import KpiTarget, Purpose, SettingChange
from fieldlog.services import audit
from fieldlog.services.errors import Invalid

from .conftest import csrf_from

# The app's clock is Monday 2026-11-23 (W48): the current week starts that day.
WHEN = {
    "months_back": "2026-09-01",
    "last_week": "2026-11-16",
    "yesterday": "2026-11-22",
    "week_start": "2026-11-23",
    "later_this_week": "2026-11-26",
    "future": "2026-12-07",
}
PAST = {"months_back", "last_week", "yesterday"}


@pytest.fixture
def world(make):
    tokyo, osaka = make.branch("TKY", "東京支店"), make.branch("OSK", "大阪支店")
    people = {
        "owner": make.user("owner", name="社長"),
        "manager": make.user("manager", tokyo, name="東京支店長"),
        "other_manager": make.user("manager", osaka, name="大阪支店長"),
        "rep": make.user("rep", tokyo, email="sato@example.jp", name="佐藤"),
    }
    db.session.commit()
    return people


def post_target(client, when: str, scope: str = "branch:TKY", value: str = "0.05"):
    html = client.get("/settings/targets").get_data(as_text=True)
    form = {
        "csrf_token": csrf_from(html),
        "kpi": "hearing_rate",
        "scope": scope,
        "period_kind": "week",
        "value": value,
        "effective_from": when,
    }
    return client.post("/settings/targets", data=form)


@pytest.mark.parametrize("when", list(WHEN))
@pytest.mark.parametrize("role", ["owner", "manager", "rep"])
def test_who_may_set_a_target_from_when(client, auth, world, role, when):
    auth.login(world[role])
    response = post_target(client, WHEN[when])
    stored = db.session.scalars(select(KpiTarget)).all()
    if role == "rep":
        assert response.status_code == 403 and stored == []
    elif role == "manager" and when in PAST:
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert "今週より前から適用する目標は経営者だけが設定できます" in page
        assert 'id="err-effective_from"' in page and "2026-11-23" in page
        assert stored == [] and db.session.scalars(select(SettingChange)).all() == []
    else:
        assert response.status_code == 302, response.get_data(as_text=True)
        assert [(t.value, t.effective_from.isoformat()) for t in stored] == [(0.05, WHEN[when])]
        [change] = db.session.scalars(select(SettingChange)).all()
        assert (change.kind, change.key, change.user_id) == (
            "target",
            "hearing_rate",
            world[role].id,
        )


def test_the_refusal_speaks_the_users_language(client, auth, world):
    client.set_cookie("fieldlog_lang", "en")
    auth.login(world["manager"])
    response = post_target(client, WHEN["last_week"])
    assert response.status_code == 422
    assert "Only an owner can set a target in force before the current week" in response.get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("role", "when", "refused"),
    [
        ("owner", "months_back", False),
        ("manager", "months_back", True),
        ("manager", "yesterday", True),
        ("manager", "week_start", False),
        ("rep", "last_week", True),
        ("rep", "future", False),
    ],
)
def test_the_rule_lives_in_the_service(world, role, when, refused):
    """Whatever the caller, a non-owner's past-dated target is Invalid on effective_from."""
    call = lambda: set_target(  # noqa: E731
        db.session,
        "hearing_rate",
        Scope.company(),
        "week",
        0.5,
        date.fromisoformat(WHEN[when]),
        world[role],
        today=date(2026, 11, 23),
    )
    if refused:
        with pytest.raises(Invalid) as caught:
            call()
        assert list(caught.value.errors) == ["effective_from"]
    else:
        assert call().value == 0.5


def _history(client, **args) -> str:
    response = client.get("/settings/history", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
        for row in body.split("</tr>")[:-1]
    ]


def test_every_kind_of_change_is_kept_with_who_when_and_old_to_new(client, auth, world):
    auth.login(world["owner"])
    token = csrf_from(client.get("/settings/kpis").get_data(as_text=True))
    assert post_target(client, WHEN["months_back"], "company", "0.6").status_code == 302
    # The scenario of issue #19: a target lowered, effective from months back.
    assert post_target(client, WHEN["months_back"], "branch:TKY", "0.05").status_code == 302
    assert post_target(client, WHEN["future"], "branch:TKY", "0.1").status_code == 302
    kpis = ["purposeful_visit_rate", "hearing_rate", "next_action_rate"]
    assert (
        client.post("/settings/kpis", data={"csrf_token": token, "active": kpis}).status_code == 302
    )
    thresholds = client.get("/settings/thresholds").get_data(as_text=True)
    form = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', thresholds))
    form["dormant_visit_days"] = "45"
    assert client.post("/settings/thresholds", data=form).status_code == 302
    budget = {
        "csrf_token": token,
        "month": "2026-12",
        "branch": "TKY",
        "rep": "",
        "amount": "5000000",
    }
    assert client.post("/settings/budgets", data=budget).status_code == 302
    assert client.post("/settings/budgets", data={**budget, "amount": "4000000"}).status_code == 302
    routine = db.session.scalars(select(Purpose).where(Purpose.code == "routine")).one()
    edit = client.get(f"/admin/purposes/{routine.id}").get_data(as_text=True)
    purpose_form = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', edit))
    purpose_form.update({"csrf_token": csrf_from(edit), "purposeful": "y", "active": "y"})
    assert client.post(f"/admin/purposes/{routine.id}", data=purpose_form).status_code == 302

    db.session.rollback()
    changes = db.session.scalars(select(SettingChange).order_by(SettingChange.id)).all()
    summary = [(c.kind, c.key, c.old, c.new) for c in changes]
    assert summary[0][:3] == ("target", "hearing_rate", None)
    assert summary[1][2] is None  # the branch had no target of its own before
    assert summary[1][3] == {
        "scope": "branch:TKY",
        "period_kind": "week",
        "value": 0.05,
        "effective_from": "2026-09-01",
    }
    assert summary[2][2]["value"] == 0.05 and summary[2][3]["value"] == 0.1
    assert summary[3][:2] == ("active_kpis", "active_kpis") and summary[3][3] == kpis
    assert ("threshold", "dormant_visit_days", 60, 45) in summary
    assert ("budget", "2026-12", None, 5_000_000) in summary
    assert ("budget", "2026-12", 5_000_000, 4_000_000) in summary
    assert ("purpose", "routine", False, True) in summary
    assert len(summary) == 8  # unchanged thresholds and fields are not listed
    assert all(c.user_id == world["owner"].id and c.changed_at for c in changes)

    rows = _rows(_history(client))
    assert len(rows) == 8
    assert "定期巡回" in rows[0] and "目的なし" in rows[0] and "目的あり" in rows[0]
    assert "社長" in rows[0]
    lowered = next(r for r in rows if "東京支店" in r and "5.0%" in r and "10.0%" in r)
    assert "2026-12-07" in lowered
    assert any("¥5,000,000" in r and "¥4,000,000" in r for r in rows)


def test_who_sees_the_history(client, auth, world):
    owner, manager = world["owner"], world["other_manager"]
    set_target(db.session, "hearing_rate", Scope.company(), "week", 0.5, date(2026, 1, 5), owner)
    tokyo = world["manager"].branch
    osaka = manager.branch
    set_target(
        db.session, "hearing_rate", Scope.branch(tokyo.id), "week", 0.6, date(2026, 1, 5), owner
    )
    set_target(
        db.session, "hearing_rate", Scope.branch(osaka.id), "week", 0.7, date(2026, 1, 5), owner
    )
    set_target(
        db.session, "hearing_rate", Scope.rep(world["rep"].id), "week", 0.8, date(2026, 1, 5), owner
    )
    db.session.commit()

    auth.login(world["rep"])
    assert client.get("/settings/history").status_code == 403
    auth.logout()
    response = client.get("/settings/history")
    assert response.status_code == 302 and "/login" in response.headers["Location"]

    auth.login(world["manager"])  # Tokyo: the company's, Tokyo's and its rep's
    rows = _rows(_history(client))
    assert [r for r in rows if "大阪支店" in r] == [] and len(rows) == 3
    assert any("佐藤 (東京支店)" in r for r in rows)  # the rep by name
    auth.logout()
    auth.login(owner)
    assert len(_rows(_history(client))) == 4
    assert client.get("/settings/history?page=abc").status_code == 400


def test_the_history_is_paginated_newest_first(client, auth, world):
    owner = world["owner"]
    for n in range(120):
        audit.record_change(db.session, owner, "threshold", "late_entry_days", n, n + 1)
    db.session.commit()
    auth.login(owner)
    first = _rows(_history(client))
    assert len(first) == audit.PER_PAGE and first[0].endswith("119 120")
    page_3 = _history(client, page=3)
    assert len(_rows(page_3)) == 20 and _rows(page_3)[-1].endswith("0 1")
    assert 'rel="prev"' in page_3 and 'rel="next"' not in page_3
    assert _rows(_history(client, page=99)) == _rows(page_3)  # past the end: the last page
    client.set_cookie("fieldlog_lang", "en")
    english = _history(client)
    assert (
        "Settings history" in english and "Value before" in english and "Older changes" in english
    )


def test_equal_values_are_not_a_change(world):
    assert audit.record_change(db.session, None, "threshold", "x", 3, 3) is None
    with pytest.raises(ValueError):
        audit.record_change(db.session, None, "colour", "x", 1, 2)


def test_the_owner_summary_shows_the_target_beside_each_mark(client, auth, world, make):
    owner, rep = world["owner"], world["rep"]
    customer = make.customer(rep.branch, rep)
    make.visit(rep, customer, visited_at="2026-11-17T10:00:00+09:00", hearing_done=False)
    make.visit(rep, customer, visited_at="2026-11-18T10:00:00+09:00")
    company = ["hearing_rate", "purposeful_visit_rate", "next_action_rate"]
    from fieldlog.kpi import choices

    choices.set_active_kpis(db.session, company)
    # A 5 % target set afterwards from months back makes W47's 50 % hearing rate 達成.
    set_target(
        db.session,
        "hearing_rate",
        Scope.branch(rep.branch_id),
        "week",
        0.05,
        date(2026, 9, 1),
        owner,
    )
    db.session.commit()
    auth.login(owner)
    html = client.get("/summary?week=2026-W47").get_data(as_text=True)
    matrix = html.split('class="kpi-table kpi-matrix"', 1)[1].split("</table>", 1)[0]
    tokyo = next(tr for tr in matrix.split("<tr") if "東京支店" in tr)
    cell = next(td for td in tokyo.split("<td") if "課題ヒアリング実施率" in td.split(">", 1)[0])
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell))
    assert "達成" in text and "目標: 5.0%" in text, text


def test_a_reps_target_and_budget_read_with_the_reps_name(client, auth, world):
    auth.login(world["owner"])
    assert post_target(client, WHEN["future"], "rep:sato@example.jp", "0.5").status_code == 302
    token = csrf_from(client.get("/settings/targets").get_data(as_text=True))
    budget = {"csrf_token": token, "month": "2026-12", "branch": "TKY", "rep": "sato@example.jp"}
    assert client.post("/settings/budgets", data={**budget, "amount": "900000"}).status_code == 302
    rows = _rows(_history(client))
    assert len(rows) == 2
    assert "2026-12 佐藤" in rows[0] and "¥900,000" in rows[0]
    assert "佐藤" in rows[1] and "50.0%" in rows[1]
    assert not any("sato@example.jp" in r for r in rows)
