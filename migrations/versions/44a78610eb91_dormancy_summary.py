"""dormant_rate summary: per-customer runs of days kept (not dormant), and summary state

Revision ID: 44a78610eb91
Revises: 2e71a18c0e1b
Create Date: 2026-11-24 02:10:00

"""

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op
from flask import current_app
from sqlalchemy.orm import Session

# revision identifiers, used by Alembic.
revision = "44a78610eb91"
down_revision = "2e71a18c0e1b"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dormancy_run",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_dormancy_run_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("customer_id", "starts_on", name=op.f("pk_dormancy_run")),
    )
    with op.batch_alter_table("dormancy_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dormancy_run_ends_starts", ["ends_on", "starts_on", "customer_id"], unique=False
        )
    op.create_table(
        "summary_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_summary_state")),
    )
    # Fill the summary now for the company's timezone and thresholds (same code as
    # `flask kpi rebuild-summary`); until it exists dormant_rate is read from the events.
    bind = op.get_bind()
    settings = bind.execute(
        sa.text("SELECT dormant_visit_days, dormant_sales_days FROM company_settings WHERE id = 1")
    ).first()
    if settings is not None:
        from fieldlog.kpi import dormancy
        from fieldlog.models import CompanySettings

        row = CompanySettings(dormant_visit_days=settings[0], dormant_sales_days=settings[1])
        tz = ZoneInfo(current_app.config.get("FIELDLOG_TIMEZONE", "Asia/Tokyo"))
        session = Session(bind=bind)
        dormancy.rebuild(session, row, tz)
        session.flush()


def downgrade():
    op.drop_table("summary_state")
    with op.batch_alter_table("dormancy_run", schema=None) as batch_op:
        batch_op.drop_index("ix_dormancy_run_ends_starts")
    op.drop_table("dormancy_run")
