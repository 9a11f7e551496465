"""An analysis snapshot: a denormalised SQLite file for Datasette or any SQLite browser."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlite_utils
from sqlalchemy.orm import Session

from .export import EVERYTHING, table
from .kpis import kpi_table

TABLES = {
    "visits": "visits",
    "proposals": "proposals",
    "follow-ups": "follow_ups",
    "customers": "customers",
}
FTS_COLUMNS = ["purpose_note", "hearing_note", "note"]


def write_snapshot(
    session: Session, path: str | Path, *, tz: ZoneInfo, today: date, weeks: int = 52
) -> dict[str, int]:
    """Write every record (as the owner sees them), weekly KPIs per rep, FTS on visit notes."""
    path = Path(path)
    path.unlink(missing_ok=True)
    snapshot = sqlite_utils.Database(path)
    counts: dict[str, int] = {}
    try:
        for kind, name in TABLES.items():
            source = table(session, kind, EVERYTHING, tz=tz)
            rows = (dict(zip(source.columns, row, strict=True)) for row in source.rows)
            target = snapshot[name]
            target.insert_all(rows, batch_size=1000, pk="id" if "id" in source.columns else None)
            if not target.exists():
                target.create({column: str for column in source.columns})
            counts[name] = target.count
        kpis = kpi_table(session, EVERYTHING, tz=tz, today=today, weeks=weeks, scopes=("rep",))
        snapshot["kpi_weekly"].insert_all(
            (dict(zip(kpis.columns, row, strict=True)) for row in kpis.rows), batch_size=1000
        )
        counts["kpi_weekly"] = snapshot["kpi_weekly"].count
        # Trigram: Japanese notes have no spaces, so the default tokenizer would index a whole
        # sentence as one word and a search would only find exact whole notes.
        snapshot["visits"].enable_fts(FTS_COLUMNS, create_triggers=True, tokenize="trigram")
    finally:
        snapshot.close()
    return counts
