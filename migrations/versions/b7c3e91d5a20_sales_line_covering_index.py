"""sales_line indexes covering amount and gross profit (sales KPIs read no table rows)

Revision ID: b7c3e91d5a20
Revises: 44a78610eb91
Create Date: 2026-11-24 02:10:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "b7c3e91d5a20"
down_revision = "44a78610eb91"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sales_line", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sales_line_customer_on_amounts",
            ["customer_id", "sold_on", "amount", "gross_profit"],
            unique=False,
        )
        batch_op.drop_index("ix_sales_line_customer_on")
        batch_op.create_index(
            "ix_sales_line_on_customer_amounts",
            ["sold_on", "customer_id", "category_id", "amount", "gross_profit"],
            unique=False,
        )
        batch_op.drop_index("ix_sales_line_on_customer_category")


def downgrade():
    with op.batch_alter_table("sales_line", schema=None) as batch_op:
        batch_op.create_index("ix_sales_line_customer_on", ["customer_id", "sold_on"], unique=False)
        batch_op.drop_index("ix_sales_line_customer_on_amounts")
        batch_op.create_index(
            "ix_sales_line_on_customer_category",
            ["sold_on", "customer_id", "category_id"],
            unique=False,
        )
        batch_op.drop_index("ix_sales_line_on_customer_amounts")
