"""Report data from a real database; the PDF, CLI and download built on it."""

from __future__ import annotations

import subprocess
from datetime import date

import pytest
from flask_babel import force_locale

from fieldlog.app.extensions import db
from fieldlog.kpi.choices import set_active_kpis
from fieldlog.models import Hypothesis, KpiTarget, Review
from fieldlog.present import pdf
from fieldlog.reports import data, lists
from fieldlog.rules.periods import Period
from tests.conftest import TZ
from tests.test_reports_delivery import inbox  # noqa: F401 — fixture

W47 = Period.parse("2026-W47")
TODAY = date(2026, 11, 23)


def at(day: int, hour: int = 10) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:00:00+09:00"


@pytest.fixture
def tokyo(make):
    """東京支店 in W47: 4 visits by 2 reps, one proposal, one overdue follow-up, targets."""
    branch = make.branch("TKY", "東京支店")
    other = make.branch("OSK", "大阪支店")
    sato = make.user("rep", branch, name="佐藤 一郎")
    suzuki = make.user("rep", branch, name="鈴木 花子")
    manager = make.user("manager", branch, email="boss@example.jp")
    make.user("rep", other)
    c1 = make.customer(branch, sato, code="C1", name="山田商店")
    c2 = make.customer(branch, sato, code="C2", name="田中工業", rank="A")
    c3 = make.customer(branch, suzuki, code="C3", name="未訪問商事")
    make.visit(sato, c1, visited_at=at(16), purpose="hearing")
    make.visit(sato, c1, visited_at=at(18), purpose="routine", hearing_done=False)
    make.visit(
        sato, c2, visited_at=at(19), purpose="proposal",
        proposal={"kind": "upsell", "amount": 120000},
    )  # fmt: skip
    make.visit(
        suzuki, c2, visited_at=at(20), purpose="follow_up",
        next_action={"action": "見積書を再提出", "due_on": "2026-11-20"},
    )  # fmt: skip
    make.visit(sato, c1, visited_at="2026-11-10T10:00:00+09:00", purpose="routine")  # W46
    make.sale(c1, date(2026, 11, 17), amount=500000, gross_profit=125000)
    db.session.add_all(
        [
            KpiTarget(kpi="purposeful_visit_rate", scope_kind="branch", branch_id=branch.id,
                      period_kind="week", value=0.8, effective_from=date(2026, 1, 1)),
            Review(branch_id=branch.id, week="2026-W46", kpi="purposeful_visit_rate",
                   why="定期巡回が多かった", cause="quality", next_change="訪問前に目的を決める",
                   author_id=manager.id),
            Hypothesis(statement="追加提案を増やせば売上が上がる", kpis=["proposal_count"],
                       started_on=date(2026, 10, 1), status="testing"),
            Hypothesis(statement="却下された仮説", started_on=date(2026, 9, 1), status="rejected"),
        ]
    )  # fmt: skip
    db.session.commit()
    return branch, other, c3


@pytest.fixture
def report(tokyo):
    return data.branch_report(db.session, tokyo[0], W47, today=TODAY, tz=TZ)


def by_key(figures):
    return {f.key: f for f in figures}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("branch_name", "東京支店"),
        ("week", "2026-W47"),
        ("visit_count.value", 4),
        ("visit_count.previous", 1),
        ("kpi.purposeful_visit_rate.value", 0.75),
        ("kpi.purposeful_visit_rate.numerator", 3),
        ("kpi.purposeful_visit_rate.denominator", 4),
        ("kpi.purposeful_visit_rate.previous", 0.0),
        ("kpi.purposeful_visit_rate.target", 0.8),
        ("kpi.purposeful_visit_rate.achievement", "behind"),
        ("kpi.hearing_rate.value", 0.75),
        ("kpi.next_action_rate.value", 0.25),
        ("kpi.hearing_rate.target", None),
        ("kgi.sales_amount.value", 500000),
        ("kgi.gross_margin_rate.value", 0.25),
        ("pipeline.new", 1),
        ("pipeline.open_count", 1),
        ("pipeline.open_amount", 120000),
        ("pipeline.won", 0),
        ("follow_ups_total", 1),
        ("customers_total", 1),
        ("has_activity", True),
        ("hypotheses", ["追加提案を増やせば売上が上がる"]),
    ],
)
def test_branch_report_figures(report, path, expected):
    head, *rest = path.split(".")
    if head in ("kpi", "kgi"):
        obj = by_key(report.kpis if head == "kpi" else report.kgi)[rest[0]]
        rest = rest[1:]
    else:
        obj = getattr(report, head)
    for part in rest:
        obj = getattr(obj, part)
    assert obj == pytest.approx(expected) if isinstance(expected, float) else obj == expected


def test_branch_report_lists(report):
    assert len(report.kpis[0].trend) == 8 and report.kpis[0].trend[-1] == 0.75
    assert [r.name for r in report.reps] == ["佐藤 一郎", "鈴木 花子"]
    assert [r.visits for r in report.reps] == [3, 1]
    sato = report.reps[0].figures["purposeful_visit_rate"]
    assert sato.value == pytest.approx(2 / 3) and sato.target == 0.8  # branch target falls back
    # Overdue as at the week's end (Sunday 22nd), however late the report is made (docs/kgi.md).
    assert report.follow_ups[0].action == "見積書を再提出" and report.follow_ups[0].days_late == 2
    assert [(c.code, c.reason, c.last_visit) for c in report.customers] == [("C3", "dormant", None)]
    review = report.reviews[0]
    assert (review.kpi, review.next_change, review.cause) == (
        "purposeful_visit_rate", "訪問前に目的を決める", "quality"
    )  # fmt: skip
    assert review.result.value == 0.75
    assert "purposeful_visit_rate" in report.gaps
    assert report.biggest_changes()[0].key in {"sales_amount", "purposeful_visit_rate"}
    # The report says the facts in Japanese: names, the review's cause, the suggestions.
    html = pdf.render_html(report)
    assert '<td class="kpi-name">目的あり訪問率</td>' in html
    assert "定期巡回が多かった（質）" in html
    assert "<li>目的あり訪問率（" in html


def test_branch_without_activity(tokyo):
    report = data.branch_report(db.session, tokyo[1], W47, today=TODAY, tz=TZ)
    assert report.has_activity is False and report.reps == []
    assert report.visit_count.value == 0 and report.follow_ups == []


def test_company_report(tokyo):
    report = data.company_report(db.session, W47, today=TODAY, tz=TZ)
    rows = {b.code: b for b in report.branches}
    assert rows["TKY"].visits == 4 and rows["OSK"].visits == 0
    assert rows["TKY"].figures["purposeful_visit_rate"].value == 0.75
    assert by_key(report.kgi)["sales_amount"].value == 500000
    assert report.hypotheses == ["追加提案を増やせば売上が上がる"]


def pdf_text(data_: bytes, tmp_path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(data_)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_pdf_from_database_shows_names_and_figures(report, tmp_path):
    text = pdf_text(pdf.render_pdf(report), tmp_path)
    for snippet in ("東京支店", "2026-W47", "目的あり訪問率", "課題ヒアリング実施率", "75.0%",
                    "3/4", "¥500,000", "× 未達", "佐藤 一郎", "未訪問商事", "見積書を再提出",
                    "訪問前に目的を決める", "¥120,000"):  # fmt: skip
        assert snippet in text, snippet


def test_cli_report_weekly(runner, tokyo, tmp_path):
    out = tmp_path / "tokyo.pdf"
    result = runner.invoke(
        args=["report", "weekly", "--branch", "TKY", "--week", "2026-W47", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "東京支店" in pdf_text(out.read_bytes(), tmp_path)
    company = tmp_path / "company.pdf"
    result = runner.invoke(
        args=["report", "weekly", "--company", "--week", "last", "-o", str(company)]
    )
    assert result.exit_code == 0, result.output
    assert "全社" in pdf_text(company.read_bytes(), tmp_path)


@pytest.mark.parametrize(
    "args",
    [
        ["--branch", "NOPE", "--week", "2026-W47"],
        ["--branch", "TKY", "--week", "2026-11"],
        ["--branch", "TKY", "--company", "--week", "2026-W47"],
        ["--week", "2026-W47"],
    ],
)
def test_cli_report_weekly_rejects(runner, tokyo, tmp_path, args):
    result = runner.invoke(args=["report", "weekly", *args, "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code == 2


def test_cli_report_weekly_into_a_missing_folder_creates_it(runner, tokyo, tmp_path):
    out = tmp_path / "missing" / "tokyo.pdf"
    args = ["report", "weekly", "--branch", "TKY", "--week", "2026-W47", "-o", str(out)]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")


def test_cli_report_send_dry_run(runner, tokyo):
    result = runner.invoke(args=["report", "send", "--week", "2026-W47", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would send 週次KPIレポート 東京支店 2026-W47 to boss@example.jp" in result.output
    assert "branch:OSK: NO RECIPIENTS" in result.output


@pytest.mark.parametrize(
    ("who", "code", "query", "status"),
    [
        ("manager", "TKY", "?week=2026-W47", 200),
        ("manager", "TKY", "", 200),
        ("manager", "OSK", "?week=2026-W47", 404),
        ("owner", "OSK", "?week=2026-W47", 200),
        ("owner", "NOPE", "?week=2026-W47", 404),
        ("rep", "TKY", "?week=2026-W47", 403),
        ("manager", "TKY", "?week=2026-11", 400),
        ("manager", "TKY", "?week=bad", 400),
        ("manager", "TKY", "?month=2026-11", 400),  # weekly only: not last week's in disguise
    ],
)
def test_download(client, auth, make, tokyo, who, code, query, status):
    branch = tokyo[0]
    user = {
        "manager": lambda: make.user("manager", branch),
        "owner": lambda: make.user("owner"),
        "rep": lambda: make.user("rep", branch),
    }[who]()
    auth.login(user)
    response = client.get(f"/branches/{code}/report.pdf{query}")
    assert response.status_code == status
    if status == 200:
        assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
        assert f'filename="report-{code}-' in response.headers["Content-Disposition"]


def test_download_needs_login(client, tokyo):
    response = client.get("/branches/TKY/report.pdf?week=2026-W47")
    assert response.status_code in (302, 401)


def test_cli_report_send_end_to_end(app, runner, tokyo, inbox):  # noqa: F811 — fixture
    """The real builder (KPI engine + WeasyPrint) through a real SMTP server."""
    app.config["FIELDLOG_SMTP_URL"] = inbox.url
    result = runner.invoke(args=["report", "send", "--week", "2026-W47"])
    assert result.exit_code == 0, result.output
    assert inbox.to() == ["boss@example.jp"]  # no owner in this company; OSK has no manager
    ((_, msg),) = inbox.messages
    assert msg["Subject"] == "週次KPIレポート 東京支店 2026-W47"
    (attachment,) = msg.iter_attachments()
    assert attachment.get_content().startswith(b"%PDF")
    assert "目的あり訪問率: 0.0% → 75.0%" in msg.get_body(("plain",)).get_content()
    again = runner.invoke(args=["report", "send", "--week", "2026-W47"])
    assert again.exit_code == 0 and len(inbox.messages) == 1


@pytest.mark.parametrize(
    ("url", "message"), [("", "FIELDLOG_SMTP_URL is not set"), ("http://x", "unsupported scheme")]
)
def test_cli_report_send_needs_a_valid_smtp_url(app, runner, tokyo, url, message):
    app.config["FIELDLOG_SMTP_URL"] = url
    result = runner.invoke(args=["report", "send", "--week", "last"])
    assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize(
    ("active", "expected"),
    [
        (None, []),  # the default set of five passes every check
        (["visit_count"], ["3〜5", "訪問"]),  # too few; only the visit count
    ],
)
def test_reports_carry_the_kpi_set_lint(tokyo, active, expected):
    if active is not None:
        set_active_kpis(db.session, active)
        db.session.commit()
    branch = data.branch_report(db.session, tokyo[0], W47, today=TODAY, tz=TZ)
    company = data.company_report(db.session, W47, today=TODAY, tz=TZ)
    assert [w.code for w in branch.lint] == [w.code for w in company.lint]
    assert len(branch.lint) == (2 if expected else 0)
    with force_locale("ja"):
        lines = [str(w) for w in branch.lint]
    text = " ".join(lines)
    assert all(word in text for word in expected), text
    for report in (branch, company):
        html = pdf.render_html(report)
        assert ("KPI設定の確認" in html) is bool(expected)
        assert all(line in html for line in lines)


@pytest.mark.parametrize(
    ("last_visit", "last_sale", "booked", "expected"),
    [
        # As of Sunday 2026-11-22 (W47's end); thresholds 60 / 90 days, rank B cycle 30 days.
        (None, None, False, "dormant"),  # never visited
        ("2026-09-23T23:30:00+09:00", None, False, "dormant"),  # 60 days before: out
        ("2026-09-24T00:30:00+09:00", None, False, "cycle"),  # 59 days: in, but over the cycle
        ("2026-09-24T00:30:00+09:00", None, True, None),  # ... and a follow-up is booked
        ("2026-09-23T23:30:00+09:00", None, True, "dormant"),  # a booking does not revive it
        ("2026-11-20T10:00:00+09:00", date(2026, 8, 24), False, "dormant"),  # sales lapsed
        ("2026-11-20T10:00:00+09:00", date(2026, 8, 25), False, None),  # 89 days: fine
        ("2026-11-20T10:00:00+09:00", date(2026, 11, 23), False, None),  # sale after as_of only
        ("2026-11-23T00:30:00+09:00", None, False, "dormant"),  # visit after as_of only
    ],
)
def test_customers_at_risk_dormant_as_dormant_rate_counts(
    make, last_visit, last_sale, booked, expected
):
    from fieldlog.kpi import Scope, rollup
    from fieldlog.models import FollowUp

    branch = make.branch()
    rep = make.user("rep", branch)
    customer = make.customer(branch, rep)
    if last_visit:
        make.visit(rep, customer, visited_at=last_visit)
    if last_sale:
        make.sale(customer, last_sale)
    if booked:
        db.session.add(
            FollowUp(rep_id=rep.id, branch_id=branch.id, customer_id=customer.id, action="x",
                     due_on=date(2026, 11, 30))
        )  # fmt: skip
    db.session.flush()
    lines, total = lists.customers_at_risk(db.session, branch, W47.end, TZ)
    assert [line.reason for line in lines] == ([expected] if expected else [])
    assert total == len(lines)
    dormant = rollup(db.session, Scope.branch(branch.id), W47, today=TODAY, tz=TZ)["dormant_rate"]
    assert dormant.numerator == (1 if expected == "dormant" else 0)
