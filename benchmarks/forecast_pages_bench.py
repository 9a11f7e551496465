"""First view of the owner summary and a branch dashboard: waiting for the forecast vs not.

On the demo company (``demo-data --today 2026-11-23``, SQLite, Flask test client, server time)
it times, for ``/summary`` and ``/branches/TKY`` of 2026-W47:

- blocking (the baseline, how the pages worked before): the first view in a fresh process
  fits the forecast inside the request (statsmodels import, lead analyses, fit);
- background: the first view answers with the placeholders (予測を計算中…; on the dashboard
  also 分析中… for the lead analyses of its gap card) while worker threads compute; the time
  until every job reports done; then the view with everything shown;
- warm: the page shown again (the forecast kept for this data version).

Each case runs in its own process so the statsmodels import and the caches start cold. Usage:

    .venv/bin/python benchmarks/forecast_pages_bench.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = ["/summary?week=2026-W47", "/branches/TKY?week=2026-W47"]


def _client(url: str, background: bool):
    from fieldlog import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench-" + "x" * 40,
            "FIELDLOG_SCHEDULER": False,
            "FIELDLOG_FORECAST_BACKGROUND": background,
            "WTF_CSRF_ENABLED": True,
        }
    )
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post(
        "/login",
        data={"email": "owner@minato.example", "password": "fieldlog-demo", "csrf_token": token},
    )
    return client


def one_case(url: str, page: str, background: bool) -> dict:
    """In a fresh process: the first view, the wait for the job, the view after, again."""
    client = _client(url, background)
    start = time.perf_counter()
    first = client.get(page).get_data(as_text=True)
    out = {"first": time.perf_counter() - start, "placeholder": "予測を計算中" in first}
    # Every background job the page waits for: the forecast's, and the dashboard's lead analyses.
    jobs = re.findall(r'data-status-url="([^"]+)"', first)
    if jobs:
        for status in jobs:
            while not client.get(status).get_json()["done"]:
                time.sleep(0.05)
        out["ready"] = time.perf_counter() - start
    start = time.perf_counter()
    shown = client.get(page).get_data(as_text=True)
    out["next"] = time.perf_counter() - start
    out["chart"] = 'class="forecast-chart"' in shown and "分析中" not in shown
    start = time.perf_counter()
    client.get(page)
    out["warm"] = time.perf_counter() - start
    return out


def build(folder: str) -> str:
    from click.testing import CliRunner

    from fieldlog import create_app
    from fieldlog.app.extensions import db

    url = f"sqlite:///{folder}/demo.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "b" * 40})
    with app.app_context():
        db.create_all()
        result = CliRunner().invoke(app.cli, ["demo-data", "--today", "2026-11-23"])
        assert result.exit_code == 0, result.output
        db.engine.dispose()
    return url


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--case":
        print(json.dumps(one_case(sys.argv[2], sys.argv[3], sys.argv[4] == "1")))
        return
    with tempfile.TemporaryDirectory() as folder:
        url = build(folder)
        print("| page | mode | first view | forecast ready | next view | warm view |")
        print("|---|---|---|---|---|---|")
        for page in PAGES:
            times = {}
            for background in (False, True):
                run = subprocess.run(
                    [sys.executable, __file__, "--case", url, page, "1" if background else "0"],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                got = json.loads(run.stdout.strip().splitlines()[-1])
                times[background] = got
                mode = "background (placeholder)" if background else "blocking (baseline)"
                ready = f"{got['ready']:.2f} s" if "ready" in got else "—"
                print(
                    f"| {page} | {mode} | {got['first']:.2f} s | {ready} | "
                    f"{got['next']:.2f} s | {got['warm']:.2f} s |",
                    flush=True,
                )
                assert got["chart"], "the forecast chart did not show"
            ratio = times[True]["first"] / times[False]["first"]
            print(f"| {page} | first view, background ÷ blocking | {ratio:.2f} | | | |")


if __name__ == "__main__":
    main()
