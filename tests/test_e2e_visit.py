"""End to end in headless Chromium: a rep logs the typical visit by taps only (at most 8)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from fieldlog.app.extensions import db
from fieldlog.models import Branch, Category, Customer, FollowUp, Proposal, User, Visit
from fieldlog.rules.periods import today as local_today
from fieldlog.services.accounts import set_password
from fieldlog.services.visits import record_visit

from .browser import (
    launch_chromium,
    log_in,
    require_chromium,
    screenshot_dir,
    sqlite_app,
    wait_until,
)
from .conftest import PASSWORD

TZ = ZoneInfo("Asia/Tokyo")
MAX_TAPS = 8


# The server here always runs on its own SQLite file: the PostgreSQL pass deselects it.
pytestmark = pytest.mark.own_sqlite


@pytest.fixture
def live_app(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """The real app on 127.0.0.1 (a free port) over a temp SQLite DB with a small branch."""
    app = sqlite_app(tmp_path / "e2e.db", FIELDLOG_TIMEZONE="Asia/Tokyo", FIELDLOG_SMTP_URL="")
    with app.app_context():
        branch = Branch(code="TKY", name="東京支店")
        rep = User(email="sato@example.jp", name="佐藤 花子", role="rep", branch=branch)
        set_password(rep, PASSWORD)
        db.session.add_all(
            [
                rep,
                Customer(
                    code="C100",
                    name="青空商店",
                    name_kana="アオゾラショウテン",
                    branch=branch,
                    rep=rep,
                    rank="A",
                ),
                Customer(code="C200", name="緑川工業", branch=branch, rep=rep, rank="C"),
                Customer(code="C300", name="白石製作所", branch=branch, rep=rep, rank="B"),
                Category(code="SAFE", name="安全用品", sort=1),
                Category(code="PACK", name="梱包資材", sort=2),
            ]
        )
        db.session.commit()
        # An earlier visit whose next action is due today: Today shows all three lists.
        now = datetime.now(UTC)
        record_visit(
            db.session,
            rep,
            {
                "client_id": str(uuid.uuid4()),
                "customer_code": "C200",
                "visited_at": (now - timedelta(days=2)).isoformat(),
                "purpose": "hearing",
                "hearing_done": True,
                "next_action": {"action": "見積を提出", "due_on": local_today(TZ).isoformat()},
            },
            tz=TZ,
            now=now,
        )
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@contextmanager
def logged_in_page(base: str) -> Iterator[tuple[Any, list[str]]]:
    """A phone-sized Chromium page logged in as the rep, and the problems it reports."""
    require_chromium()

    problems: list[str] = []
    with launch_chromium() as browser:
        context = browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="ja-JP",
            timezone_id="Asia/Tokyo",
        )
        page = context.new_page()
        # CSP violations and script errors show up here; failed loads are checked below.
        page.on(
            "console",
            lambda m: (
                m.type == "error"
                and not m.text.startswith("Failed to load resource")
                and problems.append(m.text)
            ),
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "response",
            lambda r: (
                r.status >= 400
                and not r.url.endswith("/favicon.ico")
                and problems.append(f"{r.status} {r.url}")
            ),
        )
        log_in(page, base, "sato@example.jp", PASSWORD)
        page.wait_for_url(f"{base}/")
        yield page, problems


@pytest.mark.browser
def test_a_rep_logs_the_typical_visit_in_at_most_8_taps(live_app, tmp_path):
    app, base = live_app
    shots = screenshot_dir(tmp_path)
    taps = 0

    def tap(locator) -> None:
        nonlocal taps
        taps += 1
        locator.tap()

    with logged_in_page(base) as (page, problems):
        shots.mkdir(parents=True, exist_ok=True)
        # README's Today screenshot is the plan's first screen (tests/test_e2e_plan.py).

        # From here on: taps only, no typing.
        tap(page.get_by_role("link", name="青空商店"))
        page.wait_for_url("**/visits/new?customer=C100*")
        assert page.locator("#customer_code").input_value() == "C100"
        tap(page.locator("label.chip", has_text="提案・商談"))
        tap(page.locator("label.chip", has_text="はい、聞けた"))
        tap(page.locator("label.toggle", has_text="提案した"))
        tap(page.locator("label.chip", has_text="安全用品"))
        tap(page.locator("label.chip", has_text="電話フォロー"))
        tap(page.locator("label.chip", has_text="1週間後"))
        page.screenshot(path=str(shots / "visit-new.png"), full_page=True)
        assert page.locator("button[type=submit]").count() == 1
        tap(page.locator("button[type=submit]"))
        page.wait_for_url(f"{base}/")
        # Saved to the phone's outbox first, then synced before Today opened.
        assert "保存して同期しました" in page.content()

    assert (shots / "visit-new.png").stat().st_size > 0
    assert taps <= MAX_TAPS, f"{taps} taps"
    assert problems == [], problems
    with app.app_context():
        visit = db.session.scalars(
            select(Visit).join(Customer).where(Customer.code == "C100")
        ).one()
        day = local_today(TZ, visit.visited_at)
        assert (visit.customer.code, visit.purpose.code, visit.hearing_done) == (
            "C100",
            "proposal",
            True,
        )
        assert [p.category.code for p in visit.proposals] == ["SAFE"]
        assert [(f.action, f.due_on) for f in visit.follow_ups] == [
            ("電話フォロー", day + timedelta(days=7))
        ]


@pytest.mark.browser
def test_the_picker_finds_kana_and_shows_the_customers_open_follow_ups(live_app):
    app, base = live_app
    with app.app_context():
        rep = db.session.scalars(select(User)).one()
        customer = db.session.scalars(select(Customer).where(Customer.code == "C100")).one()
        db.session.add(
            FollowUp(
                rep=rep,
                branch_id=rep.branch_id,
                customer=customer,
                action="見積の回答確認",
                due_on=local_today(TZ) + timedelta(days=3),
            )
        )
        db.session.commit()
    with logged_in_page(base) as (page, problems):
        page.goto(f"{base}/visits/new")
        assert page.locator("#proposal-fields").is_hidden()
        page.locator("#customer-search").fill("ｱｵｿﾞﾗ")
        page.locator("#customer-results button", has_text="青空商店").tap()
        assert page.locator("#customer_code").input_value() == "C100"
        follow_up = page.locator("#follow-ups label", has_text="見積の回答確認")
        follow_up.wait_for()
        page.locator("label.chip", has_text="明日").tap()
        tomorrow = local_today(TZ, None) + timedelta(days=1)
        assert page.locator("#next_action_due_on").input_value() == tomorrow.isoformat()
    assert problems == [], problems


@pytest.mark.browser
def test_the_visit_forms_chips_are_one_box_each_at_360_px(live_app):
    """The admin bar's link chips once styled these labels too: a pill around each button."""
    _app, base = live_app
    with logged_in_page(base) as (page, problems):
        page.set_viewport_size({"width": 360, "height": 780})
        page.goto(f"{base}/visits/new?customer=C100")
        boxes = page.evaluate(
            """() => [...document.querySelectorAll('#visit-form label.chip')].map((label) => {
                const style = getComputedStyle(label);
                return {
                  text: label.textContent.trim(),
                  border: style.borderTopWidth,
                  gap: label.getBoundingClientRect().width
                       - label.querySelector('span').getBoundingClientRect().width,
                };
            })"""
        )
    assert len(boxes) >= 10, boxes
    assert [b for b in boxes if b["border"] != "0px" or abs(b["gap"]) > 0.5] == []
    assert problems == [], problems


def queued(page) -> int:
    """How many entries wait in the page's outbox (IndexedDB)."""
    return page.evaluate("""async () => {
        const { outbox } = await import('/static/js/outbox-store.mjs');
        return (await outbox.all()).length;
    }""")


@pytest.mark.browser
def test_missing_answers_are_named_before_queueing_and_refusals_in_the_outbox(live_app):
    _app, base = live_app
    with logged_in_page(base) as (page, problems):
        # Nothing chosen: named at once on the phone (purpose and hearing are radio groups),
        # and nothing is queued to be refused later.
        page.goto(f"{base}/visits/new")
        page.locator("button[type=submit]").tap()
        alert = page.locator(".form-error[role=alert]")
        alert.wait_for()
        for name in ("顧客:", "訪問目的:", "課題やニーズを聞き取れましたか？:"):
            assert name in alert.inner_text()
        assert page.url == f"{base}/visits/new"
        assert queued(page) == 0
        # What only the server knows (a visit days ahead) comes back with the form's names.
        page.goto(f"{base}/visits/new?customer=C100")
        page.locator("label.chip", has_text="提案・商談").tap()
        page.locator("label.chip", has_text="はい、聞けた").tap()
        ahead = (datetime.now(TZ) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
        page.locator("#visited_at").fill(ahead)
        page.locator("button[type=submit]").tap()
        page.wait_for_url("**/visits/new?outbox=*")
        alert.wait_for()
        assert "詳細:" in alert.inner_text()
        assert page.locator("input[name=hearing_done][value=yes]").is_checked()
        page.goto(f"{base}/outbox")
        page.locator(".outbox-entry").wait_for()
        text = page.locator("#outbox-list").inner_text()
    assert "訪問日時:" in text and "visited_at" not in text, text
    assert "青空商店 (C100)" in text, text
    assert [p for p in problems if "/api/v1/visits" not in p] == [], problems


@pytest.mark.browser
def test_a_customers_follow_ups_read_whole_and_cancel_is_not_one_mis_tap_away(live_app):
    app, base = live_app
    action = "工場長との打ち合わせ日程を調整して見積の前提を確認する"
    with app.app_context():
        rep = db.session.scalars(select(User)).one()
        customer = db.session.scalars(select(Customer).where(Customer.code == "C100")).one()
        db.session.add(
            FollowUp(
                rep=rep,
                branch_id=rep.branch_id,
                customer=customer,
                action=action,
                due_on=local_today(TZ) + timedelta(days=3),
            )
        )
        db.session.commit()
        customer_id = customer.id
    with logged_in_page(base) as (page, problems):
        page.set_viewport_size({"width": 360, "height": 780})
        page.goto(f"{base}/customers/{customer_id}")
        text = page.locator("strong", has_text=action)
        assert text.evaluate("el => el.scrollWidth <= el.clientWidth"), "the action is cut"
        row = page.locator("li", has=text)
        dialogs: list[str] = []

        def dismiss(dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.once("dialog", dismiss)
        row.get_by_role("button", name="キャンセル").tap()
        page.wait_for_timeout(300)
        assert dialogs and "元に戻せません" in dialogs[0]
        row.get_by_role("button", name="完了").tap()
        row.locator(".settled-note", has_text="完了しました。").wait_for()
        assert row.locator("button").count() == 0
    with app.app_context():
        follow_up = db.session.scalars(select(FollowUp).where(FollowUp.action == action)).one()
        assert not follow_up.cancelled
    assert problems == [], problems


@pytest.mark.browser
def test_the_customer_search_button_keeps_its_label_on_one_line_at_360_px(live_app):
    _app, base = live_app
    with logged_in_page(base) as (page, problems):
        page.set_viewport_size({"width": 360, "height": 780})
        page.goto(f"{base}/customers?q=zzzz")
        lines = page.locator(".search-form button").evaluate(
            """(button) => {
                const range = document.createRange();
                range.selectNodeContents(button);
                return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
            }"""
        )
        assert lines == 1, f"'検索' wraps over {lines} lines"
        assert "「zzzz」に一致する顧客はありません。" in page.locator("main").inner_text()
    assert problems == [], problems


@pytest.mark.browser
def test_a_mis_tapped_result_is_corrected_from_the_closed_list(live_app):
    app, base = live_app
    with app.app_context():
        rep = db.session.scalars(select(User)).one()
        now = datetime.now(UTC)
        visit = record_visit(
            db.session,
            rep,
            {
                "client_id": str(uuid.uuid4()),
                "customer_code": "C300",
                "visited_at": (now - timedelta(days=5)).isoformat(),
                "purpose": "proposal",
                "hearing_done": True,
                "proposal": {"category": "PACK"},
            },
            tz=TZ,
            now=now,
        ).visit
        proposal = visit.proposals[0]
        proposal.status, proposal.closed_on = "won", local_today(TZ) - timedelta(days=3)
        db.session.commit()
        proposal_id, closed_on = proposal.id, proposal.closed_on
    with logged_in_page(base) as (page, problems):
        page.set_viewport_size({"width": 360, "height": 780})
        page.goto(f"{base}/proposals")
        row = page.locator("li", has_text="白石製作所")
        assert row.locator(".badge-ok").count() == 1
        row.get_by_role("button", name="失注に変更").tap()
        # The note says what was recorded, and the row no longer reads "won" beside it.
        row.locator(".settled-note", has_text="失注として記録しました。").wait_for()
        assert row.locator(".badge-ok, button").count() == 0
    with app.app_context():
        proposal = db.session.get(Proposal, proposal_id)
        assert (proposal.status, proposal.closed_on) == ("lost", closed_on)
    assert problems == [], problems


@pytest.mark.browser
def test_the_keyboards_enter_key_searches_and_never_saves_half_a_visit(live_app):
    app, base = live_app
    with logged_in_page(base) as (page, problems):
        page.goto(f"{base}/visits/new")
        page.locator("#customer-search").fill("ｱｵｿﾞﾗ")
        page.locator("#customer-search").press("Enter")
        # The one match is chosen, as a tap on it would.
        page.locator("#follow-ups, #customer_code").first.wait_for()
        wait_until(page, "document.querySelector('#customer_code').value === 'C100'", "C100")
        page.locator("#next_action").fill("電話する")
        page.locator("#next_action").press("Enter")
        page.wait_for_timeout(1000)
        assert page.url == f"{base}/visits/new"
        assert queued(page) == 0
    with app.app_context():
        assert (
            db.session.scalars(select(Visit).join(Customer).where(Customer.code == "C100")).all()
            == []
        )
    assert problems == [], problems


@pytest.mark.browser
def test_my_week_has_no_tap_target_under_44_px_at_360_px(live_app):
    _app, base = live_app
    with logged_in_page(base) as (page, problems):
        page.set_viewport_size({"width": 360, "height": 780})
        page.goto(f"{base}/me")
        small = page.evaluate(
            """() => [...document.querySelectorAll(
                'main a, main button, main summary, main input, main select')]
              .filter((el) => el.getBoundingClientRect().width > 0)
              .filter((el) => el.getBoundingClientRect().height < 44)
              .map((el) => `${el.tagName} ${el.textContent.trim() || el.type}`
                           + ` ${Math.round(el.getBoundingClientRect().height)}px`)"""
        )
    assert small == [], small
    assert problems == [], problems


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_customer_search_placeholders_fit_at_360_px(live_app, lang):
    _app, base = live_app
    with logged_in_page(base) as (page, problems):
        page.context.add_cookies([{"name": "fieldlog_lang", "value": lang, "url": base}])
        page.set_viewport_size({"width": 360, "height": 780})
        for path, selector in (("/visits/new", "#customer-search"), ("/customers", "[name=q]")):
            page.goto(f"{base}{path}")
            # Typed as a value, the placeholder's text shows whether the box scrolls.
            spare = page.locator(selector).evaluate(
                """(input) => {
                    input.value = input.placeholder;
                    const spare = input.clientWidth - input.scrollWidth;
                    input.value = '';
                    return spare;
                }"""
            )
            assert spare >= 0, f"{lang} {path}: the placeholder is cut by {-spare:.0f} px"
    assert problems == [], problems


@pytest.mark.browser
def test_half_a_next_action_is_named_before_the_visit_is_queued(live_app):
    app, base = live_app
    with logged_in_page(base) as (page, problems):
        page.goto(f"{base}/visits/new?customer=C100")
        page.locator("label.chip", has_text="提案・商談").tap()
        page.locator("label.chip", has_text="はい、聞けた").tap()
        page.locator("label.chip", has_text="1週間後").tap()  # a date, no action
        page.locator("button[type=submit]").tap()
        alert = page.locator(".form-error[role=alert]")
        alert.wait_for()
        assert "次回アクション: 次回アクションを入力するか選んでください" in alert.inner_text()
        page.locator("#next_action_due_on").fill("")
        page.locator("label.chip", has_text="電話フォロー").tap()  # an action, no date
        page.locator("button[type=submit]").tap()
        wait_until(
            page,
            "document.querySelector('.form-error[role=alert]').textContent.includes('期限を選んで')",
            "the missing date to be named",
        )
        assert page.url == f"{base}/visits/new?customer=C100"
    with app.app_context():
        assert (
            db.session.scalars(select(Visit).join(Customer).where(Customer.code == "C100")).all()
            == []
        )
    assert problems == [], problems


@pytest.mark.browser
def test_a_follow_up_ticked_from_today_stays_ticked_when_a_draft_is_restored(live_app):
    app, base = live_app
    with app.app_context():
        follow_up = db.session.scalars(
            select(FollowUp).where(FollowUp.action == "見積を提出")
        ).one()
        url = f"{base}/visits/new?customer=C200&follow_up={follow_up.id}"
        follow_up_id = follow_up.id
    with logged_in_page(base) as (page, problems):
        # A first start on the form leaves a draft for the same customer on the phone.
        page.goto(url)
        page.locator("label.chip", has_text="提案・商談").tap()
        page.goto(url)
        page.locator("#draft-note").wait_for()
        page.wait_for_load_state("networkidle")
        box = page.locator(f"input[name=completes_follow_ups][value='{follow_up_id}']")
        assert box.is_checked()
        page.locator("label.chip", has_text="はい、聞けた").tap()
        page.locator("button[type=submit]").tap()
        page.wait_for_url(f"{base}/")
    assert problems == [], problems
    with app.app_context():
        assert db.session.get(FollowUp, follow_up_id).done_on is not None
