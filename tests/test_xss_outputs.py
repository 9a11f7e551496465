"""Hostile text in every free-text field stays inert beyond the rep's pages: in the manager and
owner pages, in the PDF report (printed as text, no link injected) and in every export (CSV,
Shift_JIS CSV, XLSX: no cell a spreadsheet would run as a formula)."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from fieldlog.app.extensions import db
from fieldlog.io.export import FORMULA_STARTS, KINDS
from fieldlog.models import Hypothesis, Review

WEEK = "2026-W47"  # the last complete week before the suite's clock (Monday 2026-11-23)
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    '<a href="https://evil.example/">click</a>',
    '=HYPERLINK("https://evil.example/","x")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1)",
    "\t=1+1",
]
MARKUP = ["<script>alert(1)</script>", "<img src=x onerror", '<a href="https://evil.example/']


@pytest.fixture
def hostile(make):
    branch = make.branch("TKY", PAYLOADS[0])
    manager = make.user("manager", branch, name=PAYLOADS[1])
    owner = make.user("owner")
    rep = make.user("rep", branch, name=PAYLOADS[2])
    make.category("OIL", PAYLOADS[3])
    customers = [
        make.customer(branch, rep, code=f"X{i}", name=payload, name_kana="テスト")
        for i, payload in enumerate(PAYLOADS)
    ]
    for i, (customer, payload) in enumerate(zip(customers, PAYLOADS, strict=True)):
        make.visit(
            rep,
            customer,
            visited_at=f"2026-11-{17 + i % 5}T10:00:00+09:00",
            purpose_note=payload,
            hearing_note=payload,
            note=payload,
            proposal={"category": "OIL", "note": payload, "amount": 1000},
            next_action={"action": payload, "due_on": f"2026-11-{18 + i % 5}"},
        )
        make.sale(customer, date(2026, 11, 18), amount=1000, ref=payload[:40])
    hypothesis = Hypothesis(
        statement=PAYLOADS[0] + PAYLOADS[3],
        kpis=["purposeful_visit_rate"],
        started_on=date(2026, 10, 1),
        branch_id=branch.id,
        author_id=manager.id,
        note=PAYLOADS[1],
    )
    db.session.add(hypothesis)
    db.session.flush()
    db.session.add(
        Review(
            branch_id=branch.id,
            week=WEEK,
            kpi=None,
            why=PAYLOADS[0] + " " + PAYLOADS[4],
            cause="quantity",
            next_change=PAYLOADS[2] + " " + PAYLOADS[3],
            hypothesis_id=hypothesis.id,
            author_id=manager.id,
        )
    )
    db.session.commit()
    return {"manager": manager, "owner": owner, "rep": rep, "hypothesis": hypothesis}


def _assert_inert(html: str, where: str) -> None:
    for markup in MARKUP:
        assert markup not in html, (where, markup)


@pytest.mark.parametrize(
    ("role", "paths"),
    [
        (
            "manager",
            [
                "/branches/TKY",
                f"/branches/TKY/review?week={WEEK}",
                "/hypotheses",
                "/hypotheses/{hypothesis}",
                "/me",
                "/export",
            ],
        ),
        (
            "owner",
            [
                "/summary",
                "/branches/TKY",
                f"/branches/TKY/review?week={WEEK}",
                "/hypotheses",
                "/hypotheses/{hypothesis}",
                "/admin/branches",
                "/admin/users",
                "/admin/customers",
                "/admin/categories",
                "/visits",
                "/proposals",
                "/customers",
            ],
        ),
    ],
)
def test_manager_and_owner_pages_show_hostile_text_as_text(client, auth, hostile, role, paths):
    auth.login(hostile[role])
    for path in paths:
        path = path.format(hypothesis=hostile["hypothesis"].id)
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_inert(response.get_data(as_text=True), path)
    page = client.get(f"/branches/TKY/review?week={WEEK}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the review text is there, escaped


def _pdftotext(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_the_pdf_report_prints_hostile_text_literally_and_links_nothing(
    client, auth, hostile, tmp_path
):
    auth.login(hostile["manager"])
    response = client.get(f"/branches/TKY/report.pdf?week={WEEK}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    path = tmp_path / "report.pdf"
    path.write_bytes(response.data)
    # No link anywhere (poppler lists every URL annotation): no text became an <a href>.
    urls = subprocess.run(
        ["pdfinfo", "-url", str(path)], check=True, capture_output=True, text=True
    )
    assert urls.stdout.split() == ["Page", "Type", "URL"], urls.stdout
    text = " ".join(_pdftotext(path).split())
    for literal in ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "+cmd|"):
        assert literal in text, literal  # the text is printed as typed
    assert '<a href="https://evil.example/">click</a>' in text


def _cells_csv(data: bytes, encoding: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data.decode(encoding))) for cell in row]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("kind", KINDS)
def test_every_export_neutralises_formulas(client, auth, hostile, kind):
    auth.login(hostile["owner"])
    seen_guarded = False
    for query, encoding in (("", "utf-8-sig"), ("?encoding=cp932", "cp932")):
        response = client.get(f"/export/{kind}.csv{query}")
        assert response.status_code == 200
        for cell in _cells_csv(response.data, encoding):
            # Numbers (a return of -500) stay numbers; text never starts a formula.
            assert not cell.startswith(FORMULA_STARTS) or _is_number(cell), (kind, cell)
            seen_guarded |= cell.startswith("'=HYPERLINK") or cell.startswith("'+cmd")
    response = client.get(f"/export/{kind}.xlsx")
    book = load_workbook(io.BytesIO(response.data))
    for row in book.active.iter_rows():
        for cell in row:
            assert cell.data_type != "f", (kind, cell.value)  # no formula cell at all
            if cell.data_type == "s" and cell.value:
                # A typed string cell is never run: the text is kept exactly as it was typed.
                assert not cell.value.startswith("'"), (kind, cell.value)
                seen_guarded |= cell.value.startswith("@SUM")
    if kind != "kpis":  # the KPI export holds figures only
        assert seen_guarded, f"no hostile text reached the {kind} export"


def test_the_link_check_sees_a_link(tmp_path):
    """The PDF check above would notice an injected link: poppler lists one when there is one."""
    from fieldlog.present.pdf import html_to_pdf

    path = tmp_path / "link.pdf"
    path.write_bytes(html_to_pdf('<p><a href="https://evil.example/">x</a></p>'))
    urls = subprocess.run(
        ["pdfinfo", "-url", str(path)], check=True, capture_output=True, text=True
    )
    assert "https://evil.example/" in urls.stdout


def test_report_rendering_fetches_nothing_but_shipped_files(tmp_path):
    """Were markup ever to reach the report, it could not fetch a URL or read a server file."""
    import http.server
    import threading

    from fieldlog.present.pdf import _local_fetcher, html_to_pdf

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for reports")
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        html_to_pdf(
            f'<img src="{base}/img.png"><link rel="stylesheet" href="{base}/x.css">'
            f'<img src="file://{secret}"><p style="background: url({base}/bg.png)">x</p>'
        )
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []
    fetcher = _local_fetcher()
    for url in (f"file://{secret}", "file:///etc/passwd", f"{base}/img.png"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
