"""End to end in headless Chromium: the owner's summary and a manager's dashboard on demo data.

Screenshots go to static/img/screenshots/ (the README's) with FIELDLOG_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from fieldlog import demo
from fieldlog.extensions import db
from fieldlog.models import Branch, User

from .conftest import NOW, TZ
from .test_concurrency import server  # noqa: F401 — the live-server fixture

CHROMIUM = "/usr/bin/chromium"
# The committed screenshots are refreshed only on request, so a test run leaves the tree clean.
README_SHOTS = Path(__file__).resolve().parent.parent / "static" / "img" / "screenshots"
UPDATE_SCREENSHOTS = os.environ.get("FIELDLOG_UPDATE_SCREENSHOTS") == "1"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="no Chromium here")


@pytest.fixture
def demo_company(app):
    demo.build(db.session, today=NOW.astimezone(TZ).date(), tz=TZ, weeks=10)
    db.session.commit()


def _login(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", demo.DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_summary_and_dashboard_in_chromium(app, demo_company, server, tmp_path):  # noqa: F811
    SHOTS = README_SHOTS if UPDATE_SCREENSHOTS else tmp_path
    owner = db.session.query(User).filter_by(role="owner").first()
    manager = db.session.query(User).filter_by(role="manager").order_by(User.id).first()
    branch = db.session.get(Branch, manager.branch_id)
    errors: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1024, "height": 1366}, locale="ja-JP")
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            _login(page, server, owner.email)
            page.goto(f"{server}/summary?week=2026-W47")
            assert page.locator("h1").first.inner_text().startswith("全社サマリー")
            assert page.locator("table.kpi-matrix tbody tr").count() >= 2
            assert page.locator("svg.chart").count() > 5
            page.screenshot(path=str(SHOTS / "summary.png"), full_page=False)
            context.close()

            context = browser.new_context(viewport={"width": 900, "height": 1400}, locale="ja-JP")
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            _login(page, server, manager.email)
            page.goto(f"{server}/branch")
            assert page.url.endswith(f"/branches/{branch.code}")
            assert branch.name in page.locator("h1").first.inner_text()
            assert page.locator("a[href*='report.pdf']").count() == 1
            page.screenshot(path=str(SHOTS / "branch.png"), full_page=False)
            context.close()
        finally:
            browser.close()
    # The strict CSP would report any inline script or style as a console error.
    assert [e for e in errors if "Content Security Policy" in e] == []
