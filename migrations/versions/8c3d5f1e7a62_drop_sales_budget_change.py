"""Drop sales_budget_change: budget changes live in the settings history (setting_change).

Revision ID: 8c3d5f1e7a62
Revises: 5e1a7c2b9d40
Create Date: 2026-12-06 05:21:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8c3d5f1e7a62"
down_revision = "5e1a7c2b9d40"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sales_budget_change", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_budget_change_budget")
    op.drop_table("sales_budget_change")


def downgrade():
    op.create_table(
        "sales_budget_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("budget_id", sa.Integer(), nullable=False),
        sa.Column("old_amount", sa.BigInteger(), nullable=True),
        sa.Column("new_amount", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "source IN ('form', 'import')", name=op.f("ck_sales_budget_change_source")
        ),
        sa.ForeignKeyConstraint(
            ["budget_id"],
            ["sales_budget.id"],
            name=op.f("fk_sales_budget_change_budget_id_sales_budget"),
        ),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["user.id"], name=op.f("fk_sales_budget_change_changed_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_budget_change")),
    )
    with op.batch_alter_table("sales_budget_change", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sales_budget_change_budget", ["budget_id", "changed_at"], unique=False
        )
