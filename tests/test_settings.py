"""Owner settings pages: active KPIs with the lint, targets with history, thresholds."""

from __future__ import annotations

import pytest

from fieldlog.app.extensions import db
from fieldlog.models import KpiTarget
from fieldlog.services.defaults import company_settings

from .conftest import csrf_from


@pytest.fixture
def owner(make, auth):
    tokyo = make.branch("TKY", "東京支店")
    make.user("rep", tokyo, email="sato@example.jp")
    user = make.user("owner")
    db.session.commit()
    auth.login(user)
    return user


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/settings/kpis", "rep"),
        ("/settings/kpis", "manager"),
        ("/settings/thresholds", "rep"),
        ("/settings/thresholds", "manager"),
        ("/settings/targets", "rep"),
    ],
)
def test_only_the_owner_opens_company_settings(client, auth, make, path, role):
    user = make.user(role, make.branch())
    db.session.commit()
    auth.login(user)
    assert client.get(path).status_code == 403


def test_a_manager_sets_targets_for_their_branch_and_its_reps_only(client, auth, make):
    """docs/contract.md: a branch manager sets targets — their own branch's, not the company's."""
    from fieldlog.models import KpiTarget

    home, other = make.branch("TKY"), make.branch("OSA")
    manager = make.user("manager", home)
    rep = make.user("rep", home, email="rep-home@example.jp")
    stranger = make.user("rep", other, email="rep-away@example.jp")
    db.session.commit()
    auth.login(manager)
    html = client.get("/settings/targets").get_data(as_text=True)
    assert 'value="branch:TKY"' in html and 'value="rep:rep-home@example.jp"' in html
    assert 'value="company"' not in html and "branch:OSA" not in html
    assert "rep-away@example.jp" not in html and "有効なKPI" not in html  # no owner-only tabs
    form = {
        "csrf_token": csrf_from(html),
        "kpi": "hearing_rate",
        "period_kind": "week",
        "value": "0.6",
        "effective_from": "2026-11-23",
    }
    for scope in ("branch:TKY", f"rep:{rep.email}"):
        assert client.post("/settings/targets", data={**form, "scope": scope}).status_code == 302
    for scope in ("company", "branch:OSA", f"rep:{stranger.email}"):
        refused = client.post("/settings/targets", data={**form, "scope": scope})
        assert refused.status_code == 422
        assert "自分の支店" in refused.get_data(as_text=True)
    saved = db.session.query(KpiTarget).order_by(KpiTarget.id).all()
    assert [(t.scope_kind, t.branch_id, t.user_id) for t in saved] == [
        ("branch", home.id, None),
        ("rep", None, rep.id),
    ]


def test_kpi_page_shows_lint_and_saves_the_set(client, owner):
    html = client.get("/settings/kpis").get_data(as_text=True)
    assert "参考" in html  # visit_count is offered as reference only
    response = client.post(
        "/settings/kpis",
        data={
            "csrf_token": csrf_from(html),
            "active": ["visit_count", "hearing_rate"],
            "why-hearing_rate": "課題を聞けば提案が生まれる",
        },
    )
    assert response.status_code == 302
    settings = company_settings(db.session)
    assert settings.active_kpis == ["visit_count", "hearing_rate"]
    assert settings.kpi_why["hearing_rate"] == "課題を聞けば提案が生まれる"
    html = client.get("/settings/kpis").get_data(as_text=True)
    assert 'class="card card-warn"' in html  # visit count alone / too few: the lint says so
    assert "課題を聞けば提案が生まれる" in html


def test_kpi_page_rejects_unknown_keys(client, owner):
    html = client.get("/settings/kpis").get_data(as_text=True)
    response = client.post(
        "/settings/kpis", data={"csrf_token": csrf_from(html), "active": ["nonsense"]}
    )
    assert response.status_code == 422
    assert 'class="field-error"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"kpi": "hearing_rate", "scope": "company", "value": "0.7"}, 302),
        ({"kpi": "proposal_count", "scope": "branch:TKY", "value": "12"}, 302),
        ({"kpi": "hearing_rate", "scope": "rep:sato@example.jp", "value": "0.5"}, 302),
        ({"kpi": "hearing_rate", "scope": "company", "value": "70"}, 422),
        ({"kpi": "hearing_rate", "scope": "branch:NOPE", "value": "0.7"}, 422),
        ({"kpi": "hearing_rate", "scope": "company", "value": "abc"}, 422),
        ({"kpi": "proposal_count", "scope": "company", "value": "12.5"}, 422),
        ({"kpi": "hearing_rate", "scope": "company", "value": "80%"}, 302),
        ({"kpi": "hearing_rate", "scope": "company", "value": "８０％"}, 302),
        ({"kpi": "sales_amount", "scope": "company", "value": "¥100,000"}, 302),
        ({"kpi": "sales_amount", "scope": "company", "value": "100,000円"}, 302),
        ({"kpi": "sales_amount", "scope": "company", "value": "80%"}, 422),
        ({"kpi": "sales_amount", "scope": "company", "value": "1e400"}, 422),
        ({"kpi": "sales_amount", "scope": "company", "value": "9" * 30}, 422),
        ({"kpi": "proposal_count", "scope": "company", "value": "1²"}, 422),  # not 12
        ({"kpi": "proposal_count", "scope": "company", "value": "①"}, 422),
    ],
)
def test_targets_are_added_with_history(client, owner, form, status):
    html = client.get("/settings/targets").get_data(as_text=True)
    data = {"csrf_token": csrf_from(html), "period_kind": "week", "effective_from": "2026-11-02"}
    response = client.post("/settings/targets", data={**data, **form})
    assert response.status_code == status
    assert db.session.query(KpiTarget).count() == (1 if status == 302 else 0)
    if status == 422:  # the message names its field, at the top and beside the field
        html = response.get_data(as_text=True)
        field = "scope" if "NOPE" in form["scope"] else "value"
        label = {"scope": "対象", "value": "目標値"}[field]
        assert f'<a href="#{field}">{label}</a>: ' in html
        assert f'aria-describedby="err-{field}"' in html
    if status == 302:
        page = client.get("/settings/targets").get_data(as_text=True)
        assert "2026" in page and "kpi-table" in page
        stored = db.session.query(KpiTarget).one().value
        assert stored == {"80%": 0.8, "８０％": 0.8}.get(form["value"], stored)
        assert stored == {"¥100,000": 100000, "100,000円": 100000}.get(form["value"], stored)


def test_the_same_target_saved_twice_is_kept_once(client, owner):
    """A second tap on 保存 (or the same form sent again) is not a second target in the list."""
    html = client.get("/settings/targets").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(html),
        "kpi": "hearing_rate",
        "scope": "branch:TKY",
        "period_kind": "week",
        "value": "0.65",
        "effective_from": "2026-12-14",
    }
    assert client.post("/settings/targets", data=data).status_code == 302
    assert client.post("/settings/targets", data=data).status_code == 302
    assert db.session.query(KpiTarget).count() == 1
    # Another value from the same day, or the same value from another day, is a new target.
    assert client.post("/settings/targets", data={**data, "value": "0.7"}).status_code == 302
    later = {**data, "value": "0.7", "effective_from": "2026-12-21"}
    assert client.post("/settings/targets", data=later).status_code == 302
    assert db.session.query(KpiTarget).count() == 3


def test_thresholds_are_saved_and_validated(client, owner):
    html = client.get("/settings/thresholds").get_data(as_text=True)
    assert 'value="60"' in html and 'value="90"' in html
    good = {
        "csrf_token": csrf_from(html),
        "dormant_visit_days": "45",
        "dormant_sales_days": "120",
        "cycle_days_a": "7",
        "cycle_days_b": "28",
        "cycle_days_c": "56",
    }
    assert client.post("/settings/thresholds", data=good).status_code == 302
    settings = company_settings(db.session)
    assert (settings.dormant_visit_days, settings.cycle_days_a) == (45, 7)
    bad = {**good, "cycle_days_b": "0", "dormant_sales_days": "x"}
    response = client.post("/settings/thresholds", data=bad)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.count('class="field-error"') == 2
    # Each message names its field in the summary and is tied to its input.
    assert '<a href="#dormant_sales_days">売上がない日数</a>: 1〜3650の整数を' in html
    assert '<a href="#cycle_days_b">ランク別の訪問周期（日） · ランクB</a>: 1〜365の整数' in html
    assert 'aria-invalid="true" aria-describedby="err-cycle_days_b"' in html
    assert 'id="err-dormant_sales_days"' in html
    db.session.expire_all()
    assert company_settings(db.session).dormant_sales_days == 120


def test_thresholds_take_effect_in_the_roll_up_and_the_lists(client, owner, make):
    from datetime import date

    from fieldlog.kpi import Scope, rollup
    from fieldlog.models import Branch, User
    from fieldlog.reports.lists import customers_at_risk
    from fieldlog.rules.periods import Period
    from tests.conftest import TZ

    tokyo = db.session.scalars(db.select(Branch).where(Branch.code == "TKY")).one()
    sato = db.session.scalars(db.select(User).where(User.email == "sato@example.jp")).one()
    customer = make.customer(tokyo, sato, rank="A")
    make.visit(sato, customer, visited_at="2026-10-01T10:00:00+09:00")  # 52 days before W47's end
    db.session.commit()
    w47 = Period.parse("2026-W47")

    def dormant():
        return rollup(db.session, Scope.branch(tokyo.id), w47, today=date(2026, 11, 23), tz=TZ)[
            "dormant_rate"
        ].numerator

    def listed():
        return [c.reason for c in customers_at_risk(db.session, tokyo, w47.end, TZ)[0]]

    assert (dormant(), listed()) == (0, ["cycle"])  # rank A: 14 days
    html = client.get("/settings/thresholds").get_data(as_text=True)
    form = {
        "csrf_token": csrf_from(html),
        "dormant_visit_days": "45",
        "dormant_sales_days": "90",
        "cycle_days_a": "60",
        "cycle_days_b": "30",
        "cycle_days_c": "60",
    }
    assert client.post("/settings/thresholds", data=form).status_code == 302
    db.session.expire_all()
    assert (dormant(), listed()) == (1, ["dormant"])
    form["dormant_visit_days"] = "60"
    assert client.post("/settings/thresholds", data=form).status_code == 302
    db.session.expire_all()
    assert (dormant(), listed()) == (0, [])  # within 60 days and within rank A's new 60
