"""The rep's day in headless Chromium on a 390×844 phone: the plan on the first screen, a
follow-up moved offline through the outbox, and a visit saved once however Save and Back
are tapped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from fieldlog.app.extensions import db
from fieldlog.kpi import deepening
from fieldlog.models import (
    Branch,
    Category,
    Customer,
    FollowUp,
    PlannedVisit,
    Purpose,
    SalesLine,
    User,
    Visit,
)
from fieldlog.rules.periods import today as local_today
from fieldlog.services.accounts import set_password
from fieldlog.services.visits import record_visit

from .browser import phone, screenshot_dir, sqlite_app, wait_until
from .conftest import PASSWORD
from .test_e2e_offline import Server, outbox_entries

TZ = ZoneInfo("Asia/Tokyo")

pytestmark = pytest.mark.own_sqlite


@pytest.fixture
def server(tmp_path: Path):
    """A rep with eight customers: due follow-ups, overdue, dormant, planned; and a colleague's."""
    app = sqlite_app(tmp_path / "plan.db", TESTING=True, FIELDLOG_TIMEZONE="Asia/Tokyo")
    with app.app_context():
        branch = Branch(code="TKY", name="東京支店")
        rep = User(email="rep@example.jp", name="佐藤 健太", role="rep", branch=branch)
        colleague = User(email="col@example.jp", name="鈴木", role="rep", branch=branch)
        for user in (rep, colleague):
            set_password(user, PASSWORD)
        names = ["青空商店", "緑川工業", "白石製作所", "株式会社東和精機", "丸山梱包", "北斗電設"]
        names += ["医療法人 池田歯科クリニック", "有限会社佐々木建設"]
        customers = [  # all of rank A: each other's peers
            Customer(code=f"C{i}", name=name, branch=branch, rep=rep, rank="A")
            for i, name in enumerate(names, start=1)
        ]
        db.session.add_all(
            [*customers, Customer(code="X1", name="他人の顧客", branch=branch, rep=colleague)]
        )
        db.session.commit()
        now = datetime.now(UTC)
        today = local_today(TZ)
        for i, customer in enumerate(customers):
            payload = {
                "client_id": str(uuid.uuid4()),
                "customer_code": customer.code,
                "visited_at": (now - timedelta(days=10 + 9 * i)).isoformat(),
                "purpose": "routine",
                "hearing_done": False,
            }
            if i < 3:
                payload["next_action"] = {
                    "action": "見積りの回答を確認",
                    "due_on": (today - timedelta(days=i)).isoformat(),
                }
            record_visit(db.session, rep, payload, tz=TZ, now=now)
        # This week: two routine rounds, no hearing, no next action (My week's gaps).
        for customer in customers[3:5]:
            payload = {
                "client_id": str(uuid.uuid4()),
                "customer_code": customer.code,
                "visited_at": (now - timedelta(minutes=30)).isoformat(),
                "purpose": "routine",
                "hearing_done": False,
            }
            record_visit(db.session, rep, payload, tz=TZ, now=now)
        # Two years of purchases: the first customer buys tools and gloves, never the oil
        # that its peers of rank A buy (a cross-sell candidate).
        oil, tools, gloves = (
            Category(code="OIL", name="潤滑油", sort=1),
            Category(code="CUT", name="切削工具", sort=2),
            Category(code="PPE", name="保護手袋", sort=3),
        )
        for i, customer in enumerate(customers):
            bought = (tools, gloves) if i == 0 else (oil, tools)
            for month in range(24):
                for category in bought:
                    db.session.add(
                        SalesLine(
                            customer=customer,
                            category=category,
                            sold_on=today - timedelta(days=30 * month + 3 + i),
                            amount=20000 + 1000 * i + 500 * month,
                        )
                    )
        db.session.flush()
        deepening.sales_changed(db.session, [c.id for c in customers])
        db.session.add(
            PlannedVisit(
                rep=rep,
                customer=customers[-1],
                planned_on=today,
                purpose=db.session.scalars(select(Purpose).where(Purpose.code == "proposal")).one(),
            )
        )
        db.session.commit()
    running = Server(app)
    running.start()
    yield running
    if running.httpd is not None:
        running.stop()


def _visits(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count(Visit.id)))
        db.session.remove()
        return count


@pytest.mark.browser
def test_the_plan_fills_the_first_screen_with_reasons_and_purposes(server, tmp_path):
    with phone(server.base) as (_context, page):
        page.goto(f"{server.base}/")
        page.screenshot(path=str(screenshot_dir(tmp_path) / "today.png"))
        # The handful is on the first screen, each with why and what to go for: no scrolling.
        rows = page.locator(".plan-list .plan-item")
        assert rows.count() == 5
        for i in range(5):
            row = rows.nth(i)
            assert row.locator(".plan-why").inner_text().strip()
            assert row.locator(".reason").count() >= 1
        bottom = rows.nth(4).evaluate("r => r.getBoundingClientRect().bottom")
        tabbar = page.locator("nav.tabbar").evaluate("n => n.getBoundingClientRect().top")
        assert bottom <= tabbar <= page.viewport_size["height"], (bottom, tabbar)
        items = page.locator(".plan-list").first.locator("li.plan-item")
        assert items.count() == 5
        tabbar_top = page.locator(".tabbar").bounding_box()["y"]
        for i in range(5):
            item = items.nth(i)
            box = item.bounding_box()
            assert box["y"] + box["height"] <= min(844, tabbar_top), f"item {i} is below the fold"
            assert item.locator(".badge-purpose").inner_text().strip()
            assert item.locator(".plan-why").inner_text().strip()
            assert item.locator(".reason").count() >= 1
        text = page.locator(".plan").inner_text()
        # Planned first (with the purpose decided before going), and never a colleague's.
        assert items.nth(0).inner_text().startswith("有限会社佐々木建設")
        assert "提案・商談" in items.nth(0).inner_text()
        assert "他人の顧客" not in text
        assert "すべて表示" in text
        # Only the handful is in the page; the rest is fetched and opens in place, without a
        # page load.
        assert page.locator(".plan-more li.plan-item").count() == 0
        url = page.url
        page.locator(".plan-more summary").click()
        page.locator(".plan-more li.plan-item").first.wait_for(state="visible", timeout=10000)
        assert page.url == url
        rest = page.locator(".plan-more li.plan-item").count()
        assert rest > 0 and f"（{5 + rest}件）" in page.locator(".plan-more summary").inner_text()


@pytest.mark.browser
def test_a_follow_up_moved_offline_waits_in_the_outbox_and_is_sent_once(server):
    base = server.base
    with phone(base) as (context, page):
        page.goto(f"{base}/")
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30000)
        wait_until(
            page,
            "caches.open('fieldlog-pages').then(c => c.match('/')).then(r => !!r)",
            "Today in the page cache",
        )
        server.stop()
        context.set_offline(True)
        page.goto(f"{base}/")
        form = page.locator("form[data-outbox=follow_up_reschedule]").first
        follow_up_id = int(form.get_attribute("data-id"))
        target = (local_today(TZ) + timedelta(days=9)).isoformat()
        form.locator("input[type=date]").fill(target)
        form.locator("button").click()
        page.wait_for_selector(".settled-note")
        with server.app.app_context():
            assert db.session.get(FollowUp, follow_up_id).due_on.isoformat() != target
            db.session.remove()

        server.start()
        context.set_offline(False)
        page.goto(f"{base}/outbox")
        page.locator("button.button-primary[data-sync-now]").click()
        page.wait_for_function(
            "document.querySelectorAll('.outbox-entry').length === 0", timeout=20000
        )
    with server.app.app_context():
        assert db.session.get(FollowUp, follow_up_id).due_on.isoformat() == target
        db.session.remove()


def _fill_visit(page) -> None:
    page.locator(".chip:has(input[name=purpose][value=hearing])").click()
    page.locator(".chip:has(input[name=hearing_done][value=yes])").click()


@pytest.mark.browser
def test_a_tap_on_a_follow_up_logs_the_visit_that_completes_it_once(server):
    """Save tapped twice, then Back and Save again: exactly one visit, the follow-up done."""
    base = server.base
    with phone(base) as (_context, page):
        page.goto(f"{base}/")
        row = page.locator("section[aria-labelledby=due-head] a.row-link").first
        href = row.get_attribute("href")
        follow_up_id = int(href.rsplit("follow_up=", 1)[1])
        row.click()
        page.wait_for_url("**/visits/new?**")
        assert page.locator(
            f"input[name=completes_follow_ups][value='{follow_up_id}']"
        ).is_checked()
        _fill_visit(page)
        before = _visits(server.app)
        save = page.locator("button[type=submit]")
        save.dispatch_event("click")
        save.dispatch_event("click")
        page.wait_for_url(f"{base}/", timeout=20000)
        wait_until(page, "document.readyState === 'complete'", "Today loaded")
        page.go_back()
        page.wait_for_url("**/visits/new?**")
        # Whatever the browser restored (the reset form, or the filled one bound to the same
        # client_id), Save again never stores the saved visit a second time.
        page.locator("button[type=submit]").dispatch_event("click")
        page.wait_for_timeout(1000)
        page.goto(f"{base}/outbox")
        wait_until(page, "document.readyState === 'complete'", "the outbox loaded")
        page.wait_for_function(
            "document.querySelectorAll('.outbox-entry').length === 0", timeout=20000
        )
    assert _visits(server.app) - before == 1
    with server.app.app_context():
        assert db.session.get(FollowUp, follow_up_id).done_on is not None
        db.session.remove()


@pytest.mark.browser
def test_the_customer_page_and_my_week_say_what_to_do_next(server, tmp_path):
    shots = screenshot_dir(tmp_path)
    with phone(server.base) as (_context, page):
        with server.app.app_context():
            first = db.session.scalars(select(Customer).where(Customer.code == "C1")).one()
            first.address = "東京都港区芝公園4-2-8"
            db.session.commit()
            customer_id = first.id
            db.session.remove()
        page.goto(f"{server.base}/customers/{customer_id}")
        # A whole-page picture: the tab bar, fixed to the phone's bottom, goes to the end.
        page.add_style_tag(content=".tabbar { position: static; }")
        page.screenshot(path=str(shots / "customer.png"), full_page=True)
        text = page.locator("main").inner_text()
        assert "購入しているもの" in text and "切削工具" in text and "保護手袋" in text
        assert "次に提案するもの" in text and "潤滑油" in text
        assert page.locator(".chart svg").is_visible()
        assert page.locator("a[href^='geo:']").is_visible()
        page.goto(f"{server.base}/me")
        page.locator(".gap-customers summary").first.click()
        # README's My week is taken on the demo company (tests/test_manage_e2e.py).
        assert page.locator(".gap-customers form button").first.is_visible()


@pytest.mark.browser
def test_the_customers_sales_table_fits_a_360_px_phone_in_english(server):
    """The last column (last bought) is seen without scrolling sideways, in the longer language."""
    with phone(server.base) as (context, page):
        context.add_cookies([{"name": "fieldlog_lang", "value": "en", "url": server.base}])
        page.set_viewport_size({"width": 360, "height": 780})
        with server.app.app_context():
            customer_id = db.session.scalars(select(Customer.id).where(Customer.code == "C1")).one()
            db.session.remove()
        page.goto(f"{server.base}/customers/{customer_id}")
        table = page.locator(".sales-table")
        assert "Last bought" in table.inner_text()
        assert table.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth")


@pytest.mark.browser
def test_todays_follow_up_rows_fit_360_px_and_the_bulk_cancel_asks_first(server):
    """The Done button stays in its card; a mis-tap on bulk cancel cancels nothing."""
    with server.app.app_context():
        rep = db.session.scalars(select(User).where(User.email == "rep@example.jp")).one()
        customer = db.session.scalars(select(Customer).where(Customer.code == "C2")).one()
        stale = FollowUp(
            rep=rep,
            branch_id=rep.branch_id,
            customer=customer,
            action="古いカタログの件",
            due_on=local_today(TZ) - timedelta(days=90),
        )
        db.session.add(stale)
        db.session.commit()
        stale_id = stale.id
        db.session.remove()
    with phone(server.base) as (_context, page):
        page.set_viewport_size({"width": 360, "height": 780})
        page.goto(f"{server.base}/")
        done = page.locator("section[aria-labelledby=due-head] .button-ok").first
        assert done.evaluate("b => b.getBoundingClientRect().right <= window.innerWidth")
        page.locator("details.long-overdue summary").click()
        asked: list[str] = []
        page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        page.get_by_role("button", name="チェックしたものを取り消す").click()
        page.wait_for_timeout(500)
        assert asked and "元に戻せません" in asked[0]
    with server.app.app_context():
        assert not db.session.get(FollowUp, stale_id).cancelled
        db.session.remove()


@pytest.mark.browser
def test_a_follow_up_moved_from_today_says_its_new_date(server):
    with phone(server.base) as (_context, page):
        page.goto(f"{server.base}/")
        first = page.locator("form[data-outbox=follow_up_reschedule]").first
        form = page.locator(
            f"form[data-outbox=follow_up_reschedule][data-id='{first.get_attribute('data-id')}']"
        )
        row = page.locator("section[aria-labelledby=due-head] li", has=form)
        assert row.locator(".badge-warn").count() == 1
        target = local_today(TZ) + timedelta(days=9)
        form.locator("input[type=date]").fill(target.isoformat())
        form.locator("button").click()
        moved = f"期日を{target:%Y/%m/%d}に変更しました。"
        row.locator(".settled-note", has_text=moved).wait_for()
        assert row.locator(".badge-warn").count() == 0


@pytest.mark.browser
def test_a_follow_up_done_from_today_offers_nothing_more_and_says_so(server):
    """Done settles the row: no date, no Move, no "overdue since", one note naming what was
    recorded. A move leaves Done to tap, and Done then replaces the move's note."""
    with phone(server.base) as (_context, page):
        page.goto(f"{server.base}/")
        due = page.locator("section[aria-labelledby=due-head] li")
        overdue = due.filter(has=page.locator(".badge-warn"))
        assert overdue.count() == 2
        ids = [
            int(row.locator("form[data-outbox=follow_up_done]").get_attribute("data-id"))
            for row in overdue.all()
        ]
        done_row, moved_row = (
            due.filter(has=page.locator(f"form[data-outbox=follow_up_done][data-id='{i}']"))
            for i in ids
        )

        done_row.get_by_role("button", name="完了").click()
        done_row.locator(".settled-note", has_text="完了しました。").wait_for()
        assert done_row.locator("input[type=date]").count() == 0
        assert done_row.get_by_role("button").count() == 0  # neither 期日変更 nor 完了
        assert done_row.locator(".badge-warn").count() == 0
        assert done_row.locator(".settled-note").all_inner_texts() == ["完了しました。"]

        target = local_today(TZ) + timedelta(days=9)
        moved_row.locator("input[type=date]").fill(target.isoformat())
        moved_row.get_by_role("button", name="期日変更").click()
        moved = f"期日を{target:%Y/%m/%d}に変更しました。"
        moved_row.locator(".settled-note", has_text=moved).wait_for()
        assert moved_row.locator("input[type=date]").count() == 0
        assert moved_row.get_by_role("button", name="期日変更").count() == 0
        done = moved_row.get_by_role("button", name="完了")
        assert done.is_enabled()  # still open: it may yet be done
        done.click()
        moved_row.locator(".settled-note", has_text="完了しました。").wait_for()
        assert moved_row.locator(".settled-note").all_inner_texts() == ["完了しました。"]
        assert moved_row.get_by_role("button").count() == 0
        assert outbox_entries(page) == []  # nothing refused, nothing waiting

    with server.app.app_context():
        first, second = (db.session.get(FollowUp, i) for i in ids)
        assert first.done_on == local_today(TZ) and first.due_on < local_today(TZ)
        assert (second.done_on, second.due_on) == (local_today(TZ), target)
        db.session.remove()


def _stale_follow_ups(app, n: int) -> list[int]:
    """n follow-ups of the rep overdue for 40+ days: Today's collapsed long-overdue group."""
    with app.app_context():
        rep = db.session.scalars(select(User).where(User.email == "rep@example.jp")).one()
        customers = db.session.scalars(select(Customer).where(Customer.rep_id == rep.id)).all()
        stale = [
            FollowUp(
                rep=rep,
                branch_id=rep.branch_id,
                customer=customers[i],
                action=f"古い宿題{i}",
                due_on=local_today(TZ) - timedelta(days=40 + i),
            )
            for i in range(n)
        ]
        db.session.add_all(stale)
        db.session.commit()
        ids = [f.id for f in stale]
        db.session.remove()
        return ids


@pytest.mark.browser
def test_bulk_reschedule_and_cancel_wait_offline_and_replay_once_online(server):
    """Offline, two stale follow-ups moved and one cancelled from Today's long-overdue group:
    one outbox entry each, dates shown as 2026/12/06, and the server right once online."""
    moved_ids = _stale_follow_ups(server.app, 3)
    cancelled_id = moved_ids.pop()
    base = server.base
    target = local_today(TZ) + timedelta(days=12)
    with phone(base) as (context, page):
        page.goto(f"{base}/")
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30000)
        wait_until(
            page,
            "caches.open('fieldlog-pages').then(c => c.match('/')).then(r => !!r)",
            "Today in the page cache",
        )
        server.stop()
        context.set_offline(True)
        page.goto(f"{base}/")
        group = page.locator("details.long-overdue")
        group.locator("summary").click()
        group.locator(f"input[name=ids][value='{cancelled_id}']").uncheck()
        group.locator("input[name=due_on]").fill(target.isoformat())
        group.get_by_role("button", name="チェックしたものの期日を変更").click()
        wait_until(
            page,
            "document.querySelectorAll('.long-overdue .settled-note').length === 2",
            "two rows settled",
        )
        page.goto(f"{base}/")  # the cached Today again, still offline
        group.locator("summary").click()
        for box in group.locator("input[name=ids]").all():
            box.set_checked(box.get_attribute("value") == str(cancelled_id))
        page.once("dialog", lambda d: d.accept())
        group.get_by_role("button", name="チェックしたものを取り消す").click()
        group.locator(".settled-note").wait_for()
        page.goto(f"{base}/outbox")
        wait_until(page, "document.querySelectorAll('.outbox-entry').length === 3", "three entries")
        waiting = page.locator("#outbox-list").inner_text()
        assert waiting.count(f"{target:%Y/%m/%d}") == 2 and target.isoformat() not in waiting
        assert "古い宿題2" in waiting
        with server.app.app_context():
            stored = [db.session.get(FollowUp, i) for i in [*moved_ids, cancelled_id]]
            assert all(f.due_on < local_today(TZ) and not f.cancelled for f in stored)
            db.session.remove()

        server.start()
        context.set_offline(False)
        page.locator("button.button-primary[data-sync-now]").click()
        page.wait_for_function(
            "document.querySelectorAll('.outbox-entry').length === 0", timeout=20000
        )
    with server.app.app_context():
        for follow_up_id in moved_ids:
            moved = db.session.get(FollowUp, follow_up_id)
            assert (moved.due_on, moved.cancelled) == (target, False)
        assert db.session.get(FollowUp, cancelled_id).cancelled
        db.session.remove()
