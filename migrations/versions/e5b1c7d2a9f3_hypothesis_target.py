"""What a hypothesis says will rise: its KGI or its linked KPIs (hypothesis.target)

Revision ID: e5b1c7d2a9f3
Revises: 761d4d824aa4
Create Date: 2026-12-07 01:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e5b1c7d2a9f3"
down_revision = "761d4d824aa4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("hypothesis", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("target", sa.String(length=8), server_default="kgi", nullable=False)
        )
        batch_op.create_check_constraint("target", "target IN ('kgi', 'kpis')")


def downgrade():
    with op.batch_alter_table("hypothesis", schema=None) as batch_op:
        batch_op.drop_constraint("target", type_="check")
        batch_op.drop_column("target")
