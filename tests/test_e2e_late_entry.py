"""In headless Chromium on a phone-sized page (390 × 844): a visit logged days late asks for an
optional reason, without JavaScript the reason is always offered, and neither refuses the visit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from fieldlog.app.extensions import db
from fieldlog.models import Customer, Visit
from fieldlog.rules.entry import days_later, entry_time

from .browser import launch_chromium, log_in, require_chromium
from .conftest import PASSWORD
from .test_e2e_visit import TZ, live_app, logged_in_page  # noqa: F401 (live_app is a fixture)

pytestmark = pytest.mark.own_sqlite


def _local_input(days_ago: int) -> str:
    return (datetime.now(TZ) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M")


def _fits_the_phone(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


@pytest.mark.browser
def test_a_late_visit_asks_for_a_reason_and_is_saved_with_it(live_app):  # noqa: F811
    app, base = live_app
    with logged_in_page(base) as (page, problems):
        page.goto(f"{base}/visits/new?customer=C100")
        box = page.locator("#late-reason")
        assert box.is_hidden(), "a visit of today asks for no reason"
        page.fill("#visited_at", _local_input(10))
        assert box.is_visible()
        assert "3日より前" in box.inner_text()
        page.fill("#visited_at", _local_input(0))
        assert box.is_hidden(), "back to today: the question goes away"
        page.fill("#visited_at", _local_input(10))
        page.locator("#late_reason").fill("現場で電波がなかった")
        reason = page.locator("#late_reason").bounding_box()
        assert reason is not None and reason["x"] >= 0 and reason["x"] + reason["width"] <= 390
        assert _fits_the_phone(page)
        page.locator("label.chip", has_text="提案・商談").tap()
        page.locator("label.chip", has_text="いいえ").tap()
        page.locator("button[type=submit]").tap()
        page.wait_for_url(f"{base}/")
        assert "保存して同期しました" in page.content()
    assert problems == [], problems
    with app.app_context():
        visit = db.session.scalars(
            select(Visit).join(Customer).where(Customer.code == "C100")
        ).one()
        assert visit.late_reason == "現場で電波がなかった"
        # The outbox sent the phone's save time, inside the visit–receipt window.
        assert visit.saved_at is not None
        assert visit.visited_at <= visit.saved_at <= visit.created_at
        entered = entry_time(visit.visited_at, visit.saved_at, visit.created_at)
        assert days_later(visit.visited_at, entered, TZ) == 10


@pytest.mark.browser
def test_without_javascript_the_reason_is_offered_and_posted(live_app):  # noqa: F811
    app, base = live_app
    require_chromium()

    with launch_chromium() as browser:
        context = browser.new_context(
            viewport={"width": 390, "height": 844},
            is_mobile=True,
            has_touch=True,
            locale="ja-JP",
            java_script_enabled=False,
        )
        page = context.new_page()
        log_in(page, base, "sato@example.jp", PASSWORD)
        page.goto(f"{base}/visits/new?customer=C100")
        assert page.locator("#late-reason").is_visible()
        assert _fits_the_phone(page)
        page.fill("#visited_at", _local_input(6))
        page.fill("#late_reason", "紙の日報から転記")
        page.locator("label.chip", has_text="定期巡回").click()
        page.locator("label.chip", has_text="いいえ").click()
        page.locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        assert page.url == f"{base}/"
    with app.app_context():
        visit = db.session.scalars(
            select(Visit).join(Customer).where(Customer.code == "C100")
        ).one()
        assert (visit.late_reason, visit.saved_at) == ("紙の日報から転記", None)
        assert visit.created_at > datetime.now(UTC) - timedelta(minutes=5)
