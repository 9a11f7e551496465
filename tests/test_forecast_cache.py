"""The sales forecasts kept in the database for every process (docs/kgi.md).

A forecast fitted by one process is read by the others without a fit; a change of the data's
version refits; a claim held by another process is waited for, and taken over once stale.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from sqlalchemy import delete, select, update

from fieldlog.app.extensions import db
from fieldlog.jobs import warm
from fieldlog.kpi import Scope, forecast_cache, kgi
from fieldlog.kpi.forecast import Forecast, TooLittleHistory
from fieldlog.models import Branch, Customer, ForecastCache

TZ = ZoneInfo("Asia/Tokyo")
AS_OF = date(2026, 11, 22)  # the end of 2026-W47, as the pages ask for it
WEEKS = 8
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def shop(app, make):
    """A branch with 20 weeks of sales (enough for a forecast) and one with 5 (too little)."""
    tky = make.branch("TKY", "東京")
    osk = make.branch("OSK", "大阪")
    customer = make.customer(tky)
    for k in range(20):
        make.sale(customer, date(2026, 7, 6) + timedelta(weeks=k), 100_000 + 5_000 * (k % 4))
    small = make.customer(osk)
    for k in range(5):
        make.sale(small, date(2026, 10, 19) + timedelta(weeks=k), 50_000)
    db.session.commit()
    return {"TKY": Scope.branch(tky.id), "OSK": Scope.branch(osk.id)}


def _in_background(scope: Scope, as_of: date = AS_OF) -> str:
    """Run the page's background job for a forecast and wait for it; its token."""
    token, _ = warm.request(current_app._get_current_object(), scope, as_of, WEEKS)
    assert warm.join_all(120)
    db.session.commit()  # the test's own snapshot: see what the job committed
    return token


def _fits_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from fieldlog.kpi import forecast

    def refused(*_args, **_kwargs):
        raise AssertionError("fitted a forecast that was kept")

    monkeypatch.setattr(forecast, "forecast", refused)


def _rows() -> list[ForecastCache]:
    db.session.commit()
    return list(db.session.scalars(select(ForecastCache).order_by(ForecastCache.id)))


def test_a_kept_forecast_is_read_by_another_process_without_a_fit(app, shop, monkeypatch):
    token = _in_background(shop["TKY"])
    assert warm.status(token) == {"progress": 1.0, "done": True, "failed": False}
    fresh = kgi._cached_forecast(db.session, shop["TKY"], AS_OF, WEEKS, tz=TZ)
    assert isinstance(fresh, Forecast)
    [row] = _rows()
    assert (row.scope, row.as_of, row.weeks, row.state) == (
        f"branch:{shop['TKY'].id}",
        AS_OF,
        WEEKS,
        "done",
    )
    assert row.data_version == kgi.data_version(db.session)
    # Another process: nothing in its memory, and it must not fit.
    kgi._FORECASTS.clear()
    _fits_refused(monkeypatch)
    assert kgi.cached_forecast(db.session, shop["TKY"], AS_OF, WEEKS) == fresh
    kgi._FORECASTS.clear()
    assert kgi._cached_forecast(db.session, shop["TKY"], AS_OF, WEEKS, tz=TZ) == fresh
    kgi._FORECASTS.clear()
    again = _in_background(shop["TKY"])  # its start-up warming reads it
    assert warm.status(again)["done"] and not warm.status(again)["failed"]


def test_the_kept_json_round_trips_exactly(app, shop):
    fresh = kgi._cached_forecast(db.session, shop["TKY"], AS_OF, WEEKS, tz=TZ)
    assert forecast_cache.from_json(json.loads(json.dumps(forecast_cache.to_json(fresh)))) == fresh
    kgi._FORECASTS.clear()
    _in_background(shop["TKY"])
    kgi._FORECASTS.clear()
    kept = kgi.cached_forecast(db.session, shop["TKY"], AS_OF, WEEKS)
    assert kept == fresh
    assert [type(w.value) for w in kept.weeks] == [int] * WEEKS
    assert all(type(w.interval) is tuple for w in kept.weeks)


def test_too_little_history_is_kept_too(app, shop, monkeypatch, make, client, auth):
    _in_background(shop["OSK"])
    [row] = _rows()
    assert row.result == {"too_little_history": [5]}
    kgi._FORECASTS.clear()
    _fits_refused(monkeypatch)
    kept = kgi.cached_forecast(db.session, shop["OSK"], AS_OF, WEEKS)
    assert isinstance(kept, TooLittleHistory) and kept.args == (5,)
    with pytest.raises(TooLittleHistory) as raised:
        kgi._cached_forecast(db.session, shop["OSK"], AS_OF, WEEKS, tz=TZ)
    assert raised.value.args == (5,)
    # A page in another worker answers from the kept row at once, with no placeholder.
    kgi._FORECASTS.clear()
    app.config["FIELDLOG_FORECAST_BACKGROUND"] = True
    auth.login(make.user("owner", email="boss@example.jp"))
    page = client.get("/branches/OSK?week=2026-W47").get_data(as_text=True)
    assert "売上の履歴が短いため予測できません(8週間分以上が必要です)。" in page
    assert "予測を計算中" not in page


def test_a_new_sales_line_refits_and_replaces_the_old_version(app, shop, make, monkeypatch):
    _in_background(shop["TKY"])
    [old] = [(r.id, r.data_version) for r in _rows()]
    customer = db.session.scalar(select(Customer).where(Customer.branch_id == shop["TKY"].id))
    make.sale(customer, date(2026, 11, 20), 3_000_000)
    db.session.commit()
    kgi._FORECASTS.clear()
    assert kgi.cached_forecast(db.session, shop["TKY"], AS_OF, WEEKS) is None  # a new version
    fits = []
    real = kgi.fit_forecast
    monkeypatch.setattr(kgi, "fit_forecast", lambda *a, **k: fits.append(a[1]) or real(*a, **k))
    _in_background(shop["TKY"])
    assert fits == [shop["TKY"]]
    [new] = _rows()  # the old version went when the new one was kept
    assert new.id != old[0] and new.data_version != old[1]
    assert new.data_version == kgi.data_version(db.session)


def test_a_claim_held_by_another_process_is_waited_for_then_read(app, shop, monkeypatch):
    """The page's job neither fits nor fails while another process fits: it polls, and its
    status says done when the other's forecast is kept."""
    scope = shop["TKY"]
    fresh = kgi._cached_forecast(db.session, scope, AS_OF, WEEKS, tz=TZ)
    kgi._FORECASTS.clear()
    version = kgi.data_version(db.session)
    other = forecast_cache.claim(db.session, scope, AS_OF, WEEKS, version)
    db.session.commit()
    assert other is not None
    assert forecast_cache.claim(db.session, scope, AS_OF, WEEKS, version) is None  # held
    db.session.rollback()
    _fits_refused(monkeypatch)
    token, state = warm.request(app, scope, AS_OF, WEEKS)
    assert state == "computing"
    time.sleep(3 * warm.WAIT_POLL)
    assert warm.status(token) == {"progress": 0.0, "done": False, "failed": False}
    # The other process keeps its forecast: the waiting job reads it.
    assert forecast_cache.keep(db.session, other, fresh)
    db.session.commit()
    assert warm.join_all(120)
    assert warm.status(token) == {"progress": 1.0, "done": True, "failed": False}
    assert kgi._FORECASTS and kgi.cached_forecast(db.session, scope, AS_OF, WEEKS) == fresh
    [row] = _rows()
    assert row.id == other and row.state == "done"


def test_a_stale_claim_is_taken_over(app, shop):
    scope = shop["TKY"]
    version = kgi.data_version(db.session)
    dead = forecast_cache.claim(db.session, scope, AS_OF, WEEKS, version)
    long_ago = forecast_cache.utcnow() - forecast_cache.STALE_AFTER - timedelta(seconds=1)
    db.session.execute(
        update(ForecastCache).where(ForecastCache.id == dead).values(started_at=long_ago)
    )
    db.session.commit()
    token = _in_background(scope)
    assert warm.status(token) == {"progress": 1.0, "done": True, "failed": False}
    [row] = _rows()
    assert row.id == dead and row.state == "done" and row.started_at > long_ago


def test_a_failed_fit_releases_its_claim(app, shop, monkeypatch):
    from fieldlog.kpi import forecast

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(forecast, "forecast", broken)
    token = _in_background(shop["TKY"])
    assert warm.status(token)["failed"] is True
    assert _rows() == []  # the next process that wants it fits it


def test_a_failed_forecast_is_started_again_once_its_failure_is_old(app, shop, monkeypatch):
    """A page asking soon after a failure is told it failed; a minute on, the job runs again
    (the database was busy, say), instead of the failure standing for the process's life."""
    from fieldlog.kpi import forecast

    fit = forecast.forecast
    monkeypatch.setattr(forecast, "forecast", lambda *_a, **_k: 1 / 0)
    failed = _in_background(shop["TKY"])
    again = warm.request(current_app._get_current_object(), shop["TKY"], AS_OF, WEEKS)
    assert again == (failed, "failed")
    monkeypatch.setattr(forecast, "forecast", fit)
    monkeypatch.setattr(warm, "RETRY_AFTER", 0.0)
    token = _in_background(shop["TKY"])
    assert token != failed
    assert warm.status(token) == {"progress": 1.0, "done": True, "failed": False}
    assert len(_rows()) == 1


def test_old_days_and_deleted_branches_leave_no_rows(app, shop, make):
    for weeks_back in (9, 3):
        _in_background(shop["OSK"], AS_OF - timedelta(weeks=weeks_back))
    assert [r.as_of for r in _rows()] == [AS_OF - timedelta(weeks=9), AS_OF - timedelta(weeks=3)]
    _in_background(shop["OSK"])  # keeping AS_OF drops what is more than 8 weeks older
    assert [r.as_of for r in _rows()] == [AS_OF - timedelta(weeks=3), AS_OF]
    bare = make.branch("TMP", "一時")  # no customers: too little history, kept all the same
    db.session.commit()
    _in_background(Scope.branch(bare.id))
    assert f"branch:{bare.id}" in {r.scope for r in _rows()}
    db.session.execute(delete(Branch).where(Branch.id == bare.id))
    db.session.commit()
    assert {r.scope for r in _rows()} == {f"branch:{shop['OSK'].id}"}


def test_a_page_that_computes_in_the_request_keeps_it_in_memory_only(app, shop, make, client, auth):
    auth.login(make.user("owner", email="boss@example.jp"))
    page = client.get("/branches/TKY?week=2026-W47").get_data(as_text=True)
    assert 'class="forecast-chart"' in page
    assert kgi._FORECASTS and _rows() == []


_WORKER = """
import json, sys, time
from fieldlog import create_app
from fieldlog.jobs import warm
from fieldlog.kpi import kgi

url, start_at = sys.argv[1], float(sys.argv[2])
app = create_app({
    "TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url,
    "FIELDLOG_TIMEZONE": "Asia/Tokyo", "FIELDLOG_SCHEDULER": False,
    "FIELDLOG_FORECAST_BACKGROUND": True,
})
fits = []
real = kgi.fit_forecast
kgi.fit_forecast = lambda *a, **k: fits.append(str(a[1])) or real(*a, **k)
time.sleep(max(0.0, start_at - time.time()))
warm.warm_all(app)
assert warm.join_all(120)
print(json.dumps(fits))
"""


def test_two_workers_starting_together_fit_each_forecast_once(app, shop):
    """Two processes warm the pages' forecasts at the same moment (gunicorn's workers at
    start): each forecast is fitted by one of them, and both end with all of them."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    start_at = time.time() + 6  # both imported by then, on a loaded machine too
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, url, str(start_at)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    fits = []
    for worker in workers:
        out, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err
        fits += json.loads(out.strip().splitlines()[-1])
    assert len(fits) == 3 and len(set(fits)) == 3  # company, TKY, OSK: once each
    rows = _rows()
    assert len(rows) == 3 and {r.state for r in rows} == {"done"}
