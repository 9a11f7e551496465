"""The import page in Chromium: a visit history workbook checked, then imported, in Japanese."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from fieldlog.app.extensions import db
from fieldlog.models import Visit

from .browser import desktop_page, launch_chromium, require_chromium, screenshot_dir
from .conftest import PASSWORD
from .io_files import xlsx_file
from .test_concurrency import server  # noqa: F401 — the live-server fixture

pytestmark = pytest.mark.browser


def test_visit_history_workbook_through_the_import_page(app, make, server, tmp_path):  # noqa: F811
    require_chromium()
    shots = screenshot_dir(tmp_path)
    branch = make.branch("T01", "東京")
    owner = make.user("owner", email="owner@example.jp")
    rep = make.user("rep", branch, email="yamada@example.jp")
    make.customer(branch, rep, code="1001")
    make.category("FOOD", "食品")
    db.session.commit()
    bad = xlsx_file(
        tmp_path,
        "日報-誤り.xlsx",
        [
            ["訪問日", "顧客コード", "目的", "ヒアリング"],
            [datetime(2026, 11, 16), "1001", "見学", "はい"],
        ],
    )
    good = xlsx_file(
        tmp_path,
        "日報.xlsx",
        [
            [
                "訪問日時",
                "担当者",
                "顧客コード",
                "目的",
                "ヒアリング",
                "提案カテゴリ",
                "提案金額",
                "行番号",
            ],
            [
                datetime(2026, 11, 16, 10, 30),
                "",
                "1001",
                "課題ヒアリング",
                "○",
                "FOOD",
                50000,
                "A1",
            ],
            [
                datetime(2026, 11, 17),
                "yamada@example.jp",
                "1001",
                "定期巡回・御用聞き",
                "×",
                "",
                "",
                "A2",
            ],
        ],
    )
    errors: list[str] = []

    with launch_chromium() as browser:
        page = desktop_page(browser, server, owner.email, PASSWORD, errors, width=1024, height=1200)

        page.goto(f"{server}/import")
        page.click("details.import-columns summary")
        assert "訪問日時" in page.locator("details.import-columns").inner_text()
        page.select_option("select[name=kind]", "visits")
        page.set_input_files("input[name=file]", str(bad))
        page.click("button[type=submit]")
        page.wait_for_selector(".import-job[data-state=invalid]", timeout=30_000)
        row = page.locator("table.import-errors tbody tr").first.inner_text()
        assert "目的" in row and "見学" in row, row

        page.goto(f"{server}/import")
        page.select_option("select[name=kind]", "visits")
        page.set_input_files("input[name=file]", str(good))
        page.click("button[type=submit]")
        page.wait_for_selector(".import-job[data-state=validated]", timeout=30_000)
        assert "訪問履歴(日報)" in page.locator("h1").inner_text()
        page.screenshot(path=str(shots / "import-visits.png"))
        page.click("button:has-text('取り込みを実行')")
        page.wait_for_selector(".import-job[data-state=done]", timeout=30_000)
        assert "2" in page.locator(".flash").inner_text()
        page.context.close()
    db.session.rollback()
    stored = db.session.scalars(select(Visit).order_by(Visit.ref)).all()
    assert [(v.ref, v.source, len(v.proposals)) for v in stored] == [
        ("A1", "import", 1),
        ("A2", "import", 0),
    ]
    assert [e for e in errors if "Content Security Policy" in e] == []


@pytest.mark.parametrize("width", [390, 1024])
def test_export_page_downloads_a_range_without_script(app, make, server, tmp_path, width):  # noqa: F811
    """A manager picks a range on a phone or a desktop and gets that range's visits only."""
    shots = screenshot_dir(tmp_path)
    branch = make.branch("T01", "東京")
    manager = make.user("manager", branch, email="boss@example.jp")
    rep = make.user("rep", branch, email="yamada@example.jp")
    shop = make.customer(branch, rep, code="1001")
    for at in ("2026-11-20T23:30:00+09:00", "2026-11-21T00:30:00+09:00"):
        make.visit(rep, shop, visited_at=at)
    db.session.commit()
    errors: list[str] = []

    with launch_chromium() as browser:
        page = desktop_page(browser, server, manager.email, PASSWORD, errors, width=width)
        downloads: list[str] = []
        page.on("download", lambda d: downloads.append(d.suggested_filename))
        page.goto(f"{server}/export")
        page.fill("input[name=from]", "2026-11-21")
        page.fill("input[name=to]", "2026-11-21")
        # Enter in a date field reloads the page with the range kept, and downloads nothing
        # (checked at the end: one download in all).
        page.press("input[name=to]", "Enter")
        page.wait_for_url(f"{server}/export?from=2026-11-21&to=2026-11-21")
        assert page.input_value("input[name=from]") == "2026-11-21"
        page.screenshot(path=str(shots / f"export-range-{width}.png"), full_page=True)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"the page is {scroll}px wide on a {width}px screen"
        with page.expect_download() as caught:
            page.click("button[formaction='/export/visits.csv']:not([name])")
        download = caught.value
        assert download.suggested_filename == "fieldlog-visits-2026-11-21_2026-11-21.csv"
        text = Path(download.path()).read_bytes().decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert [(r["訪問日"], r["訪問日時"]) for r in rows] == [("2026-11-21", "2026-11-21 00:30")]

        page.fill("input[name=from]", "2026-11-30")
        page.click("button[formaction='/export/proposals.xlsx']")
        page.wait_for_selector("p.form-error[role=alert]")
        said = page.locator("#export-to-error").inner_text()
        assert said == "終了日：開始日より前の日付になっています。", said
        assert page.input_value("input[name=from]") == "2026-11-30"
        page.screenshot(path=str(shots / f"export-range-error-{width}.png"), full_page=True)
        page.context.close()
    assert downloads == ["fieldlog-visits-2026-11-21_2026-11-21.csv"]
    assert [e for e in errors if "Content Security Policy" in e] == []
