"""The 予実 card and the forecast chart in headless Chromium, on the demo company."""

from __future__ import annotations

import pytest

from fieldlog import demo
from fieldlog.app.extensions import db
from fieldlog.models import User

from .browser import desktop_page, launch_chromium, require_chromium, screenshot_dir
from .conftest import NOW, TZ
from .test_concurrency import server  # noqa: F401 — the live-server fixture
from .test_manage_e2e import assert_chart_text_readable

pytestmark = pytest.mark.browser


def test_yojitsu_and_forecast_in_chromium(app, server, tmp_path):  # noqa: F811
    demo.build(db.session, today=NOW.astimezone(TZ).date(), tz=TZ, weeks=10)
    db.session.commit()
    require_chromium()
    owner = db.session.query(User).filter_by(role="owner").first()
    manager = db.session.query(User).filter_by(role="manager").order_by(User.id).first()
    code = manager.branch.code
    shots = screenshot_dir(tmp_path)
    errors: list[str] = []

    with launch_chromium() as browser:
        page = desktop_page(
            browser, server, owner.email, demo.DEMO_PASSWORD, errors, width=1024, height=1366
        )
        page.goto(f"{server}/summary?week=2026-W47")
        card = page.locator("section:has(#yojitsu-h)")
        text = card.inner_text()
        for words in ("予実", "月初来", "月間予算", "進捗率", "経過率", "前年同期", "前年比"):
            assert words in text, words
        assert "2026年11月の着地見込み" in text and "¥" in text
        chart = card.locator("svg.chart-line")
        assert chart.count() == 1 and chart.locator("polygon.band").count() == 1
        assert page.locator("#branch-months-h").is_visible()
        assert_chart_text_readable(page)
        card.screenshot(path=str(shots / "yojitsu.png"))
        answer = page.goto(f"{server}/branches/{code}?week=2026-W47")
        assert answer.status == 200, page.content()[:3000]
        assert "担当者別の売上" in page.locator("section:has(#rep-kgi-h)").inner_text()
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        page.request.post(
            f"{server}/locale", form={"csrf_token": token, "lang": "en", "next": "/summary"}
        )
        page.goto(f"{server}/summary?week=2026-W47")
        english = page.locator("section:has(#yojitsu-h)").inner_text()
        assert "Budget vs actual" in english and "Landing estimate" in english
        assert_chart_text_readable(page)
    assert errors == []
