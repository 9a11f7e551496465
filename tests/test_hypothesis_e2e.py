"""End to end in headless Chromium: the demo's Nagoya hypothesis with its before/after charts
(tested vs comparison, start marked) and its lag charts (effect unit named)."""

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


@pytest.fixture
def demo_year(app):
    demo.build(db.session, today=NOW.astimezone(TZ).date(), tz=TZ, weeks=52)
    db.session.commit()


def test_hypothesis_page_shows_both_charts(app, demo_year, server, tmp_path):  # noqa: F811
    shots = screenshot_dir(tmp_path)
    require_chromium()
    owner = db.session.query(User).filter_by(role="owner").first()
    errors: list[str] = []
    shots.mkdir(parents=True, exist_ok=True)

    with launch_chromium() as browser:
        page = desktop_page(
            browser, server, owner.email, demo.DEMO_PASSWORD, errors, width=1024, height=1600
        )
        page.goto(f"{server}/hypotheses/1")
        assert page.locator("h1").first.inner_text() == "追加提案を増やせば売上が上がる"
        assert "数字からの提案" in page.locator(".suggested-verdict").inner_text()
        before_after = page.locator("#ev-h + * ~ .kgi-tiles svg.chart-line")
        assert before_after.count() == 3  # two linked KPIs and the KGI
        first = before_after.first
        assert "検証グループと比較グループ" in first.get_attribute("aria-label")
        legend = first.text_content()
        assert "名古屋支店" in legend and "他の支店（平均）" in legend and "開始" in legend
        lag = page.locator("svg.chart-lag")
        assert lag.count() == 6 and "効果の単位" in lag.first.text_content()
        for chart in (first, lag.first):  # drawn with a size, not collapsed
            box = chart.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 100
        assert_chart_text_readable(page)
        page.locator("#ev-h").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "hypothesis.png"), full_page=True)
        page.context.close()
    assert [e for e in errors if "Content Security Policy" in e] == []
