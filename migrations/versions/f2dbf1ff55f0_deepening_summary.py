"""deepening_rate summary: per-customer runs of days, derived from the sales lines

Revision ID: f2dbf1ff55f0
Revises: 0bf0e2a35c35
Create Date: 2026-11-23 22:49:19.866683

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

# revision identifiers, used by Alembic.
revision = "f2dbf1ff55f0"
down_revision = "0bf0e2a35c35"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "deepening_run",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("grew", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_deepening_run_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("customer_id", "starts_on", name=op.f("pk_deepening_run")),
    )
    with op.batch_alter_table("deepening_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deepening_run_ends_starts",
            ["ends_on", "starts_on", "customer_id", "grew"],
            unique=False,
        )
    # Existing sales lines: fill the summary now, or deepening_rate would read 0 / 0 until
    # `flask kpi rebuild-summary` runs. (Same code as that command; empty databases skip it.)
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM sales_line LIMIT 1")).first() is not None:
        from fieldlog.kpi.deepening import rebuild

        rebuild(Session(bind=bind))


def downgrade():
    with op.batch_alter_table("deepening_run", schema=None) as batch_op:
        batch_op.drop_index("ix_deepening_run_ends_starts")
    op.drop_table("deepening_run")
