"""Whether a visit's time of day is known (visit.time_known): false for imported bare dates

Visits imported before this revision kept no such mark: an imported visit at exactly 12:00:00
company time is taken as a bare date (docs/import-visits.md), so the data-health check of
visits too close together no longer counts it.

Revision ID: 61d0ab67ad02
Revises: e5b1c7d2a9f3
Create Date: 2026-12-07 04:06:56.777569

"""

from datetime import UTC, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "61d0ab67ad02"
down_revision = "e5b1c7d2a9f3"
branch_labels = None
depends_on = None

NOON = time(12, 0)


def upgrade():
    # A plain ADD COLUMN: a batch copy would drop and re-create `visit`, which the foreign keys
    # of its proposals and follow-ups refuse once it has rows (SQLite).
    op.add_column(
        "visit", sa.Column("time_known", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    tz = ZoneInfo(current_app.config.get("FIELDLOG_TIMEZONE", "Asia/Tokyo"))
    visit = sa.table(
        "visit",
        sa.column("id", sa.Integer),
        sa.column("source", sa.String),
        sa.column("visited_at", sa.DateTime),
        sa.column("time_known", sa.Boolean),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(visit.c.id, visit.c.visited_at).where(visit.c.source == "import"))
    ids = [
        vid
        for vid, at in rows
        if at is not None and at.replace(tzinfo=UTC).astimezone(tz).time() == NOON
    ]
    for start in range(0, len(ids), 500):
        bind.execute(
            sa.update(visit)
            .where(visit.c.id.in_(ids[start : start + 500]))
            .values(time_known=sa.false())
        )


def downgrade():
    # A plain DROP COLUMN (SQLite ≥ 3.35), for the same reason.
    op.drop_column("visit", "time_known")
