"""In Chromium: a cold forecast's card fills in where it stands, without reloading the page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from fieldlog.app.extensions import db

from .browser import launch_chromium, log_in, sqlite_app, wait_until
from .conftest import PASSWORD, Factory

pytestmark = pytest.mark.own_sqlite


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[str]:
    app = sqlite_app(tmp_path / "forecast.db", FIELDLOG_FORECAST_BACKGROUND=True)
    with app.app_context():
        # As `flask db upgrade` leaves it: in WAL mode the forecast job's commit of its claim
        # does not wait for the KPI ranking's long read (a rollback journal made it time out).
        with db.engine.connect() as conn:
            conn.connection.driver_connection.execute("PRAGMA journal_mode=WAL")
        make = Factory()
        customer = make.customer(make.branch("TKY", "東京支店"))
        for k in range(20):
            make.sale(customer, date(2026, 7, 6) + timedelta(weeks=k), 100_000 + 5_000 * (k % 4))
        make.user("owner", email="boss@example.jp")
        db.session.commit()
        db.session.remove()
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def test_the_finished_forecast_replaces_the_placeholder_in_place(server: str) -> None:
    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP")
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        log_in(page, server, "boss@example.jp", PASSWORD)
        page.goto(f"{server}/branches/TKY?week=2026-W47")
        assert page.locator(".forecast-progress").count() == 1  # cold: the placeholder
        page.evaluate("window.fieldlogMarker = 'same page'")  # gone if the page reloads
        wait_until(page, "document.querySelector('.forecast-chart svg') !== null", "the chart")
        assert page.evaluate("window.fieldlogMarker") == "same page"
        assert page.locator(".forecast-progress").count() == 0
        assert errors == []
