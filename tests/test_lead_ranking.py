"""The ranking of candidate KPIs by evidence, its cache, and the batched weekly series."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from fieldlog.app.extensions import db
from fieldlog.jobs import lead_ranking as lead_jobs
from fieldlog.kpi import KPI_KEYS, Scope, lead_cache, ranking, rollup
from fieldlog.kpi.lead import KPI_CHOICES, lead_analysis
from fieldlog.kpi.series import weekly_series
from fieldlog.models import Customer, FollowUp, LeadCache, LeadRanking, Proposal, User
from fieldlog.reports import analysis
from fieldlog.rules.periods import Period

from .conftest import PASSWORD, TZ
from .panels import rep_with_weekly_proposals
from .test_concurrency import server  # noqa: F401 — the live-server fixture

UNTIL = Period.parse("2026-W47")  # the last complete week at the tests' clock
WEEKS = 40
LAG = 3


@pytest.fixture
def pilot(make):
    """Two branches: NGY's proposals lead its sales by 3 weeks, TKY's sales ignore them."""
    rng = np.random.default_rng(7)
    periods = UNTIL.trailing(WEEKS)
    branches = {}
    for code, lead in (("NGY", True), ("TKY", False)):
        branch = branches[code] = make.branch(code)
        for r in range(4):
            email = f"{code.lower()}{r}@example.jp"
            rep_with_weekly_proposals(
                make, branch, email, periods, rng, lag=LAG, lead=lead, alternate_hearing=True
            )
    db.session.commit()
    return branches


def _same(a, b) -> None:
    assert (a.kpi, a.kgi, a.scope, a.verdict, a.lag_weeks) == (
        b.kpi,
        b.kgi,
        b.scope,
        b.verdict,
        b.lag_weeks,
    )
    assert (a.effect, a.interval, a.n, a.units, a.start, a.until) == (
        b.effect,
        b.interval,
        b.n,
        b.units,
        b.start,
        b.until,
    )
    assert [(e.lag, e.effect, e.interval) for e in a.by_lag] == [
        (e.lag, e.effect, e.interval) for e in b.by_lag
    ]


def test_ranking_equals_one_lead_analysis_per_kpi_and_scope(pilot):
    found = ranking.compute_ranking(db.session, "sales_amount", WEEKS, UNTIL, tz=TZ)
    ngy, tky = pilot["NGY"], pilot["TKY"]
    assert set(found) == {"company", f"branch:{ngy.id}", f"branch:{tky.id}"}
    for key, scope in (
        ("company", Scope.company()),
        (f"branch:{ngy.id}", Scope.branch(ngy.id)),
        (f"branch:{tky.id}", Scope.branch(tky.id)),
    ):
        assert [r.kpi for r in found[key]] == list(KPI_CHOICES)
        for result in found[key]:
            alone = lead_analysis(
                db.session, result.kpi, "sales_amount", scope, WEEKS, UNTIL, tz=TZ
            )
            _same(result, alone)
    ranked = ranking.ranked(found[f"branch:{ngy.id}"])
    assert ranked[0].kpi == "proposal_count" and ranked[0].verdict == "leads"
    assert abs(ranked[0].lag_weeks - LAG) <= 1
    tky_proposals = next(r for r in found[f"branch:{tky.id}"] if r.kpi == "proposal_count")
    assert tky_proposals.verdict != "leads"


def test_ranked_puts_verdict_first_then_the_interval_farthest_from_zero():
    from fieldlog.kpi.lead import LeadResult

    def result(kpi, verdict, interval):
        return LeadResult(
            kpi=kpi,
            kgi="sales_amount",
            scope="company",
            start=UNTIL,
            until=UNTIL,
            weeks=1,
            verdict=verdict,
            lag_weeks=1,
            effect=sum(interval) / 2 if interval else None,
            interval=interval,
            n=10,
        )

    rows = [
        result("visit_count", "no_link", (-1.0, 9.0)),
        result("hearing_rate", "leads", (1.0, 3.0)),  # 1 half-width above zero
        result("proposal_count", "leads", (2000.0, 4000.0)),  # 2 half-widths: stronger
        result("cross_sell_rate", "too_little_data", None),
        result("dormant_rate", "leads", (-5.0, -3.0)),  # better down: 3 half-widths below zero
    ]
    order = [r.kpi for r in ranking.ranked(rows)]
    assert order == [
        "dormant_rate",
        "proposal_count",
        "hearing_rate",
        "visit_count",
        "cross_sell_rate",
    ]


def test_kept_results_equal_fresh_ones_and_are_read_back(pilot, app, monkeypatch):
    assert lead_jobs.run_ranking(app, UNTIL, weeks=WEEKS, kgi="sales_amount", tz=TZ)
    db.session.commit()
    ngy = Scope.branch(pilot["NGY"].id)
    fresh = lead_analysis(db.session, "proposal_count", "sales_amount", ngy, WEEKS, UNTIL, tz=TZ)

    def no_computing(*args, **kwargs):
        raise AssertionError("computed although kept")

    monkeypatch.setattr(lead_cache, "lead_analysis", no_computing)
    kept = lead_cache.cached_lead(
        db.session, "proposal_count", "sales_amount", ngy, WEEKS, UNTIL, tz=TZ
    )
    _same(kept, fresh)
    view = ranking.ranking_view(db.session, UNTIL, weeks=WEEKS)
    assert view.state == "done" and view.done == view.total == len(KPI_CHOICES) * 3
    assert len(view.rows) == 3
    # Another week, or a rep's scope, is not kept: computed (here: refused by the patch).
    with pytest.raises(AssertionError, match="computed although kept"):
        lead_cache.cached_lead(
            db.session, "proposal_count", "sales_amount", ngy, WEEKS, UNTIL.previous(), tz=TZ
        )


def _kept() -> int:
    db.session.commit()  # end this session's read: see what the job committed
    count = db.session.query(LeadCache).count() + db.session.query(LeadRanking).count()
    db.session.commit()  # and let the next write begin on a fresh snapshot
    return count


def test_new_data_in_a_covered_week_forget_the_ranking_later_data_do_not(pilot, app, make):
    assert lead_jobs.run_ranking(app, UNTIL, weeks=WEEKS, kgi="sales_amount", tz=TZ)
    db.session.commit()
    before = ranking.ranking_view(db.session, UNTIL, weeks=WEEKS)
    kept = _kept()
    assert kept == len(KPI_CHOICES) * 3 + 1
    rep = db.session.query(User).filter_by(email="ngy0@example.jp").one()
    customer = make.customer(rep.branch, rep)
    db.session.commit()  # a new customer moves the dormancy denominators: everything goes
    assert _kept() == 0
    assert lead_jobs.run_ranking(app, UNTIL, weeks=WEEKS, kgi="sales_amount", tz=TZ)
    assert _kept() == kept

    # A visit this week (after the window): the ranking stands.
    make.visit(rep, customer, visited_at="2026-11-23T09:00:00+09:00")
    db.session.commit()
    assert _kept() == kept

    # A late visit in a covered week, with its proposal: forgotten, then recomputed with it.
    make.visit(
        rep,
        customer,
        visited_at="2026-11-18T11:00:00+09:00",
        purpose="proposal",
        proposal={"amount": 50000},
    )
    db.session.commit()
    assert _kept() == 0
    assert ranking.ranking_view(db.session, UNTIL, weeks=WEEKS).state == "missing"
    assert lead_jobs.run_ranking(app, UNTIL, weeks=WEEKS, kgi="sales_amount", tz=TZ)
    db.session.commit()
    after = ranking.ranking_view(db.session, UNTIL, weeks=WEEKS)
    key = f"branch:{pilot['NGY'].id}"
    n_before = {r.kpi: r for r in before.rows[key]}["proposal_count"]
    n_after = {r.kpi: r for r in after.rows[key]}["proposal_count"]
    # The new proposal is in the series: the effects per lag moved.
    assert [e.effect for e in n_after.by_lag] != [e.effect for e in n_before.by_lag]

    # A sales line corrected (its day moved) inside the window: forgotten again.
    line = make.sale(customer, date(2026, 11, 1), amount=5000)
    db.session.commit()
    assert _kept() == 0
    assert lead_jobs.run_ranking(app, UNTIL, weeks=WEEKS, kgi="sales_amount", tz=TZ)
    line.amount = 7000
    lead_cache.rows_changed(db.session, [line])  # a writer's step (as the sales import's)
    db.session.commit()
    assert _kept() == 0


def test_a_write_while_the_job_runs_drops_its_results(pilot, app, make, monkeypatch):
    """New data arriving between the job's reads and its keeping: nothing stale is kept."""
    real = ranking.compute_ranking
    customer_id = db.session.query(Customer.id).order_by(Customer.id).first()[0]

    def compute_then_a_late_entry(session, *args, **kwargs):
        found = real(session, *args, **kwargs)
        with app.app_context():
            make.sale(db.session.get(Customer, customer_id), date(2026, 10, 5), amount=1000)
            db.session.commit()
        return found

    monkeypatch.setattr(ranking, "compute_ranking", compute_then_a_late_entry)
    assert lead_jobs.run_ranking(app, UNTIL, weeks=WEEKS, kgi="sales_amount", tz=TZ) is False
    assert _kept() == 0


@pytest.mark.parametrize("weeks", [3, 14])
def test_weekly_series_equal_the_rollups_weekly_values_on_random_data(make, weeks):
    """The lead's series are the roll-up's: every KPI, every rep and branch, every week, each
    week rolled up alone (the period ends then found by comparison, not by week arithmetic)."""
    rng = np.random.default_rng(weeks)
    branches = [make.branch() for _ in range(2)]
    reps = [make.user("rep", branches[i % 2]) for i in range(5)]
    make.user("manager", branches[0])
    customers = [make.customer(rep.branch, rep) for rep in reps for _ in range(2)]
    customers.append(make.customer(branches[1], None))  # nobody's customer
    periods = UNTIL.trailing(weeks)
    first = periods[0].start - timedelta(days=70)
    for _ in range(60):
        customer = customers[int(rng.integers(len(customers)))]
        rep = customer.rep or reps[1]
        day = first + timedelta(days=int(rng.integers(0, (UNTIL.end - first).days + 1)))
        hour = int(rng.integers(0, 24))
        kind = ["hearing", "proposal", "proposal"][int(rng.integers(3))]
        overrides = {"visited_at": f"{day.isoformat()}T{hour:02d}:30:00+09:00", "purpose": kind}
        overrides["hearing_done"] = bool(rng.integers(2))
        if rng.integers(2):
            due = day + timedelta(days=int(rng.integers(1, 20)))
            overrides["next_action"] = {"due_on": due.isoformat(), "action": "電話"}
        if kind == "proposal":
            overrides["proposal"] = {
                "amount": int(rng.integers(1, 9)) * 10000,
                "kind": ["upsell", "cross_sell", "other"][int(rng.integers(3))],
            }
        make.visit(rep, customer, **overrides)
        if rng.integers(2):
            make.sale(customer, day + timedelta(days=int(rng.integers(0, 9))), amount=12345)
    # Some proposals settled later (pipeline, cross-sell), some follow-ups done.
    settled = []
    for proposal in db.session.query(Proposal).order_by(Proposal.id):
        if rng.integers(3):
            proposal.status = ["won", "lost"][int(rng.integers(2))]
            proposal.closed_on = proposal.proposed_on + timedelta(days=int(rng.integers(0, 40)))
            settled.append(proposal)
    lead_cache.rows_changed(db.session, settled)  # before the next query flushes them
    settled = []
    for follow_up in db.session.query(FollowUp).order_by(FollowUp.id):
        if rng.integers(2):
            follow_up.done_on = follow_up.due_on + timedelta(days=int(rng.integers(-3, 4)))
            settled.append(follow_up)
    lead_cache.rows_changed(db.session, settled)
    db.session.commit()
    keys = list(KPI_KEYS)
    today = periods[-1].end
    for group, scope_of, units in (
        ("rep", Scope.rep, [r.id for r in reps]),
        ("branch", Scope.branch, [b.id for b in branches]),
    ):
        series = weekly_series(db.session, group, periods, keys=keys, today=today, tz=TZ)
        for unit in units:
            expected = [rollup(db.session, scope_of(unit), p, today=today, tz=TZ) for p in periods]
            row = series.units.index(unit)
            for key in keys:
                want = [np.nan if w[key].value is None else float(w[key].value) for w in expected]
                np.testing.assert_array_equal(series.values[key][row], want, err_msg=key)


# ---- the settings panel ------------------------------------------------------------------


def _owner(make, auth):
    owner = make.user("owner", email="owner@example.jp")
    db.session.commit()
    auth.login(owner)
    return owner


def test_settings_page_ranks_the_candidates_with_the_caution(app, make, client, auth):
    """Cold cache: the page says 計算中… with its progress; the job done, the ranking shows."""
    branch = make.branch("NGY", "名古屋支店")
    rep = make.user("rep", branch)
    make.visit(rep, make.customer(branch, rep), visited_at="2026-11-10T10:00:00+09:00")
    _owner(make, auth)
    first = client.get("/settings/kpis")
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    assert "根拠からKPIを選ぶ" in page and "先行は因果の証明ではありません。" in page
    assert "計算中…" in page and 'class="lead-progress"' in page
    assert "js/lead-ranking.js" in page
    assert "KPIの組み合わせ" in page or "すべてのチェック" in page  # the lint stays
    lead_jobs.join_all()
    db.session.commit()  # the test shares the requests' session: end its read
    status = client.get("/settings/kpis/ranking/status").get_json()
    assert status == {"state": "done", "done": status["total"], "total": len(KPI_CHOICES) * 2}
    panel = client.get("/settings/kpis/ranking").get_data(as_text=True)
    assert panel.lstrip().startswith("<section") and "計算中" not in panel
    assert panel.count('<th scope="row"') == len(KPI_CHOICES)
    assert "データ不足" in panel  # one rep, two weeks of history: too little to say
    again = client.get("/settings/kpis").get_data(as_text=True)
    assert "計算中" not in again and "js/lead-ranking.js" not in again
    assert f'<option value="branch:{branch.id}"' in again and "NGY 名古屋支店" in again


def _tables(page: str) -> tuple[str, str]:
    """The ranked table and the unranked one ('' when absent)."""

    def table(cls: str) -> str:
        if f'class="kpi-table {cls}"' not in page:
            return ""
        found = page[page.index(f'class="kpi-table {cls}"') :]
        return found[: found.index("</table>")]

    return table("lead-ranking-table"), table("lead-unranked-table")


def test_panel_ranks_only_detected_leads_and_shows_the_basis(app, pilot, make, client, auth):
    app.config["FIELDLOG_LEAD_INLINE"] = True
    _owner(make, auth)
    ngy = pilot["NGY"].id
    page = client.get(f"/settings/kpis?lead=branch:{ngy}").get_data(as_text=True)
    ranked, unranked = _tables(page)
    rows = ranked.split('<tr class="lead-')[1:]
    assert rows and all(row.startswith('leads"') for row in rows)  # only leads get a place
    places = [row.split('data-label="順位">')[1].split("<")[0] for row in rows]
    assert places == [str(i) for i in range(1, len(rows) + 1)]
    top = next(row for row in rows if "提案回数" in row)  # the planted lead
    assert "先行あり" in top
    assert "週" in top and "¥" in top and "1あたり" in top and " – " in top  # interval shown
    assert "NGY" in ranked  # the caption names the branch
    assert "90%区間が0から離れている順" in ranked  # the order's basis, said
    rest = unranked.split('<tr class="lead-')[1:]
    assert len(rows) + len(rest) == len(KPI_CHOICES)
    assert rest and "順位" not in unranked  # no place numbers for the rest
    assert all("先行は確認できていません" in r or "データ不足" in r for r in rest)
    assert "関連なし" not in page
    n = len(KPI_CHOICES)
    assert f"ここでは{n}個のKPIを同時に調べています" in page  # many KPIs: a chance lead is likely
    company = client.get("/settings/kpis").get_data(as_text=True)
    ranked, unranked = _tables(company)
    table = ranked + unranked
    assert "先行ありの支店" in table
    # Leads in NGY, not TKY: the count is shown beside it, and it is placed only if the
    # company's own analysis finds the lead.
    where = ranked if "提案回数" in ranked else unranked
    proposals = next(row for row in where.split('<tr class="lead-')[1:] if "提案回数" in row)
    assert "1 / 2</td>" in proposals
    assert ('data-label="順位"' in proposals) is proposals.startswith('leads"')
    assert "0 / 2</td>" in unranked
    bogus = client.get("/settings/kpis?lead=branch:999").get_data(as_text=True)
    assert "先行ありの支店" in bogus  # an unknown scope falls back to the company


def test_the_panel_is_the_owners(app, make, client, auth):
    branch = make.branch()
    manager = make.user("manager", branch)
    db.session.commit()
    auth.login(manager)
    assert client.get("/settings/kpis/ranking/status").status_code == 403
    assert client.get("/settings/kpis/ranking").status_code == 403


def test_english_panel(app, pilot, make, client, auth):
    app.config["FIELDLOG_LEAD_INLINE"] = True
    _owner(make, auth)
    page = client.get("/settings/kpis", headers={"Accept-Language": "en"}).get_data(as_text=True)
    if "Choosing KPIs from evidence" not in page:  # the owner's saved language wins
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/locale", data={"csrf_token": token, "lang": "en", "next": "/settings/kpis"})
        page = client.get("/settings/kpis").get_data(as_text=True)
    assert "Choosing KPIs from evidence" in page and "A lead is not proof of cause." in page
    assert "Branches where it leads" in page and "Leads" in page
    assert f"{len(KPI_CHOICES)} KPIs are checked here at once" in page


# ---- the branch dashboard ----------------------------------------------------------------


def _inline_leads_refused(monkeypatch) -> None:
    """A lead analysis computed in a request (the test client's or the live server's thread)
    fails the test; the background jobs' threads (fieldlog-…: ranking, forecast) may compute."""
    import threading

    real = lead_cache.lead_analysis

    def guarded(*args, **kwargs):
        if not threading.current_thread().name.startswith("fieldlog-"):
            raise AssertionError("a lead analysis was computed inside the request")
        return real(*args, **kwargs)

    monkeypatch.setattr(lead_cache, "lead_analysis", guarded)


def _held_ranking(monkeypatch):
    """The ranking job waits for the returned event before it computes (so a test sees the
    placeholder whatever the machine's speed)."""
    import threading

    gate = threading.Event()
    real = ranking.compute_ranking

    def held(*args, **kwargs):
        assert gate.wait(60), "the test never let the ranking job go"
        return real(*args, **kwargs)

    monkeypatch.setattr(ranking, "compute_ranking", held)
    return gate


def _design_question_asked(app, pilot) -> Scope:
    """TKY's proposal_count active with a target met every week: the gap card asks whether
    proposals lead TKY's sales (they do not). Pages leave the analyses to background jobs."""
    from fieldlog.kpi.targets import set_target
    from fieldlog.services.defaults import company_settings

    app.config["FIELDLOG_FORECAST_BACKGROUND"] = True
    tky = Scope.branch(pilot["TKY"].id)
    company_settings(db.session).active_kpis = ["proposal_count"]
    set_target(db.session, "proposal_count", tky, "week", 0, date(2025, 1, 6), None)
    return tky


def test_branch_dashboard_reads_kept_lead_analyses_and_never_computes_one(
    app, pilot, make, client, auth, monkeypatch
):
    """Cold cache: the gap card says 分析中… with the ranking job's progress and no design
    question; the job done, the design question comes from the kept analyses."""
    tky = _design_question_asked(app, pilot)
    _owner(make, auth)
    _inline_leads_refused(monkeypatch)
    gate = _held_ranking(monkeypatch)
    first = client.get("/branches/TKY?week=2026-W47")
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    gap = page[page.index('id="gap-h"') : page.index("</section>", page.index('id="gap-h"'))]
    assert "分析中…" in gap and 'data-status-url="/lead-jobs/2026-W47"' in gap
    assert "js/card-progress.js" in gap and "<script>" not in page  # strict CSP: no inline
    assert "cause-design" not in gap
    for _ in range(600):  # the job's thread claims its row, then waits at the gate
        db.session.commit()
        if ranking.ranking_view(db.session, UNTIL).state == "running":
            break
        time.sleep(0.05)
    status = client.get("/lead-jobs/2026-W47").get_json()
    assert status["done"] is False and 0 <= status["progress"] < 1
    gate.set()
    lead_jobs.join_all()
    db.session.commit()  # the test shares the requests' session: end its read
    assert client.get("/lead-jobs/2026-W47").get_json() == {
        "progress": 1.0,
        "done": True,
        "failed": False,
    }
    kept = lead_cache.cached_lead(
        db.session, "proposal_count", "sales_amount", tky, 52, UNTIL, tz=TZ
    )
    again = client.get("/branches/TKY?week=2026-W47").get_data(as_text=True)
    gap = again[again.index('id="gap-h"') : again.index("</section>", again.index('id="gap-h"'))]
    assert "分析中" not in gap and "/lead-jobs/" not in gap
    assert ("cause-design" in gap) == (kept.verdict == "no_link")
    assert kept.verdict == "no_link"  # TKY's sales ignore its proposals


def test_a_months_design_question_reads_the_last_complete_week(app, pilot, make, client, auth):
    """A month's gap card asks the lead analysis up to the month's last complete week (an ISO
    week: the analysis has no month form), computed in the request when the pages wait."""
    from fieldlog.kpi.targets import set_target

    tky = _design_question_asked(app, pilot)
    set_target(db.session, "proposal_count", tky, "month", 0, date(2025, 1, 1), None)
    app.config["FIELDLOG_FORECAST_BACKGROUND"] = False
    _owner(make, auth)
    page = client.get("/branches/TKY?month=2026-10")
    assert page.status_code == 200
    assert "cause-design" in page.get_data(as_text=True)
    # 31 October 2026 is a Saturday: October's last complete week is W43.
    assert analysis.lead_until(Period.parse("2026-10"), date(2026, 11, 30)).label == "2026-W43"
    assert analysis.lead_until(Period.parse("2026-11"), date(2026, 11, 30)).label == "2026-W48"
    assert analysis.lead_until(Period.parse("2026-W48"), date(2026, 11, 30)).label == "2026-W48"
    assert analysis.lead_until(Period.parse("2026-W49"), date(2026, 12, 2)).label == "2026-W48"


def test_lead_job_status_while_running_and_after_a_failure(app, make, client, auth):
    branch = make.branch("TKY")
    manager = make.user("manager", branch)
    db.session.commit()
    auth.login(manager)
    assert client.get("/lead-jobs/2026-W47").get_json()["done"] is True  # none: ask again
    job = ranking.claim(db.session, UNTIL, weeks=52, kgi="sales_amount", tz=TZ)
    ranking.set_progress(db.session, job, 3, 12)
    db.session.commit()
    assert client.get("/lead-jobs/2026-W47").get_json() == {
        "progress": 0.25,
        "done": False,
        "failed": False,
    }
    ranking.fail(db.session, job)
    db.session.commit()
    assert client.get("/lead-jobs/2026-W47").get_json()["failed"] is True
    page = client.get(f"/branches/{branch.code}?week=2026-W47").get_data(as_text=True)
    assert "/lead-jobs/" not in page  # the test app computes in the request
    app.config["FIELDLOG_FORECAST_BACKGROUND"] = True
    page = client.get(f"/branches/{branch.code}?week=2026-W47").get_data(as_text=True)
    assert "設計の確認に使う先行分析を計算できませんでした" in page
    assert client.get("/lead-jobs/not-a-week").status_code == 404


@pytest.mark.browser
def test_branch_dashboard_in_chromium_fills_in_the_gap_card_in_place(
    app,
    pilot,
    make,
    server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    """Cold cache in a real browser under the strict CSP: the gap card says 分析中… with a
    progress bar; when the ranking job is done the card, with its design question, replaces
    the placeholder without a reload, and no request computed a lead analysis."""
    from .browser import desktop_page, launch_chromium, require_chromium, screenshot_dir, wait_until

    require_chromium()
    _design_question_asked(app, pilot)
    make.user("owner", email="owner@example.jp")
    db.session.commit()
    gate = _held_ranking(monkeypatch)
    _inline_leads_refused(monkeypatch)
    shots = screenshot_dir(tmp_path)
    errors: list[str] = []
    with launch_chromium() as browser:
        page = desktop_page(browser, server, "owner@example.jp", PASSWORD, errors)
        page.goto(f"{server}/branches/TKY?week=2026-W47")
        card = page.locator('section[aria-labelledby="gap-h"]')
        assert "分析中…" in card.inner_text()
        assert card.locator("progress.card-progress").count() == 1
        page.evaluate("window.fieldlogMarker = 'same page'")  # gone if the page reloads
        gate.set()
        wait_until(
            page,
            "!!document.querySelector('section[aria-labelledby=\"gap-h\"] .cause-design')",
            "the design question",
        )
        assert page.evaluate("window.fieldlogMarker") == "same page"
        assert "分析中" not in card.inner_text()
        card.screenshot(path=str(shots / "dashboard-gap-card.png"))
        page.context.close()
    assert errors == []


@pytest.mark.browser
def test_panel_in_chromium_swaps_in_when_ready(app, pilot, make, server, tmp_path):  # noqa: F811
    """Cold cache in a real browser: 計算中… with a progress bar, then the ranking appears
    without a reload (what was typed in the KPI form stays)."""

    from .browser import desktop_page, launch_chromium, require_chromium, screenshot_dir, wait_until

    require_chromium()
    make.user("owner", email="owner@example.jp")
    db.session.commit()
    shots = screenshot_dir(tmp_path)
    errors: list[str] = []
    with launch_chromium() as browser:
        page = desktop_page(
            browser, server, "owner@example.jp", PASSWORD, errors, width=1024, height=1366
        )
        page.goto(f"{server}/settings/kpis")
        panel = page.locator("#lead-ranking")
        assert "計算中…" in panel.inner_text()
        assert page.locator("progress.lead-progress").count() == 1
        page.fill("#why-proposal_count", "提案が売上を生むかを確かめる")
        wait_until(page, "!!document.querySelector('#lead-ranking table')", "the ranking")
        text = page.locator("#lead-ranking").inner_text()
        assert "先行は因果の証明ではありません。" in text and "計算中" not in text
        rows = page.locator("#lead-ranking table tbody tr")
        assert rows.count() == len(KPI_CHOICES)  # ranked and unranked together
        assert page.input_value("#why-proposal_count") == "提案が売上を生むかを確かめる"
        page.select_option("#lead-scope", f"branch:{pilot['NGY'].id}")
        page.click(".lead-scope button")
        page.wait_for_load_state("networkidle")
        ranked = page.locator(".lead-ranking-table tbody tr").all_inner_texts()
        assert any("提案回数" in row and "先行あり" in row for row in ranked)
        # Styled like the app's tables: left-aligned headers, a rule under each row.
        head = page.locator(".lead-ranking-table thead th").first
        assert head.evaluate("e => getComputedStyle(e).textAlign") in ("left", "start")
        cell = page.locator(".lead-ranking-table tbody td").first
        assert cell.evaluate("e => getComputedStyle(e).borderBottomStyle") == "solid"
        page.locator("#lead-ranking").screenshot(path=str(shots / "kpi-ranking.png"))
        # A phone: each KPI a card, every value on a line of its own at the card's width.
        page.set_viewport_size({"width": 390, "height": 844})
        widths = page.locator(".lead-ranking-table tbody td").evaluate_all(
            "cells => cells.map(c => c.getBoundingClientRect().width)"
        )
        assert widths and min(widths) > 250, widths
        fits = "document.querySelector('#lead-ranking').scrollWidth <= 390"
        assert page.evaluate(fits)
        page.locator("#lead-ranking").screenshot(path=str(shots / "kpi-ranking-phone.png"))
    assert errors == []


def test_kpi_lead_reads_the_kept_analysis_with_the_same_answer(pilot, app, runner):
    args = ["kpi", "lead", "--kpi", "proposal_count", "--scope", "branch:NGY"]
    args += ["--weeks", str(WEEKS), "--json"]
    fresh = runner.invoke(args=args)
    assert fresh.exit_code == 0, fresh.output
    assert lead_jobs.run_ranking(app, UNTIL, weeks=WEEKS, kgi="sales_amount", tz=TZ)
    db.session.commit()
    assert db.session.query(LeadCache).filter_by(kpi="proposal_count").count() == 3
    kept = runner.invoke(args=args)
    assert kept.exit_code == 0, kept.output
    assert kept.output == fresh.output
    assert json.loads(kept.output)["verdict"] == "leads"


def _kept_windows(until: str) -> set[tuple[str, str]]:
    db.session.commit()  # end the test's read: the job wrote in its own transactions
    rows = db.session.scalars(select(LeadCache.result).where(LeadCache.until == until))
    return {(r["start"], r["until"]) for r in rows}


@pytest.mark.parametrize("query", ["week=1900-W01", "week=1900-W02", "month=1900-01"])
def test_a_dashboard_at_the_first_supported_weeks_keeps_a_window_it_can_read(
    app, pilot, make, client, auth, query
):
    """The 52 weeks up to 1900-W01 begin in 1899, a year no period may name: the window starts
    at 1900-W01 instead, so the kept analyses read back and every page stays 200."""
    from fieldlog.kpi.targets import set_target

    tky = _design_question_asked(app, pilot)
    set_target(db.session, "proposal_count", tky, "week", 0, date(1900, 1, 1), None)
    set_target(db.session, "proposal_count", tky, "month", 0, date(1900, 1, 1), None)
    _owner(make, auth)
    assert client.get(f"/branches/TKY?{query}").status_code == 200
    assert not lead_jobs.join_all(120)
    db.session.commit()  # end the test's read: the job wrote in its own transactions
    until = db.session.scalars(select(LeadRanking.until)).one()
    assert until.startswith("1900-W")
    assert db.session.scalars(select(LeadRanking.state)).one() == "done"
    windows = _kept_windows(until)
    assert windows == {("1900-W01", until)}
    for path in (f"/branches/TKY?{query}", f"/branches/NGY?{query}", f"/lead-jobs/{until}"):
        assert client.get(path).status_code == 200, path


def test_a_kept_analysis_that_cannot_be_read_back_counts_as_absent(app, pilot, make, client, auth):
    """A row kept before the window was bounded ("start": "1899-W02") is no 500: the ranking
    reads as missing, is computed again, and replaces it."""
    from fieldlog.kpi.targets import set_target

    until = Period.parse("1900-W01")
    job_id = ranking.claim(db.session, until, weeks=52, kgi="sales_amount", tz=TZ)
    results = ranking.compute_ranking(db.session, "sales_amount", 52, until, tz=TZ)
    ranking.finish(db.session, job_id, results)
    for row in db.session.scalars(select(LeadCache)):
        row.result = {**row.result, "start": "1899-W02"}
    db.session.commit()
    assert ranking.ranking_view(db.session, until).state == "missing"
    tky = Scope.branch(pilot["TKY"].id)
    fresh = lead_cache.cached_lead(
        db.session, "proposal_count", "sales_amount", tky, 52, until, tz=TZ
    )
    assert fresh.start == until
    tky = _design_question_asked(app, pilot)
    set_target(db.session, "proposal_count", tky, "week", 0, date(1900, 1, 1), None)
    _owner(make, auth)
    assert client.get("/lead-jobs/1900-W01").status_code == 200
    assert client.get("/branches/TKY?week=1900-W01").status_code == 200
    assert not lead_jobs.join_all(120)
    assert _kept_windows("1900-W01") == {("1900-W01", "1900-W01")}
    assert ranking.ranking_view(db.session, until).state == "done"
    assert client.get("/branches/TKY?week=1900-W01").status_code == 200


# ---- the panel's order, wording and units on planted analyses ------------------------------


def _planted(kpi, scope, verdict="no_link", interval=None, lag=None):
    from fieldlog.kpi.lead import LeadResult

    return LeadResult(
        kpi=kpi,
        kgi="sales_amount",
        scope=scope,
        start=UNTIL.shift(-51),
        until=UNTIL,
        weeks=52,
        verdict=verdict,
        lag_weeks=lag,
        effect=sum(interval) / 2 if interval else None,
        interval=interval,
        n=40,
    )


def test_placed_ranks_only_kpis_with_a_detected_lead_in_the_scope():
    """All no link for the company, one KPI leading in 1 of 3 branches: nothing is placed for
    the company (a lead in one branch of several is what chance gives), the branch count is
    shown as context; the branch places its own lead. Never ordered by a hidden number."""
    company = [_planted(k, "company") for k in KPI_CHOICES]
    branch_rows = {
        f"branch:{i}": [
            _planted(k, f"branch:B{i}", "leads", (0.05, 0.19), 4)
            if (i, k) == (2, "pipeline_amount")
            else _planted(k, f"branch:B{i}")
            for k in KPI_CHOICES
        ]
        for i in (1, 2, 3)
    }
    view = ranking.RankingView("done", 1, 1, UNTIL, 52, "sales_amount", {"company": company})
    view.rows.update(branch_rows)
    rows = ranking.placed(view, "company")
    assert all(r.place is None for r in rows)
    assert [r.result.kpi for r in rows] == list(KPI_CHOICES)  # the catalogue's order
    assert {r.result.kpi: r.branches for r in rows if r.branches} == {"pipeline_amount": 1}
    # a branch: only its own leads are placed, farthest interval from zero first
    two = ranking.placed(view, "branch:2")
    assert [(r.result.kpi, r.place) for r in two if r.place] == [("pipeline_amount", 1)]
    assert ranking.placed(view, "branch:1") and not any(
        r.place for r in ranking.placed(view, "branch:1")
    )
    # The company's own leads are placed by their interval, whatever the branches say.
    view.rows["company"][0] = _planted(KPI_CHOICES[0], "company", "leads", (0.1, 9.0), 1)
    view.rows["company"][1] = _planted(KPI_CHOICES[1], "company", "leads", (9.0, 10.0), 1)
    view.rows["branch:1"][0] = _planted(KPI_CHOICES[0], "branch:B1", "leads", (9.0, 10.0), 1)
    view.rows["branch:3"][0] = _planted(KPI_CHOICES[0], "branch:B3", "leads", (0.1, 9.0), 1)
    order = [(r.result.kpi, r.place, r.branches) for r in ranking.placed(view, "company")[:3]]
    assert order == [(KPI_CHOICES[1], 1, 0), (KPI_CHOICES[0], 2, 2), (KPI_CHOICES[2], None, 0)]


def _keep(session, results):
    job = ranking.claim(session, UNTIL, weeks=52, kgi="sales_amount", tz=TZ)
    assert ranking.finish(session, job, results)
    session.commit()


def test_panel_on_no_lead_anywhere_but_one_branch_and_yen_per_100000(app, make, client, auth):
    """Company: every KPI no link (no interval). Nagoya: pipeline amount leads, ¥0.12 of sales
    per ¥1 of pipeline — shown per ¥100,000 with its interval, never rounded to ¥0."""
    ngy, tky, osk = (make.branch(code) for code in ("NGY", "OSK", "TKY"))
    _owner(make, auth)
    results = {"company": [_planted(k, "company") for k in KPI_CHOICES]}
    for branch in (ngy, tky, osk):
        results[f"branch:{branch.id}"] = [
            _planted(k, f"branch:{branch.code}", "leads", (0.05, 0.19), 4)
            if branch is ngy and k == "pipeline_amount"
            else _planted(k, f"branch:{branch.code}")
            for k in KPI_CHOICES
        ]
    _keep(db.session, results)

    company = client.get("/settings/kpis").get_data(as_text=True)
    ranked, unranked = _tables(company)
    assert not ranked and "順位は付けていません" in company  # one branch of three: chance
    rest = unranked.split('<tr class="lead-')[1:]
    assert len(rest) == len(KPI_CHOICES) and "順位" not in unranked
    assert all("先行は確認できていません" in r for r in rest)
    (pipeline,) = [r for r in rest if "パイプライン金額" in r]
    assert "1 / 3</td>" in pipeline  # the branch count stays, as context
    assert sum("0 / 3</td>" in r for r in rest) == len(KPI_CHOICES) - 1
    assert "支店の数は参考にとどめ" in company and "関連なし" not in company

    nagoya = client.get(f"/settings/kpis?lead=branch:{ngy.id}").get_data(as_text=True)
    ranked, _ = _tables(nagoya)
    assert "¥12,000 ¥100,000あたり" in ranked and "¥5,000 – ¥19,000" in ranked
    assert "¥0 " not in ranked and "1あたり" not in ranked.replace("¥100,000あたり", "")

    tokyo = client.get(f"/settings/kpis?lead=branch:{tky.id}").get_data(as_text=True)
    ranked, unranked = _tables(tokyo)
    assert not ranked and "順位は付けていません" in tokyo and "反証" not in tokyo
    assert "先行が確認できないことはKPIを否定する根拠ではありません" in tokyo
    assert unranked.count('<tr class="lead-') == len(KPI_CHOICES)

    english = client.get(
        f"/settings/kpis?lead=branch:{ngy.id}", headers={"Accept-Language": "en"}
    ).get_data(as_text=True)
    if "per ¥100,000" not in english:  # the owner's saved language wins
        token = english.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/locale", data={"csrf_token": token, "lang": "en", "next": "/settings/kpis"})
        english = client.get(f"/settings/kpis?lead=branch:{ngy.id}").get_data(as_text=True)
    assert "¥12,000 per ¥100,000" in english and "No lead detected (not ranked)" in english
