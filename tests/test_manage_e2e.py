"""End to end in headless Chromium on demo data: the owner's summary, a manager's dashboard and
a rep's My week.

Screenshots go to static/img/screenshots/ (the README's) with FIELDLOG_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import pytest

from fieldlog import demo
from fieldlog.app.extensions import db
from fieldlog.models import Branch, User

from .browser import desktop_page, launch_chromium, log_in, phone, require_chromium, screenshot_dir
from .conftest import NOW, TZ
from .test_concurrency import server  # noqa: F401 — the live-server fixture

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_company(app):
    demo.build(db.session, today=NOW.astimezone(TZ).date(), tz=TZ, weeks=10)
    db.session.commit()


def assert_fits_a_tablet(page) -> None:
    """Every branch/rep column is in view on a 1024 px tablet, none hidden behind a scroll."""
    widths = page.evaluate(
        "Array.from(document.querySelectorAll('table.kpi-matrix'))"
        ".map(t => [t.parentElement.clientWidth, t.scrollWidth])"
    )
    assert widths and all(wide <= shown for shown, wide in widths), widths


def assert_chart_text_readable(page) -> None:
    """Line-chart labels show at least 9 px tall and inside their chart (none cut off)."""
    problems = page.evaluate(
        """Array.from(document.querySelectorAll('svg.chart-line')).flatMap(svg => {
             const box = svg.getBoundingClientRect();
             return Array.from(svg.querySelectorAll('text')).map(t => {
               const r = t.getBoundingClientRect();
               return (r.height < 9 || r.left < box.left - 1 || r.right > box.right + 1)
                 ? `${t.textContent}: ${r.height.toFixed(1)} px tall, ${r.left.toFixed(0)}–`
                   + `${r.right.toFixed(0)} in ${box.left.toFixed(0)}–${box.right.toFixed(0)}`
                 : null;
             }).filter(Boolean);
           })"""
    )
    assert problems == []


def test_summary_and_dashboard_in_chromium(app, demo_company, server, tmp_path):  # noqa: F811
    SHOTS = screenshot_dir(tmp_path)
    require_chromium()
    owner = db.session.query(User).filter_by(role="owner").first()
    manager = db.session.query(User).filter_by(role="manager").order_by(User.id).first()
    branch = db.session.get(Branch, manager.branch_id)
    errors: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)

    with launch_chromium() as browser:
        page = desktop_page(
            browser, server, owner.email, demo.DEMO_PASSWORD, errors, width=1024, height=1366
        )
        page.goto(f"{server}/summary?week=2026-W47")
        assert page.locator("h1").first.inner_text().startswith("全社サマリー")
        assert page.locator("table.kpi-matrix tbody tr").count() >= 2
        assert page.locator("svg.chart").count() > 5
        assert_chart_text_readable(page)
        assert_fits_a_tablet(page)
        page.screenshot(path=str(SHOTS / "summary.png"), full_page=False)
        # On a phone the table scrolls sideways; its header stays one line, not a tall
        # blank band of wrapped column names scrolled out of view.
        page.set_viewport_size({"width": 390, "height": 844})
        header = page.locator("table.kpi-matrix thead tr").first.bounding_box()
        assert header is not None and header["height"] <= 48, header
        page.context.close()

        page = desktop_page(
            browser, server, manager.email, demo.DEMO_PASSWORD, errors, width=900, height=1400
        )
        page.goto(f"{server}/branch")
        assert page.url.endswith(f"/branches/{branch.code}")
        assert branch.name in page.locator("h1").first.inner_text()
        assert page.locator("a[href*='report.pdf']").count() == 1
        page.set_viewport_size({"width": 1024, "height": 1400})
        assert_fits_a_tablet(page)
        page.set_viewport_size({"width": 900, "height": 1400})
        page.screenshot(path=str(SHOTS / "branch.png"), full_page=False)
        page.context.close()
    # The strict CSP would report any inline script or style as a console error.
    assert [e for e in errors if "Content Security Policy" in e] == []


def test_my_week_names_the_customers_behind_each_gap(app, demo_company, server, tmp_path):  # noqa: F811
    """A demo rep's last week on a phone: under a KPI behind target, the customers behind its
    gap, each one tap from tomorrow's plan; a planned one says so (the README's screenshot)."""
    shots = screenshot_dir(tmp_path)
    with phone(server, "sato.kenta@minato.example", demo.DEMO_PASSWORD) as (_context, page):
        page.goto(f"{server}/me?week=2026-W47")
        gap = page.locator(".gap-customers").first
        gap.locator("> summary").click()
        assert gap.locator("li.row").count() >= 3
        gap.locator("form.row-action button").first.click()  # tomorrow's plan
        page.wait_for_load_state("networkidle")
        gap.locator("> summary").click()
        assert "予定" in gap.locator("li.row .badge").first.inner_text()
        # A whole-page picture: the tab bar, fixed to the phone's bottom, goes to the end.
        page.add_style_tag(content=".tabbar { position: static; }")
        page.screenshot(path=str(shots / "my-week.png"), full_page=True)


def test_every_tab_fits_a_360px_phone_in_both_languages(app, demo_company, server):  # noqa: F811
    """The bottom tab bar shows every tab of each role whole, the outbox's count included."""

    require_chromium()
    people = [
        db.session.query(User).filter_by(role=role).order_by(User.id).first().email
        for role in ("rep", "manager", "owner")
    ]
    seen = {}
    with launch_chromium() as browser:
        for email in people:
            for lang in ("ja", "en"):
                context = browser.new_context(viewport={"width": 360, "height": 740})
                context.add_cookies([{"name": "fieldlog_lang", "value": lang, "url": server}])
                page = context.new_page()
                log_in(page, server, email, demo.DEMO_PASSWORD)
                page.evaluate(
                    "for (const b of document.querySelectorAll('[data-outbox-count]'))"
                    " { b.hidden = false; b.textContent = '12'; }"
                )
                bar = page.evaluate(
                    """(() => {
                         const nav = document.querySelector('nav.tabbar');
                         const tabs = [...nav.querySelectorAll('.tab')];
                         return {overflow: nav.scrollWidth > nav.clientWidth,
                                 cut: tabs.filter(a => a.scrollWidth > a.clientWidth
                                                    || a.getBoundingClientRect().right > 360)
                                          .map(a => a.innerText),
                                 labels: tabs.map(a => a.innerText.replace(/\\s*12$/, ''))};
                       })()"""
                )
                assert not bar["overflow"] and bar["cut"] == [], (email, lang, bar)
                seen[(email, lang)] = bar["labels"]
                context.close()
    rep, manager, owner = people
    assert seen[(rep, "ja")] == ["今日", "記録", "訪問", "提案", "顧客", "今週", "送信"]
    assert seen[(manager, "en")] == [
        "Today", "Log", "Visits", "Deals", "Clients", "Week", "Branch", "Outbox"
    ]  # fmt: skip
    assert seen[(owner, "ja")] == ["今日", "訪問", "提案", "顧客", "支店", "全社", "管理"]
