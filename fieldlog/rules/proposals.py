"""When a proposal is open: the one definition behind the pipeline KPIs and the forecast.

A proposal is open at a day when it was proposed on or before that day and not closed on or
before it (docs/kpi.md, ``pipeline_count``). A proposal closed after the day was still open
then; one closed before it was proposed (a correction) is never open.

``open_at`` is written with comparisons and ``&`` only, so the same expression reads dates
or ordinals, numpy arrays of ordinals, and SQL columns: the roll-up (``kpi.rollup_ends``)
counts it at every period end in SQL, the forecast (``kpi.forecast_pipeline``) over arrays.
A proposal not closed yet has ``closed`` = ``NEVER`` (``NEVER_ORDINAL`` as an ordinal), a day
after every day asked about.
"""

from __future__ import annotations

from datetime import date
from typing import Any

# The closing day of a proposal not closed (yet): after every day a question is asked about.
NEVER = date.max
NEVER_ORDINAL = NEVER.toordinal()


def open_at(proposed: Any, closed: Any, day: Any) -> Any:
    """Open at ``day``: proposed on or before it, and closed (``NEVER`` if not) after it."""
    return (proposed <= day) & (closed > day)
