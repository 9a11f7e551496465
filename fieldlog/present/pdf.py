"""Report data → HTML (Jinja) → PDF (WeasyPrint), each step callable and testable alone.

The report pins one font family, IPAexGothic, shipped in ``static/fonts`` with its licence,
so a machine without any CJK system font still renders Japanese. Fonts are subset, never
embedded whole (docs/decisions.md).
"""

from __future__ import annotations

import ctypes.util
import logging
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask_babel import force_locale
from jinja2 import Environment
from markupsafe import Markup

from ..reports.data import BranchReport, CompanyReport, Figure
from ..rules.kpi_catalogue import unit_of
from . import charts, numbers, report_text, yojitsu
from .report_text import kpi_name

ROOT = Path(__file__).resolve().parents[2]
FONT_PATH = ROOT / "static" / "fonts" / "ipaexg.ttf"
CSS_PATH = ROOT / "static" / "css" / "report.css"
MAX_BYTES = 1024 * 1024

log = logging.getLogger(__name__)


def harfbuzz_subset_available() -> bool:
    """Whether WeasyPrint can subset fonts with HarfBuzz (else ~20× slower via fontTools)."""
    return ctypes.util.find_library("harfbuzz-subset") is not None


def warn_if_slow_fonts() -> bool:
    """Log loudly when libharfbuzz-subset is missing; returns whether it is present."""
    present = harfbuzz_subset_available()
    if not present:
        log.warning(
            "libharfbuzz-subset is NOT installed: PDF reports will take ~7 s instead of ~0.4 s "
            "(WeasyPrint falls back to fontTools). Install libharfbuzz-subset0."
        )
    return present


# ---- formatting used by the templates -------------------------------------------------


def fmt_change(figure: Figure) -> str:
    """Week-on-week change of a report figure (``present.numbers.change``)."""
    return numbers.change(figure.change, figure.unit)


def fmt_fraction(figure: Figure) -> str:
    """Numerator/denominator of a rate so it can be checked by hand; empty otherwise."""
    if figure.unit != "rate":
        return ""
    return numbers.fraction(figure.numerator, figure.denominator)


def verdict(figure: Figure) -> str:
    """A text cue (not colour alone) for target status."""
    mark = {True: "○ 達成", False: "× 未達", None: ""}[figure.on_target]
    return f"{mark}（少数）" if mark and figure.few else mark


def trend_arrow(figure: Figure) -> str:
    """▲/▼ in the KPI's better direction, so 'worse' reads the same for up- and down-KPIs."""
    change = figure.change
    if change is None:
        return ""
    if numbers.is_flat(change, figure.unit):
        return "→"
    better = (change > 0) == (figure.direction != "down")
    return ("▲" if change > 0 else "▼") + (
        "" if figure.direction is None else (" 改善" if better else " 悪化")
    )


def spark(figure: Figure) -> Markup:
    return Markup(  # noqa: S704 — built with ElementTree, every label escaped
        charts.sparkline(
            figure.trend,
            title=f"{kpi_name(figure.key)} 8週間の推移",
            target=figure.target,
        )
    )


def lag_chart(row: Any) -> Markup:
    """A small lag chart of one hypothesis's lead analysis (effect per lag, 90 % interval)."""
    result = row.result
    scale = numbers.lead_scale(unit_of(row.kpi))
    return Markup(  # noqa: S704 — built with ElementTree, every label escaped
        charts.lag_chart(
            [e.lag for e in result.by_lag],
            [e.effect for e in result.by_lag],
            [e.interval for e in result.by_lag],
            title=f"{kpi_name(row.kpi)} → {kpi_name(result.kgi)} 遅れ別の効果と90%区間",
            chosen=result.lag_weeks,
            axis_label="何週後（遅れ）",
            unit_label=lag_unit(row),
            fmt=numbers.axis(unit_of(result.kgi), report_text.LOCALE),
            width=240,
            height=120,
            text_size=8,
            scale=scale,
        )
    )


def did_line(row: Any) -> str:
    """The branch's before/after comparison of the KPI and the KGI in one Japanese line."""
    if row.comparison is None:
        return ""
    parts = []
    for key, found in ((row.kpi, row.kpi_comparison), (row.result.kgi, row.kgi_comparison)):
        if found is None:
            continue
        if found.effect is None:
            parts.append(f"{kpi_name(key)} まだ判断できない（週数不足）")
            continue
        unit = unit_of(key)
        lo, hi = found.interval
        text = (
            f"{kpi_name(key)} {numbers.difference(found.effect, unit)}"
            f"（90%区間 {numbers.difference(lo, unit)}〜{numbers.difference(hi, unit)}）"
        )
        if found.verdict == "pre_trend":
            text += "※開始前から差が拡大、根拠にならない"
        parts.append(text)
    return "開始前後の差の差（比較グループ比）：" + "／".join(parts) if parts else ""


def did_chart(row: Any) -> Markup | str:
    """A small before/after chart of the branch's KGI against the comparison, start marked."""
    compared = row.comparison
    if compared is None or row.result.kgi not in compared.series:
        return ""
    tested, against = compared.series[row.result.kgi]
    unit = unit_of(row.result.kgi)
    found = row.kgi_comparison
    desc = (
        "まだ判断できない"
        if found is None or found.effect is None
        else (f"差の差 {numbers.difference(found.effect, unit)}")
    )
    return Markup(  # noqa: S704 — built with ElementTree, every label escaped
        charts.before_after_chart(
            compared.labels,
            tested,
            against,
            start=compared.start_index,
            title=f"{kpi_name(row.result.kgi)} 開始前後：{row.branch_name}と比較グループ",
            desc=desc,
            tested_label=row.branch_name,
            comparison_label="比較グループ",
            start_label="開始",
            fmt=numbers.axis(unit, report_text.LOCALE),
            width=240,
            height=130,
            text_size=8,
        )
    )


def lag_unit(row: Any) -> str:
    """The lag chart's effect unit in Japanese: the KGI's unit per step of the KPI."""
    unit = "ポイント" if unit_of(row.result.kgi) == "rate" else "円"
    kpi_unit = unit_of(row.kpi)
    if kpi_unit == "rate":
        step = "+10ポイント"
    elif kpi_unit == "yen":
        step = "+" + numbers.yen(numbers.LEAD_YEN_STEP)
    else:
        step = "+1"
    return f"効果の単位：{kpi_name(row.kpi)} {step} あたりの{unit}"


def bullet(figure: Figure) -> Markup:
    """Value bar and target tick; the value itself is in the next column."""
    target = numbers.value(figure.target, figure.unit) if figure.target is not None else ""
    return Markup(  # noqa: S704 — built with ElementTree, every label escaped
        charts.bullet(
            figure.value,
            figure.target,
            title=f"{kpi_name(figure.key)} 目標比",
            value_text=f"目標 {target}" if target else "目標なし",
            maximum=1.0 if figure.unit == "rate" else None,
        )
    )


def rep_chart(report: BranchReport, key: str) -> Markup:
    """Per-rep bars of one KPI with the branch target line."""
    rows = [r for r in report.reps if key in r.figures]
    if not rows:
        return Markup("")
    first = rows[0].figures[key]
    branch_fig = next((f for f in report.kpis if f.key == key), first)

    def fmt(v: float) -> str:
        return numbers.value(v, first.unit)

    return Markup(  # noqa: S704 — built with ElementTree, every label escaped
        charts.bar_chart(
            [r.name for r in rows],
            [r.figures[key].value for r in rows],
            title=f"担当者別 {kpi_name(key)}",
            target=branch_fig.target,
            target_label="目標",
            fmt=fmt,
            width=520,
            height=170,
        )
    )


def trend_chart(report: BranchReport | CompanyReport) -> Markup:
    """The 8-week trend of every active rate KPI on one chart."""
    rates = [f for f in report.kpis if f.unit == "rate"]
    return Markup(  # noqa: S704 — built with ElementTree, every label escaped
        charts.line_chart(
            report.trend_labels,
            [charts.Series(kpi_name(f.key), f.trend) for f in rates],
            title="重点KPIの8週間の推移",
            fmt=numbers.axis_percent,
            ceiling=1.0,
            width=520,
            height=190,
        )
    )


def flag_detail(flag: Any) -> str:
    """A data-health flag's sentence in Japanese, as the rest of the report."""
    from flask import has_app_context
    from flask_babel import force_locale

    if not has_app_context():
        return report_text.describe_flag(flag)
    with force_locale("ja"):
        return report_text.describe_flag(flag)


def forecast_chart(month: Any) -> Markup:
    """The month's weekly sales, actual then forecast with its 80 % band, at the page's width."""
    return yojitsu.forecast_chart(month, width=520, height=190, text_size=8)


def init_app(app: Flask) -> None:
    """The report's filters and helpers on the app's Jinja environment: the one environment
    that renders every template, the pages and the report's HTML on its way to PDF."""
    app.jinja_env.filters.update(value=numbers.value, change=fmt_change, fraction=fmt_fraction)
    app.jinja_env.globals.update(
        verdict=verdict,
        arrow=trend_arrow,
        spark=spark,
        lag_chart=lag_chart,
        did_line=did_line,
        did_chart=did_chart,
        bullet=bullet,
        rep_chart=rep_chart,
        trend_chart=trend_chart,
        forecast_chart=forecast_chart,
        company_name="",
        flag_detail=flag_detail,
        flag_label=report_text.FLAG_LABELS.get,
        kpi_ja=kpi_name,
        unit_of=unit_of,
        review_subject=report_text.review_subject,
        kpi_cause=report_text.cause,
        kpi_why=report_text.why,
        gap_lines=report_text.suggestions,
        lint_lines=report_text.lint_lines,
        # How a month's 予実 reads in its state, for the pages' card and the PDF alike.
        **yojitsu.HELPERS,
    )


def environment() -> Environment:
    """The Jinja environment that renders templates/reports/: the current app's."""
    return current_app.jinja_env


def render_html(report: BranchReport | CompanyReport, *, company_name: str = "") -> str:
    """The report as a standalone HTML document, in Japanese whatever the reader's language
    (an app context, no request, needed)."""
    name = "weekly.html" if isinstance(report, BranchReport) else "company.html"
    template = environment().get_template(f"reports/{name}")
    with force_locale(report_text.LOCALE):
        return template.render(report=report, company_name=company_name)


def _local_fetcher() -> Any:
    """A WeasyPrint fetcher for the shipped files only (static/: stylesheet, fonts) and data: URLs.

    Text is escaped before it reaches the report; should markup ever slip through, it still
    cannot make the server fetch a URL or read a file outside static/.
    """
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    from weasyprint.urls import URLFetcher

    class LocalFetcher(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("file:"):
                path = Path(url2pathname(urlparse(url).path)).resolve()
                if not path.is_relative_to(ROOT / "static"):
                    raise ValueError(f"reports read only static files, not {url}")
            return super().fetch(url, headers)

    return LocalFetcher(allowed_protocols=("file", "data"))


def html_to_pdf(html: str) -> bytes:
    """WeasyPrint with the shipped font declared by the report stylesheet."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    font_config = FontConfiguration()
    fetcher = _local_fetcher()
    css = CSS(
        filename=str(CSS_PATH),
        font_config=font_config,
        base_url=str(ROOT) + "/",
        url_fetcher=fetcher,
    )
    document = HTML(string=html, base_url=str(ROOT) + "/", url_fetcher=fetcher)
    return document.write_pdf(stylesheets=[css], font_config=font_config)


def render_pdf(report: BranchReport | CompanyReport, *, company_name: str = "") -> bytes:
    """Report data to PDF bytes; warns when the result exceeds the 1 MB budget."""
    pdf = html_to_pdf(render_html(report, company_name=company_name))
    if len(pdf) > MAX_BYTES:
        log.warning("report %s is %d bytes, above the 1 MB budget", report.week, len(pdf))
    return pdf


def warm_up() -> None:
    """Load WeasyPrint, the templates and the shipped font once, e.g. in a queue worker
    before it forks, so that each forked job does not pay for them again."""
    environment().get_template("reports/weekly.html")
    environment().get_template("reports/company.html")
    html_to_pdf('<html lang="ja"><body><p>週次KPIレポート</p></body></html>')
