"""follow_up index by customer and due date (customers at risk: open follow-ups from a day on)

Revision ID: 2e71a18c0e1b
Revises: f2dbf1ff55f0
Create Date: 2026-11-23 23:30:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "2e71a18c0e1b"
down_revision = "f2dbf1ff55f0"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.create_index("ix_follow_up_customer_due", ["customer_id", "due_on"], unique=False)
        batch_op.drop_index("ix_follow_up_customer")


def downgrade():
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.create_index("ix_follow_up_customer", ["customer_id"], unique=False)
        batch_op.drop_index("ix_follow_up_customer_due")
