"""Hand-built report data for rendering tests (no KPI engine needed)."""

from __future__ import annotations

from datetime import date

from fieldlog.kpi.gap import Suggestion
from fieldlog.reports.data import (
    BranchReport,
    CustomerLine,
    Figure,
    FollowUpLine,
    Pipeline,
    RepRow,
    ReviewLine,
)

LABELS = ["W40", "W41", "W42", "W43", "W44", "W45", "W46", "W47"]


def figure(key, unit, value, previous=None, target=None, direction="up", num=None, den=None):
    """A figure as the KPI engine gives it; the report names it and says why from its key."""
    wiggle = (0.82, 0.9, 0.86, 0.95, 0.88, 0.97, 0.93)
    trend = [None if value is None else value * w for w in wiggle] + [value]
    met = None if value is None or target is None else ("ahead" if value >= target else "behind")
    return Figure(key, unit, direction, value, num, den, previous, target, met, trend)


def rep_row(name: str, visits: int, purposeful: float, hearing: float) -> RepRow:
    figures = {
        "purposeful_visit_rate": figure("purposeful_visit_rate", "rate", purposeful, target=0.7),
        "hearing_rate": figure("hearing_rate", "rate", hearing, target=0.4),
        "next_action_rate": figure("next_action_rate", "rate", None),
    }
    return RepRow(name, figures, visits)


def branch_report(visits: int = 42, name: str = "東京支店") -> BranchReport:
    kpis = [
        figure("purposeful_visit_rate", "rate", 0.62, 0.55, 0.7, num=26, den=42),
        figure("hearing_rate", "rate", 0.45, 0.5, 0.4, num=19, den=42),
        figure("next_action_rate", "rate", None, 0.3, 0.6, num=0, den=0),
    ]
    kgi = [
        figure("sales_amount", "yen", 12_345_000, 11_000_000),
        figure("gross_margin_rate", "rate", 0.243, 0.25),
    ]
    reps = [
        rep_row("佐藤 一郎", 20, 0.8, 0.3),
        rep_row("鈴木 花子", 22, 0.45, 0.6),
    ]
    return BranchReport(
        branch_code="TKY",
        branch_name=name,
        week="2026-W47",
        start=date(2026, 11, 16),
        end=date(2026, 11, 22),
        today=date(2026, 11, 23),
        trend_labels=LABELS,
        kpis=kpis,
        kgi=kgi,
        visit_count=figure("visit_count", "count", visits, 38, direction=None),
        reps=reps,
        gaps={
            "purposeful_visit_rate": Suggestion(
                "purposeful_visit_rate",
                "quality",
                {"base_now": 42, "base_before": 40.5, "value": 0.62, "target": 0.7},
            )
        },
        reviews=[
            ReviewLine(
                "purposeful_visit_rate",
                "定期巡回が多かった",
                "quality",
                "訪問前に目的を1つ決める",
                kpis[0],
            )
        ],
        follow_ups=[
            FollowUpLine("株式会社山田商店", "佐藤 一郎", "見積書を再提出", date(2026, 11, 18), 5)
        ],
        follow_ups_total=1,
        customers=[
            CustomerLine(
                "C001",
                "有限会社高橋",
                "鈴木 花子",
                "A",
                date(2026, 9, 1),
                82,
                "dormant",
            ),
            CustomerLine("C002", "田中工業", "", "B", None, None, "dormant"),
        ],
        customers_total=2,
        pipeline=Pipeline(new=7, won=2, lost=1, open_count=12, open_amount=4_560_000),
        hypotheses=["追加提案を増やせば売上が上がる"],
    )
