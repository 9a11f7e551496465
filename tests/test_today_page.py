"""Today as the plan: the plan first, follow-ups due, the long-overdue group (test client)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from fieldlog.app.extensions import db
from fieldlog.models import FollowUp, PlannedVisit, Purpose

from .conftest import csrf_from

TODAY = date(2026, 11, 23)


@pytest.fixture
def world(make):
    branch = make.branch()
    rep = make.user("rep", branch, email="rep@example.jp")
    colleague = make.user("rep", branch)
    mine = make.customer(branch, rep, code="C001", name="青空商店")
    theirs = make.customer(branch, colleague, code="C002", name="緑川工業")

    def follow_up(customer, who, due_days, action):
        item = FollowUp(
            rep=who,
            branch_id=branch.id,
            customer=customer,
            action=action,
            due_on=TODAY + timedelta(days=due_days),
        )
        db.session.add(item)
        return item

    due = follow_up(mine, rep, 0, "見積りを届ける")
    late = follow_up(mine, rep, -30, "サンプル回収")
    old = follow_up(mine, rep, -31, "六月の宿題")
    db.session.commit()
    return locals()


def test_the_plan_comes_first_with_reasons_and_purposes(client, auth, world):
    auth.login(world["rep"])
    html = client.get("/").get_data(as_text=True)
    plan_at = html.index('id="plan-head"')
    assert plan_at < html.index('id="due-head"')
    assert "青空商店" in html[plan_at:]
    # The colleague's customer is shown only when the rep asks for the branch.
    assert "緑川工業" not in html
    assert "緑川工業" in client.get("/?scope=branch").get_data(as_text=True)
    plan_part = html[plan_at : html.index('id="due-head"')]
    assert "フォロー期日" in plan_part  # the reason
    assert "前回アクションのフォロー" in plan_part  # the suggested purpose
    assert "フォロー：見積りを届ける" in plan_part  # the follow-up due nearest the day


def test_follow_up_rows_open_the_visit_form_with_it_ticked(client, auth, world):
    auth.login(world["rep"])
    html = client.get("/").get_data(as_text=True)
    due_part = html[html.index('id="due-head"') :]
    link = f"/visits/new?customer=C001&amp;follow_up={world['due'].id}"
    assert link in due_part
    form = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert f'value="{world["due"].id}" checked' in form
    assert f'value="{world["late"].id}">' in form  # listed, not ticked


def test_a_plan_item_opens_the_form_on_its_suggested_purpose(client, auth, world):
    """The card says 前回アクションのフォロー: tapping it must not leave the purpose empty."""
    import html as html_lib
    import re

    auth.login(world["rep"])
    html = client.get("/").get_data(as_text=True)
    plan_part = html[html.index('id="plan-head"') : html.index('id="due-head"')]
    links = re.findall(r'class="plan-link" href="([^"]+)"', plan_part)
    (link,) = [u for u in links if "customer=C001" in u]
    assert "purpose=follow_up" in link
    # A phone shows no tooltip: the reasons' details are written out on the card.
    item = plan_part[plan_part.index(link) :]
    item = item[: item.index("</li>")]
    assert '<span class="plan-detail">休眠：訪問実績なし</span>' in item
    form = client.get(html_lib.unescape(link)).get_data(as_text=True)
    assert 'value="follow_up" checked' in form
    assert f'value="{world["due"].id}" checked' in form  # its follow-up ticked as before
    # A purpose decided before going wins over the suggestion.
    token = csrf_from(html)
    client.post(
        "/plan", data={"csrf_token": token, "customer_code": "C001", "purpose": "relationship"}
    )
    form = client.get(html_lib.unescape(link)).get_data(as_text=True)
    assert 'value="relationship" checked' in form and 'value="follow_up" checked' not in form


def test_long_overdue_follow_ups_are_grouped_and_collapsed(client, auth, world):
    auth.login(world["rep"])
    html = client.get("/").get_data(as_text=True)
    group = html[html.index('class="section long-overdue"') :]
    assert group.startswith('class="section long-overdue">\n  <summary>')  # closed <details>
    assert "六月の宿題" in group and "サンプル回収" not in group
    due_part = html[html.index('id="due-head"') : html.index("long-overdue")]
    assert "サンプル回収" in due_part and "六月の宿題" not in due_part


def test_bulk_reschedule_and_cancel(client, auth, world):
    auth.login(world["rep"])
    token = csrf_from(client.get("/").get_data(as_text=True))
    old, late = world["old"], world["late"]
    ids = [str(old.id), str(late.id)]
    answer = client.post(
        "/follow-ups/bulk",
        data={"csrf_token": token, "ids": ids, "action": "reschedule", "due_on": "2026-12-01"},
    )
    assert answer.status_code == 302
    db.session.expire_all()
    assert {db.session.get(FollowUp, int(i)).due_on for i in ids} == {date(2026, 12, 1)}
    # A bad date moves none of them.
    client.post(
        "/follow-ups/bulk",
        data={"csrf_token": token, "ids": ids, "action": "reschedule", "due_on": "soon"},
    )
    db.session.expire_all()
    assert {db.session.get(FollowUp, int(i)).due_on for i in ids} == {date(2026, 12, 1)}
    client.post("/follow-ups/bulk", data={"csrf_token": token, "ids": ids, "action": "cancel"})
    db.session.expire_all()
    assert all(db.session.get(FollowUp, int(i)).cancelled for i in ids)


def test_bulk_on_someone_elses_follow_up_changes_nothing(client, auth, world, make):
    other = make.user("rep", world["branch"])
    auth.login(other)
    token = csrf_from(client.get("/").get_data(as_text=True))
    answer = client.post(
        "/follow-ups/bulk",
        data={"csrf_token": token, "ids": [str(world["old"].id)], "action": "cancel"},
    )
    assert answer.status_code == 404
    db.session.expire_all()
    assert not db.session.get(FollowUp, world["old"].id).cancelled


def test_reschedule_form(client, auth, world):
    auth.login(world["rep"])
    token = csrf_from(client.get("/").get_data(as_text=True))
    fu = world["due"]
    client.post(
        f"/follow-ups/{fu.id}/reschedule", data={"csrf_token": token, "due_on": "2026-11-30"}
    )
    db.session.expire_all()
    assert db.session.get(FollowUp, fu.id).due_on == date(2026, 11, 30)


def test_a_planned_visit_prefills_the_planned_purpose(client, auth, world):
    auth.login(world["rep"])
    token = csrf_from(client.get("/").get_data(as_text=True))
    client.post(
        "/plan",
        data={"csrf_token": token, "customer_code": "C001", "purpose": "relationship"},
    )
    planned = db.session.query(PlannedVisit).one()
    assert (planned.planned_on, planned.purpose.code) == (TODAY, "relationship")
    form = client.get("/visits/new?customer=C001").get_data(as_text=True)
    assert 'value="relationship" checked' in form
    unplanned = client.get("/visits/new?customer=C002").get_data(as_text=True)
    assert 'value="relationship" checked' not in unplanned
    # The planned customer leads the rep's own plan, planned for its purpose.
    html = client.get("/").get_data(as_text=True)
    plan_part = html[html.index('id="plan-head"') : html.index('id="due-head"')]
    assert "予定：関係構築" in plan_part
    # The customer page says it is planned (and for what), so it is not planned twice.
    page = client.get(f"/customers/{planned.customer_id}").get_data(as_text=True)
    assert f"{TODAY:%Y/%m/%d}の予定に入れました。 関係構築" in page


def test_a_colleagues_customer_cannot_be_planned_and_offers_no_plan_form(client, auth, world):
    auth.login(world["rep"])
    token = csrf_from(client.get("/").get_data(as_text=True))
    refused = client.post("/plan", data={"csrf_token": token, "customer_code": "C002"})
    assert refused.status_code == 404
    assert db.session.query(PlannedVisit).count() == 0
    theirs = client.get(f"/customers/{world['theirs'].id}").get_data(as_text=True)
    assert 'class="plan-form"' not in theirs
    mine = client.get(f"/customers/{world['mine'].id}").get_data(as_text=True)
    assert 'class="plan-form"' in mine


def test_an_inactive_purpose_is_not_prefilled(client, auth, world):
    auth.login(world["rep"])
    purpose = db.session.query(Purpose).filter_by(code="relationship").one()
    db.session.add(
        PlannedVisit(rep=world["rep"], customer=world["mine"], planned_on=TODAY, purpose=purpose)
    )
    purpose.active = False
    db.session.commit()
    form = client.get("/visits/new?customer=C001").get_data(as_text=True)
    assert 'value="relationship" checked' not in form


def test_offline_copy_carries_todays_plan(client, auth, world):
    auth.login(world["rep"])
    data = client.get("/api/v1/offline-data").get_json()
    assert data["plan"]["date"] == "2026-11-23"
    assert [i["customer_code"] for i in data["plan"]["items"]] == ["C001"]


def test_a_customer_visited_today_stays_in_the_plan_marked_and_last(client, auth, world, make):
    rep = world["rep"]
    other = make.customer(world["branch"], rep, code="C003", name="白石製作所")
    db.session.add(PlannedVisit(rep=rep, customer=world["mine"], planned_on=TODAY))
    db.session.add(PlannedVisit(rep=rep, customer=other, planned_on=TODAY))
    db.session.commit()
    auth.login(rep)

    def plan_rows() -> list[str]:
        html = client.get("/").get_data(as_text=True)
        part = html[html.index('id="plan-head"') : html.index('id="due-head"')]
        return part.split('<li class="plan-item')[1:]

    before = plan_rows()
    assert [("青空商店" in r, "本日訪問済み" in r) for r in before] == [
        (True, False),
        (False, False),
    ]
    make.visit(rep, world["mine"])  # today, 09:00
    db.session.commit()
    after = plan_rows()
    # Still in the plan, marked, and after the customer still to visit.
    assert "白石製作所" in after[0] and "本日訪問済み" not in after[0]
    assert "青空商店" in after[1] and after[1].startswith(' is-visited"')
    assert "本日訪問済み" in after[1]


def test_only_the_handful_is_rendered_and_the_rest_comes_on_demand(client, auth, world, make):
    rep, branch = world["rep"], world["branch"]
    for k in range(7):  # never visited: each is overdue for its cycle
        make.customer(branch, rep, code=f"N{k:02d}", name=f"新規{k}")
    db.session.commit()
    auth.login(rep)
    html = client.get("/").get_data(as_text=True)
    plan_part = html[html.index('id="plan-head"') : html.index('id="due-head"')]
    assert plan_part.count('class="plan-item"') == 5
    assert "すべて表示（8件）" in plan_part
    assert 'data-rest-url="/plan/rest"' in plan_part
    rest = client.get("/plan/rest").get_data(as_text=True)
    assert rest.count('class="plan-item"') == 3
    shown = {n for n in ["青空商店", *[f"新規{k}" for k in range(7)]] if n in plan_part}
    assert shown.isdisjoint(n for n in ["青空商店", *[f"新規{k}" for k in range(7)]] if n in rest)
    # Without JavaScript (or offline, from the page cache): the whole plan as a page.
    everything = client.get("/?plan=all").get_data(as_text=True)
    assert everything.count('class="plan-item"') == 8
    # The rest of the branch's plan when the rep asked for the branch.
    branch_html = client.get("/?scope=branch").get_data(as_text=True)
    assert 'data-rest-url="/plan/rest?scope=branch"' in branch_html
    assert "緑川工業" in branch_html + client.get("/plan/rest?scope=branch").get_data(as_text=True)


def test_the_rest_of_the_plan_needs_a_login(client):
    assert client.get("/plan/rest").status_code in (302, 401)


def test_a_long_overdue_pile_lists_its_oldest_first_and_the_rest_on_asking(client, auth, world):
    """25 stale follow-ups: the group counts all 25, lists the 20 oldest, links to the rest;
    ?overdue=all lists every one, the group open."""
    rep, customer = world["rep"], world["mine"]
    for k in range(24):  # with world's 31-day-old one: 25 older than 30 days
        db.session.add(
            FollowUp(
                rep=rep,
                branch_id=rep.branch_id,
                customer=customer,
                action=f"古い宿題{k:02d}",
                due_on=TODAY - timedelta(days=32 + k),
            )
        )
    db.session.commit()
    auth.login(rep)
    html = client.get("/").get_data(as_text=True)
    group = html[html.index('class="section long-overdue"') :]
    assert group.startswith('class="section long-overdue">\n  <summary>')  # still closed
    assert "30日以上期日を過ぎたフォロー 25件" in group
    assert group.count('name="ids"') == 20
    assert "古い宿題23" in group and "古い宿題04" in group  # the oldest twenty
    assert "古い宿題03" not in group and "六月の宿題" not in group
    assert "/?overdue=all#long-overdue" in group and "すべて表示（25件）" in group
    every = client.get("/?overdue=all").get_data(as_text=True)
    start = every.index('class="section long-overdue"')
    group = every[start : every.index("</details>", start)]
    assert group.startswith('class="section long-overdue" open>')
    assert group.count('name="ids"') == 25 and "六月の宿題" in group
    assert "overdue=all" not in group
