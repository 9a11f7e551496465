"""PDF pipeline: HTML from data, text read back, shipped font embedded without system CJK."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fieldlog.present import pdf
from tests.report_samples import branch_report


def pdftotext(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.parametrize(
    ("visits", "present", "absent"),
    [
        (
            42,
            [
                "東京支店",
                "2026-W47",
                "目的あり訪問率",
                "課題ヒアリング実施率",
                "62.0%",
                "26/42",
                "¥12,345,000",
                "× 未達",
                "○ 達成",
                "佐藤 一郎",
                "株式会社山田商店",
                "訪問記録なし",
                "1 / 2",
                "訪問前に目的を1つ決める",
                "12件",
            ],
            ["この週の訪問記録はありません"],
        ),
        (0, ["東京支店", "この週の訪問記録はありません", "1 / 1"], ["担当者別", "重点KPIと目標"]),
    ],
)
def test_pdf_text_reads_back(app, tmp_path, visits, present, absent):
    data = pdf.render_pdf(branch_report(visits=visits))
    assert data.startswith(b"%PDF") and len(data) < pdf.MAX_BYTES
    text = pdftotext(data, tmp_path)
    for snippet in present:
        assert snippet in text, snippet
    for snippet in absent:
        assert snippet not in text, snippet


def test_html_escapes_user_text(app):
    report = branch_report()
    report.customers[0].name = "有限会社<script>高橋</script>"
    html = pdf.render_html(report)
    assert "<script>高橋" not in html and "&lt;script&gt;高橋" in html


def test_renders_with_no_cjk_system_font(tmp_path):
    """A machine without any system font still gets Japanese: the shipped font is embedded."""
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">'
        f"<fontconfig><cachedir>{tmp_path}/cache</cachedir></fontconfig>"
    )
    out = tmp_path / "out.pdf"
    script = textwrap.dedent(
        f"""
        import subprocess, sys
        listed = subprocess.run(["fc-list"], capture_output=True, text=True).stdout
        assert listed.strip() == "", listed
        from tests.report_samples import branch_report
        from fieldlog import create_app
        from fieldlog.present import pdf
        app = create_app({{"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x" * 32}})
        with app.app_context():
            open({str(out)!r}, "wb").write(pdf.render_pdf(branch_report()))
        """
    )
    env = {"FONTCONFIG_FILE": str(conf), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=root)
    fonts = subprocess.run(
        ["pdffonts", str(out)], check=True, capture_output=True, text=True
    ).stdout
    families = {line.split()[0].split("+")[-1] for line in fonts.splitlines()[2:]}
    assert families <= {"IPAexGothic", "IPAexGothic-Bold"} and "IPAexGothic" in families
    assert all(" yes yes " in line for line in fonts.splitlines()[2:])  # embedded and subset
    text = pdftotext(out.read_bytes(), tmp_path)
    assert "東京支店" in text and "目的あり訪問率" in text


def test_harfbuzz_warning(monkeypatch, caplog):
    monkeypatch.setattr(pdf.ctypes.util, "find_library", lambda name: None)
    assert pdf.warn_if_slow_fonts() is False
    assert "libharfbuzz-subset" in caplog.text


@pytest.mark.parametrize(
    ("unit", "value", "previous", "change", "arrow"),
    [
        ("rate", 0.62, 0.55, "+7pt", "▲ 改善"),
        ("rate", 0.4, 0.4002, "±0pt", "→"),
        ("rate", 0.118, 0.124, "-0.6pt", "▼ 悪化"),
        ("yen", 1500, 1000, "+¥500", "▲ 改善"),
        ("count", 3, None, "—", ""),
    ],
)
def test_change_and_arrow(unit, value, previous, change, arrow):
    from fieldlog.reports.data import Figure

    f = Figure("k", unit, "up", value, previous=previous)
    assert (pdf.fmt_change(f), pdf.trend_arrow(f)) == (change, arrow)
    down = Figure("k", unit, "down", value, previous=previous)
    if "▲" in arrow:
        assert pdf.trend_arrow(down) == "▲ 悪化"


@pytest.mark.parametrize(
    ("numerator", "denominator", "unit", "cue", "mark"),
    [
        (1, 1, "rate", "少数・参考", "○ 達成（少数）"),  # 1 of 1 is 100 %: a fact, not a verdict
        (0, 2, "rate", "少数・参考", "× 未達（少数）"),
        (4, 5, "rate", None, "○ 達成"),  # five cases and more: the mark alone
        (1, None, "count", None, "× 未達"),  # counts are not rates
    ],
)
def test_a_rate_over_few_cases_says_so_beside_its_mark(
    app, numerator, denominator, unit, cue, mark
):
    from flask import render_template_string

    from fieldlog.kpi.targets import achievement
    from fieldlog.present.pdf import verdict
    from fieldlog.reports.figures import Figure

    value = numerator / denominator if denominator else numerator
    figure = Figure(
        "hearing_rate" if unit == "rate" else "proposal_count", unit, "up", value,
        numerator=numerator, denominator=denominator, target=0.7 if unit == "rate" else 3,
    )  # fmt: skip
    figure.achievement = achievement(figure.value, figure.target, "up")  # as the reports set it
    assert verdict(figure) == mark
    with app.test_request_context():
        html = render_template_string(
            '{% import "manage/_kpi.html" as k with context %}{{ k.cue(f) }}', f=figure
        )
    assert ("少数・参考" in html) is (cue is not None)
    assert "▲" in html or "▼" in html  # the mark itself stays
