"""Weekly report benchmark: time and size of one branch report and of a whole company's reports.

Data: the KPI benchmark's generator (benchmarks/kpi_rollup.py), with 400 reps so a branch has
20 reps (20 branches). Times, in the same run:

- one branch report: data (KPI roll-ups and lists), HTML, PDF — and its size;
- all reports of the company (20 branch PDFs + the company PDF);
- baseline: WeasyPrint of a minimal one-page Japanese document with the same font, and the
  same branch report HTML with the charts removed (what the SVG charts cost).

    .venv/bin/python benchmarks/report_bench.py --visits 20000          # quick
    .venv/bin/python benchmarks/report_bench.py --sqlite /tmp/kpi-copy.db  # the KPI data set
      (a copy of benchmarks/kpi_rollup.py's 1M-visit file: 20 branches, 10 reps each)
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import kpi_rollup
from sqlalchemy import select

from fieldlog import create_app
from fieldlog.app.extensions import db
from fieldlog.models import Branch
from fieldlog.present import pdf
from fieldlog.reports import data
from fieldlog.services.defaults import ensure_defaults

MINIMAL = """<!doctype html><html lang="ja"><body><h1>東京支店 週次KPIレポート</h1>
<p>目的あり訪問率 62%　課題ヒアリング実施率 45%</p></body></html>"""


def weasy_pages(html: str) -> list:
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    css = CSS(filename=str(pdf.CSS_PATH), font_config=fonts, base_url=str(pdf.ROOT) + "/")
    doc = HTML(string=html, base_url=str(pdf.ROOT) + "/").render(
        stylesheets=[css], font_config=fonts
    )
    return doc.pages


def timed(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def prepare(n_visits: int, reuse: bool) -> str:
    path = Path(tempfile.gettempdir()) / f"fieldlog_bench_report_{n_visits}.db"
    url = f"sqlite:///{path}"
    if reuse and path.exists():
        return url
    path.unlink(missing_ok=True)
    kpi_rollup.REPS = 400  # 20 reps per branch
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "FIELDLOG_SCHEDULER": False,
                      "SECRET_KEY": "bench"})  # fmt: skip
    with app.app_context():
        db.create_all()
        ensure_defaults(db.session)
        db.session.commit()
        start = time.perf_counter()
        rows = kpi_rollup.generate(n_visits)
        kpi_rollup.load(db.engine, rows)
        kpi_rollup.summarize(db.session, "sqlite")
        counts = {t: len(r) for t, r in rows.items()}
        print(f"generated and loaded in {time.perf_counter() - start:.1f} s: {counts}")
        db.engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--png", type=Path, help="also write page 1 of the branch PDF here")
    parser.add_argument(
        "--sqlite", type=Path, help="use this SQLite file instead (e.g. a copy of the KPI one)"
    )
    args = parser.parse_args()
    url = f"sqlite:///{args.sqlite}" if args.sqlite else prepare(args.visits, args.reuse)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "FIELDLOG_SCHEDULER": False,
                      "SECRET_KEY": "bench"})  # fmt: skip
    week, today, tz = kpi_rollup.WEEK, kpi_rollup.TODAY, kpi_rollup.TZ
    print(f"harfbuzz-subset: {'yes' if pdf.harfbuzz_subset_available() else 'NO (slow)'}")
    with app.app_context():
        branches = list(db.session.scalars(select(Branch).order_by(Branch.code)))
        branch = branches[0]
        pdf.html_to_pdf(MINIMAL)  # warm the font and WeasyPrint caches

        t_min, minimal = timed(lambda: pdf.html_to_pdf(MINIMAL), args.repeat)
        t_data, report = timed(
            lambda: data.branch_report(db.session, branch, week, today=today, tz=tz), args.repeat
        )
        html = pdf.render_html(report)
        no_charts = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
        t_plain, plain = timed(lambda: pdf.html_to_pdf(no_charts), args.repeat)
        t_pdf, branch_pdf = timed(lambda: pdf.html_to_pdf(html), args.repeat)
        pages = len(weasy_pages(html))

        def everything():
            sizes = []
            for b in branches:
                r = data.branch_report(db.session, b, week, today=today, tz=tz)
                sizes.append(len(pdf.render_pdf(r)))
            sizes.append(len(pdf.render_pdf(data.company_report(db.session, week, today=today,
                                                                tz=tz))))  # fmt: skip
            return sizes

        t_all, sizes = timed(everything, 1)
    reps = len(report.reps)
    print(f"\n{url}; branch {branch.code} with {reps} reps; week {week.label}")
    rows = [
        ("baseline: minimal 1-page PDF", t_min, len(minimal)),
        ("branch report: data (roll-ups, lists)", t_data, None),
        ("branch report: PDF without charts", t_plain, len(plain)),
        (f"branch report: PDF ({pages} pages)", t_pdf, len(branch_pdf)),
        ("branch report: data + PDF", t_data + t_pdf, len(branch_pdf)),
        (f"all reports: {len(branches)} branches + company", t_all, sum(sizes)),
    ]
    print(f"{'step':45} {'median s':>9} {'size KB':>9} {'× baseline':>11}")
    for name, seconds, size in rows:
        kb = f"{size / 1024:.0f}" if size is not None else "–"
        print(f"{name:45} {seconds:9.3f} {kb:>9} {seconds / t_min:10.1f}×")
    print(f"largest PDF of the run: {max(sizes) / 1024:.0f} KB")
    if args.png:
        out = Path(tempfile.gettempdir()) / "fieldlog_bench_report.pdf"
        out.write_bytes(branch_pdf)
        import subprocess

        stem = args.png.with_suffix("")
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile",
                        str(out), str(stem)], check=True)  # fmt: skip
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
