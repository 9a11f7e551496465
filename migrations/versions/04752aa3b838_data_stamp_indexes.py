"""updated_at indexed on the tables the plan and Today read; updated_at on category and purpose

The plan's and Today's cache (services.data_stamp) keys each page on the newest change of the
data behind it: one index seek per table instead of a scan.

Revision ID: 04752aa3b838
Revises: 69f00166b5ae
Create Date: 2026-12-06 11:35:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "04752aa3b838"
down_revision = "69f00166b5ae"
branch_labels = None
depends_on = None

_INDEXED = ("visit", "proposal", "follow_up", "planned_visit", "customer")
_STAMPED = ("category", "purpose")


def upgrade():
    for table in _STAMPED:
        # A plain ADD COLUMN (SQLite takes a constant default): no copy of a table others
        # reference. Rows older than the column get a day before any of them could change.
        op.add_column(
            table,
            sa.Column(
                "updated_at",
                sa.DateTime(),
                nullable=False,
                server_default=sa.text("'2026-01-01 00:00:00'"),
            ),
        )
    for table in _INDEXED:
        op.create_index(f"ix_{table}_updated", table, ["updated_at"], unique=False)


def downgrade():
    for table in _INDEXED:
        op.drop_index(f"ix_{table}_updated", table_name=table)
    for table in _STAMPED:
        op.drop_column(table, "updated_at")  # SQLite 3.35+: no copy of the table
