"""The rep's screens through the test client, with CSRF on."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from fieldlog.app.extensions import db
from fieldlog.models import FollowUp, Proposal, Visit, VisitRevision

from .conftest import NOW, TZ, csrf_from

TODAY = date(2026, 11, 23)


@pytest.fixture
def world(make):
    """A branch with a rep, a colleague, a manager, customers and a category; another branch."""
    branch = make.branch()
    rep = make.user("rep", branch, name="山田 太郎")
    colleague = make.user("rep", branch)
    manager = make.user("manager", branch)
    other_branch = make.branch()
    outsider = make.customer(other_branch, code="X001", name="他支店商事")
    mine = make.customer(branch, rep, code="C001", name="青空商店", name_kana="アオゾラショウテン")
    theirs = make.customer(branch, colleague, code="C002", name="緑川工業")
    category = make.category(code="SAFE", name="安全用品")
    db.session.commit()
    return {
        "rep": rep,
        "colleague": colleague,
        "manager": manager,
        "mine": mine,
        "theirs": theirs,
        "outsider": outsider,
        "category": category,
        "owner": make.user("owner"),
    }


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _form(client, path="/visits/new"):
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    client_id = re.search(r'name="client_id" value="([^"]+)"', html).group(1)
    return html, {"csrf_token": csrf_from(html), "client_id": client_id}


def _typical(base, customer="C001", **overrides):
    data = {
        **base,
        "customer_code": customer,
        "visited_at": "2026-11-23T09:30",
        "purpose": "proposal",
        "hearing_done": "yes",
        "proposal_made": "1",
        "proposal_category": "SAFE",
        "proposal_amount": "",
        "next_action_preset": "call",
        "due_preset": "1w",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _set_locale(client, lang):
    token = csrf_from(client.get("/visits").get_data(as_text=True))
    client.post("/locale", data={"lang": lang, "next": "/", "csrf_token": token})


PAGES = ["/", "/visits/new", "/visits", "/proposals", "/customers", "/customers?q=あおぞら"]


@pytest.mark.parametrize("role", ["rep", "manager"])
@pytest.mark.parametrize("lang,marker", [("ja", "訪問"), ("en", "Visit")])
def test_every_page_renders_for_reps_and_managers_in_both_locales(
    client, auth, world, role, lang, marker
):
    user = world[role]
    visit = record(world, user, "C001")
    auth.login(user)
    _set_locale(client, lang)
    paths = [*PAGES, f"/visits/{visit.id}", f"/customers/{world['mine'].id}"]
    if role == "rep":
        paths.append(f"/visits/{visit.id}/edit")
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert f'lang="{lang}"' in html and marker in html, path
        assert "<script>" not in html and "style=" not in html and "onclick" not in html


def record(world, user, code, **overrides):
    from fieldlog.services.visits import record_visit

    from .conftest import visit_payload

    visit = record_visit(db.session, user, visit_payload(code, **overrides), tz=TZ, now=NOW).visit
    db.session.commit()
    return visit


def test_owner_today_opens_the_owner_summary(client, auth, world):
    auth.login(world["owner"])
    response = client.get("/")
    assert response.status_code == 302 and response.location.endswith("/summary")
    assert client.get("/visits/new").status_code == 403


def test_form_post_creates_visit_proposal_and_follow_up_in_one_go(client, auth, world):
    auth.login(world["rep"])
    html, base = _form(client, "/visits/new?customer=C001")
    # The page has exactly one submit button (the banners' buttons are type="button").
    assert html.count('type="submit"') == html.count('<button type="submit"') == 1
    response = client.post("/visits/new", data=_typical(base, proposal_amount="¥１，２００"))
    assert response.status_code == 302 and response.location.endswith("/")
    visit = db.session.scalars(select(Visit)).one()
    assert visit.purpose.code == "proposal" and visit.hearing_done and visit.purposeful
    assert visit.visited_at == NOW - timedelta(minutes=30)
    proposal = visit.proposals[0]
    assert (proposal.category.code, proposal.kind, proposal.amount) == ("SAFE", "cross_sell", 1200)
    follow_up = visit.follow_ups[0]
    assert follow_up.due_on == TODAY + timedelta(days=7)
    assert follow_up.action == "電話フォロー"
    assert "訪問を保存しました" in client.get("/").get_data(as_text=True)


def test_an_explicit_date_and_action_win_over_the_chips(client, auth, world):
    auth.login(world["rep"])
    _, base = _form(client)
    data = _typical(
        base, next_action="見積を持参", next_action_due_on="2026-12-01", due_preset="1m"
    )
    assert client.post("/visits/new", data=data).status_code == 302
    follow_up = db.session.scalars(select(FollowUp)).one()
    assert (follow_up.action, follow_up.due_on) == ("見積を持参", date(2026, 12, 1))


def test_open_follow_ups_can_be_ticked_off_from_the_form(client, auth, world):
    old = record(
        world, world["rep"], "C001", next_action={"action": "再訪", "due_on": "2026-11-23"}
    )
    auth.login(world["rep"])
    html, base = _form(client, "/visits/new?customer=C001")
    follow_up_id = old.follow_ups[0].id
    assert f'name="completes_follow_ups" value="{follow_up_id}"' in html
    data = _typical(base, completes_follow_ups=str(follow_up_id))
    assert client.post("/visits/new", data=data).status_code == 302
    assert db.session.get(FollowUp, follow_up_id).done_on == TODAY


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"customer_code": "NOPE"}, "customer_code", "存在しない顧客です"),
        ({"visited_at": "2026-11-25T09:00"}, "visited_at", ""),
        ({"next_action_due_on": "2026-11-20", "due_preset": None}, "next_action_due_on", ""),
        ({"proposal_amount": "-5"}, "proposal_amount", ""),
        ({"proposal_amount": "たくさん"}, "proposal_amount", ""),
        ({"note": "あ" * 2001}, "note", ""),
        ({"purpose": None}, "purpose", ""),
        # The form's words, not the API's "true / false".
        ({"hearing_done": None}, "hearing_done", "「はい」か「いいえ」を選んでください"),
        ({"next_action_preset": None, "next_action": ""}, "next_action", ""),
    ],
)
def test_bad_input_re_renders_with_messages_next_to_fields_and_writes_nothing(
    client, auth, world, overrides, field, message
):
    auth.login(world["rep"])
    _, base = _form(client)
    data = _typical(base, **overrides, purpose_note="覚えておく")
    response = client.post("/visits/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in html
    assert message in html
    assert 'value="覚えておく"' in html  # what the user typed is kept
    assert _count(Visit) == _count(Proposal) == _count(FollowUp) == 0


def test_another_branch_customer_gives_a_403_page_and_writes_nothing(client, auth, world):
    auth.login(world["rep"])
    _, base = _form(client)
    response = client.post("/visits/new", data=_typical(base, customer="X001"))
    assert response.status_code == 403 and "<html" in response.get_data(as_text=True)
    assert _count(Visit) == 0


def test_missing_csrf_is_refused_and_writes_nothing(client, auth, world):
    auth.login(world["rep"])
    _, base = _form(client)
    del base["csrf_token"]
    assert client.post("/visits/new", data=_typical(base)).status_code == 400
    assert _count(Visit) == 0


def test_double_submit_with_the_same_client_id_stores_one_visit(client, auth, world):
    auth.login(world["rep"])
    _, base = _form(client)
    first = client.post("/visits/new", data=_typical(base))
    second = client.post("/visits/new", data=_typical(base))
    assert first.status_code == second.status_code == 302
    assert _count(Visit) == _count(Proposal) == _count(FollowUp) == 1


def test_customer_search_matches_hiragana_katakana_and_half_width_kana(client, auth, world):
    auth.login(world["rep"])
    for q in ("あおぞら", "アオゾラ", "ｱｵｿﾞﾗ", "c001", "青空"):
        found = client.get("/customers/search", query_string={"q": q}).get_json()
        assert [c["code"] for c in found] == ["C001"], q
    assert client.get("/customers/search?q=他支店").get_json() == []
    html = client.get("/customers?q=ｱｵｿﾞﾗ").get_data(as_text=True)
    assert "青空商店" in html and "緑川工業" not in html


def test_customer_list_puts_own_customers_first(client, auth, world):
    auth.login(world["colleague"])
    html = client.get("/customers").get_data(as_text=True)
    assert html.index("緑川工業") < html.index("青空商店")


def _with_proposal_and_follow_up(world):
    return record(
        world,
        world["rep"],
        "C001",
        proposal={"category": "SAFE"},
        next_action={"action": "電話", "due_on": "2026-11-23"},
    )


def test_follow_up_done_and_proposal_close_are_one_tap_forms(client, auth, world):
    visit = _with_proposal_and_follow_up(world)
    auth.login(world["rep"])
    html = client.get("/").get_data(as_text=True)
    follow_up, proposal = visit.follow_ups[0], visit.proposals[0]
    assert f"/follow-ups/{follow_up.id}/done" in html
    token = csrf_from(html)
    assert (
        client.post(f"/follow-ups/{follow_up.id}/done", data={"csrf_token": token}).status_code
        == 302
    )
    assert db.session.get(FollowUp, follow_up.id).done_on == TODAY
    html = client.get("/proposals").get_data(as_text=True)
    assert f"/proposals/{proposal.id}/close" in html
    client.post(f"/proposals/{proposal.id}/close", data={"csrf_token": token, "status": "won"})
    assert db.session.get(Proposal, proposal.id).status == "won"
    client.post(f"/proposals/{proposal.id}/close", data={"csrf_token": token, "status": "lost"})
    assert db.session.get(Proposal, proposal.id).status == "lost"


def test_a_customers_open_follow_ups_come_first_and_cancel_asks_first(client, auth, world):
    rep, customer = world["rep"], world["mine"]

    def follow_up(action, due, **state):
        item = FollowUp(rep=rep, branch_id=rep.branch_id, customer=customer, action=action)
        item.due_on, item.done_on = date.fromisoformat(due), state.get("done_on")
        item.cancelled = state.get("cancelled", False)
        db.session.add(item)

    follow_up("済んだ件", "2026-11-20", done_on=date(2026, 11, 19))
    follow_up("取り消した件", "2026-11-22", cancelled=True)
    follow_up("来週の件", "2026-11-30")
    follow_up("遅れている件", "2026-11-01")
    db.session.commit()
    auth.login(rep)
    html = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    order = sorted(
        ("済んだ件", "取り消した件", "来週の件", "遅れている件"), key=lambda a: html.index(a)
    )
    assert order == ["遅れている件", "来週の件", "取り消した件", "済んだ件"]
    assert html.count("data-confirm=") == 2


def test_a_closed_proposal_can_be_corrected_and_keeps_the_day_it_closed(client, auth, world):
    visit = record(
        world,
        world["rep"],
        "C001",
        visited_at="2026-11-20T10:00:00+09:00",
        proposal={"category": "SAFE"},
    )
    proposal = visit.proposals[0]
    auth.login(world["rep"])
    token = csrf_from(client.get("/proposals").get_data(as_text=True))
    client.post(
        f"/proposals/{proposal.id}/close",
        data={"csrf_token": token, "status": "won", "closed_on": "2026-11-21"},
    )
    html = client.get("/proposals").get_data(as_text=True)
    assert "失注に変更" in html and 'data-closed-on="2026-11-21"' in html
    client.post(
        f"/proposals/{proposal.id}/close",
        data={"csrf_token": token, "status": "lost", "closed_on": "2026-11-21"},
    )
    db.session.expire_all()
    proposal = db.session.get(Proposal, proposal.id)
    assert (proposal.status, proposal.closed_on) == ("lost", date(2026, 11, 21))
    assert "受注に変更" in client.get("/proposals").get_data(as_text=True)


def test_a_colleague_cannot_close_or_complete_what_is_not_theirs(client, auth, world):
    visit = _with_proposal_and_follow_up(world)
    auth.login(world["colleague"])
    token = auth.csrf()
    assert (
        client.post(
            f"/follow-ups/{visit.follow_ups[0].id}/done", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/follow-ups/{visit.follow_ups[0].id}/cancel", data={"csrf_token": token}
        ).status_code
        == 404
    )
    response = client.post(
        f"/proposals/{visit.proposals[0].id}/close", data={"csrf_token": token, "status": "won"}
    )
    assert response.status_code == 404
    assert db.session.get(Proposal, visit.proposals[0].id).status == "open"


def test_scope_a_rep_cannot_open_another_reps_visit_or_another_branchs_customer(
    client, auth, world
):
    visit = record(world, world["colleague"], "C002")
    auth.login(world["rep"])
    assert client.get(f"/visits/{visit.id}").status_code == 404
    assert client.get(f"/visits/{visit.id}/edit").status_code == 404
    assert client.get(f"/customers/{world['outsider'].id}").status_code == 404
    assert client.get(f"/customers/{world['theirs'].id}").status_code == 200
    assert client.get("/customers/X001/open-follow-ups").status_code == 404


def test_edit_within_seven_days_records_a_revision(client, auth, world):
    visit = record(world, world["rep"], "C001", purpose="routine", hearing_done=False)
    visit.created_at = NOW - timedelta(days=6)
    assert not visit.purposeful
    auth.login(world["rep"])
    html = client.get(f"/visits/{visit.id}/edit").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(html),
        "visited_at": "2026-11-23T09:00",
        "purpose": "hearing",
        "hearing_done": "yes",
        "hearing_note": "在庫管理に困っている",
        "purpose_note": "",
        "note": "",
    }
    response = client.post(f"/visits/{visit.id}/edit", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    visit = db.session.get(Visit, visit.id)
    assert visit.purposeful and visit.hearing_done and visit.purpose.code == "hearing"
    revision = db.session.scalars(select(VisitRevision)).one()
    assert revision.user_id == world["rep"].id
    assert revision.changes["purpose"] == ["routine", "hearing"]
    assert revision.changes["hearing_done"] == [False, True]
    assert "在庫管理に困っている" in client.get(f"/visits/{visit.id}").get_data(as_text=True)


def test_edit_with_bad_input_re_renders_and_keeps_the_visit(client, auth, world):
    visit = record(world, world["rep"], "C001")
    auth.login(world["rep"])
    html = client.get(f"/visits/{visit.id}/edit").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(html),
        "visited_at": "2026-11-30T09:00",
        "purpose": "hearing",
        "hearing_done": "yes",
    }
    response = client.post(f"/visits/{visit.id}/edit", data=data)
    assert response.status_code == 422 and 'id="visited_at-error"' in response.get_data(
        as_text=True
    )
    assert _count(VisitRevision) == 0


def test_the_correction_form_caps_free_text_as_the_entry_form_does(client, auth, world):
    """Both forms stop typing at the service's 2,000 characters instead of failing on save."""
    visit = record(world, world["rep"], "C001")
    auth.login(world["rep"])
    for path in ("/visits/new", f"/visits/{visit.id}/edit"):
        html = client.get(path).get_data(as_text=True)
        for name in ("purpose_note", "hearing_note", "note"):
            tag = re.search(rf'<(?:input|textarea)[^>]*name="{name}"[^>]*>', html)
            assert tag and 'maxlength="2000"' in tag.group(0), (path, name)


def test_edit_is_refused_after_seven_days_and_to_others(app, client, auth, world):
    visit = record(world, world["rep"], "C001")
    visit.created_at = NOW  # the window counts from when the visit was stored
    db.session.commit()
    auth.login(world["manager"])
    assert client.get(f"/visits/{visit.id}").status_code == 200
    assert client.get(f"/visits/{visit.id}/edit").status_code == 403
    auth.logout()
    app.config["FIELDLOG_NOW"] = NOW + timedelta(days=7, minutes=1)
    auth.login(world["rep"])
    assert client.get(f"/visits/{visit.id}/edit").status_code == 403
    token = auth.csrf()
    response = client.post(
        f"/visits/{visit.id}/edit", data={"csrf_token": token, "purpose": "called"}
    )
    assert response.status_code == 403
    assert _count(VisitRevision) == 0


def test_visits_list_is_paged_newest_first(client, auth, world):
    for hours in range(1, 23):
        record(world, world["rep"], "C001", visited_at=(NOW - timedelta(hours=hours)).isoformat())
    auth.login(world["rep"])
    first = client.get("/visits").get_data(as_text=True)
    assert first.count('href="/visits/') - first.count('href="/visits/new') == 20
    second = client.get("/visits?page=2").get_data(as_text=True)
    assert second.count('href="/visits/') - second.count('href="/visits/new') == 2
    assert 'href="/visits?page=2"' in first and 'href="/visits?page=1"' in second
    assert client.get("/visits?page=3").status_code == 404  # past the last page
    assert client.get("/customers?page=99").status_code == 404


def test_visits_and_proposals_filter_by_customer_and_a_manager_by_their_own(client, auth, world):
    rep, manager = world["rep"], world["manager"]
    record(world, rep, "C001", proposal={"category": "SAFE"})
    record(world, rep, "C002", proposal={"category": "SAFE"})
    record(world, manager, "C002")
    auth.login(rep)
    for query in ("あおぞら", "ｱｵｿﾞﾗ", "C001"):
        html = client.get("/visits", query_string={"q": query}).get_data(as_text=True)
        assert "青空商店" in html and "緑川工業" not in html, query
    html = client.get("/proposals", query_string={"q": "緑川"}).get_data(as_text=True)
    assert "緑川工業" in html and "青空商店" not in html
    html = client.get("/visits", query_string={"q": "該当なし"}).get_data(as_text=True)
    assert "条件に合う訪問はありません。" in html
    auth.logout()
    auth.login(manager)
    everyone = client.get("/visits").get_data(as_text=True)
    mine = client.get("/visits", query_string={"mine": "1"}).get_data(as_text=True)
    assert everyone.count('class="row row-link"') == 3
    assert mine.count('class="row row-link"') == 1 and rep.name not in mine
    assert 'name="mine" value="1" checked' in mine
    mine_proposals = client.get("/proposals", query_string={"mine": "1"}).get_data(as_text=True)
    assert "条件に合う提案はありません。" in mine_proposals


def test_client_id_is_fresh_on_each_render(client, auth, world):
    auth.login(world["rep"])
    _, one = _form(client)
    _, two = _form(client)
    assert one["client_id"] != two["client_id"]
    uuid.UUID(one["client_id"])


def test_a_visits_time_reads_in_minutes_as_it_was_entered(client, auth, world):
    visit = record(world, world["rep"], "C001", visited_at="2026-11-23T09:05:42+09:00")
    auth.login(world["rep"])
    page = client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "<dd>2026/11/23 09:05</dd>" in page and ":42" not in page


def test_the_history_shows_labels_and_an_untouched_time_is_no_change(client, auth, world):
    visit = record(world, world["rep"], "C001", visited_at="2026-11-23T09:00:42+09:00")
    visit.created_at = NOW
    db.session.commit()
    auth.login(world["rep"])
    html = client.get(f"/visits/{visit.id}/edit").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(html),
        "visited_at": "2026-11-23T09:00",
        "purpose": "called",
        "hearing_done": "yes",
    }
    assert client.post(f"/visits/{visit.id}/edit", data=data).status_code == 302
    revision = db.session.scalars(select(VisitRevision)).one()
    assert set(revision.changes) == {"purpose"}
    page = client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "課題ヒアリング" in page and "呼ばれて対応" in page and "訪問目的" in page


@pytest.mark.parametrize("path", [*PAGES, "/visits/1", "/visits/1/edit", "/customers/1"])
def test_anonymous_users_are_sent_to_the_login_page(client, world, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.location


def test_the_visit_page_gives_the_late_reason_after_a_full_width_colon(client, auth, world):
    """STYLE: a Japanese label takes the full-width colon (遅れて入力した理由：…)."""
    visited_at = (NOW - timedelta(days=10)).astimezone(TZ).isoformat()
    visit = record(world, world["rep"], "C001", visited_at=visited_at, late_reason="紙のメモ")
    auth.login(world["rep"])
    html = client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "遅れて入力した理由：紙のメモ" in html and "理由: " not in html
    client.set_cookie("fieldlog_lang", "en")
    html = client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "Reason for the late entry: 紙のメモ" in html


def _picker_groups(html: str) -> dict[str, list[str]]:
    """The visit form's picker: each optgroup's label and its customer codes, in order."""
    select_ = html[html.index('<select name="customer_code"') : html.index("</select>")]
    return {
        label: re.findall(r'<option value="([^"]+)"', body)
        for label, body in re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', select_, re.S)
    }


def test_the_picker_groups_the_plan_own_follow_ups_and_colleagues_customers(
    client, auth, world, make
):
    rep, colleague = world["rep"], world["colleague"]
    # Visited today without anything due: the rep's, but not in the day's plan.
    calm = make.customer(rep.branch, rep, code="C003")
    make.visit(rep, calm)
    # A colleague's customer with the rep's own follow-up due today.
    followed = make.customer(rep.branch, colleague, code="C004")
    make.visit(
        rep,
        followed,
        visited_at="2026-11-10T10:00:00+09:00",
        next_action={"action": "見積を持参", "due_on": TODAY.isoformat()},
    )
    db.session.commit()
    auth.login(rep)
    groups = _picker_groups(client.get("/visits/new").get_data(as_text=True))
    # C001 (never visited) is on the rep's plan; C002, the colleague's and overdue, is not the
    # rep's to do: it stays reachable among the branch's other customers, never in a due group.
    assert groups == {
        "今日の予定": ["C001"],
        "期限が来たフォロー": ["C004"],
        "担当の顧客": ["C003"],
        "支店のほかの顧客": ["C002"],
    }
    assert "今日が期限" not in client.get("/visits/new").get_data(as_text=True)


def test_the_picker_lists_the_plan_in_its_order(client, auth, world, make):
    rep = world["rep"]
    # Never visited: overdue by a cycle each; the plan puts the longer cycle's customer first.
    make.customer(rep.branch, rep, code="C010", rank="A")
    make.customer(rep.branch, rep, code="C011", rank="C")
    db.session.commit()
    from fieldlog.services import plan
    from fieldlog.services.defaults import company_settings

    order = [
        i.customer.code
        for i in plan.build_plan(
            db.session, rep, TODAY, tz=TZ, settings=company_settings(db.session)
        )
    ]
    auth.login(rep)
    groups = _picker_groups(client.get("/visits/new").get_data(as_text=True))
    assert groups["今日の予定"] == order and sorted(order) == ["C001", "C010", "C011"]


def test_the_picker_costs_the_same_statements_however_many_customers(client, auth, world, make):
    import sqlalchemy as sa

    rep, colleague = world["rep"], world["colleague"]
    auth.login(rep)
    client.get("/visits/new")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    def statements_of_form() -> int:
        statements.clear()
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert client.get("/visits/new").status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    few = statements_of_form()
    for n in range(12):
        customer = make.customer(rep.branch, rep if n % 2 else colleague, code=f"M{n:03d}")
        make.visit(
            rep,
            customer,
            visited_at="2026-11-02T10:00:00+09:00",
            next_action={"action": "電話", "due_on": "2026-11-20"},
        )
    db.session.commit()
    html = client.get("/visits/new").get_data(as_text=True)
    assert "M011" in html
    assert statements_of_form() == few
