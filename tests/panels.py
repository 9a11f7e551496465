"""Synthetic weekly panels for the KPI statistics tests (lead/lag, before/after).

``ar1`` is the autocorrelated noise every planted panel is built from (tests/test_kpi_lead.py,
tests/test_kpi_did.py); ``rep_with_weekly_proposals`` writes a rep whose proposals vary week to
week and whose customers' sales follow them ``lag`` weeks later, through the ``make`` fixture
(tests/test_kpi_lead.py, tests/test_lead_ranking.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from fieldlog.rules.periods import Period


def ar1(rng: np.random.Generator, shape: tuple[int, int], phi: float) -> np.ndarray:
    """Rows of a stationary AR(1) series with coefficient ``phi`` and unit shocks."""
    shocks = rng.normal(0.0, 1.0, shape)
    out = np.empty(shape)
    out[:, 0] = shocks[:, 0] / np.sqrt(1 - phi**2)
    for t in range(1, shape[1]):
        out[:, t] = phi * out[:, t - 1] + shocks[:, t]
    return out


def rep_with_weekly_proposals(
    make: Any,
    branch: Any,
    email: str,
    periods: list[Period],
    rng: np.random.Generator,
    *,
    lag: int,
    lead: bool = True,
    alternate_hearing: bool = False,
) -> Any:
    """A rep with three customers: 0–4 proposals a week; each week a sale of ~200,000 yen that
    grows by 60,000 per proposal made ``lag`` weeks before (when ``lead``), with noise.

    ``alternate_hearing``: every other proposal visit has its hearing done.
    """
    rep = make.user("rep", branch, email=email)
    customers = [make.customer(branch, rep) for _ in range(3)]
    proposals = rng.integers(0, 5, len(periods))
    for w, period in enumerate(periods):
        for k in range(int(proposals[w])):
            day = period.start + timedelta(days=k % 5)
            hearing = {"hearing_done": bool(k % 2)} if alternate_hearing else {}
            make.visit(
                rep,
                customers[k % 3],
                visited_at=f"{day.isoformat()}T10:{k:02d}:00+09:00",
                purpose="proposal",
                **hearing,
                proposal={"amount": 50000},
            )
        earlier = int(proposals[w - lag]) if w >= lag else 2
        push = 60_000 * earlier if lead else 0
        amount = 200_000 + push + int(rng.normal(0, 20_000))
        make.sale(customers[w % 3], period.start + timedelta(days=2), amount=amount)
    return rep
