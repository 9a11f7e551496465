"""Budget changes kept only in the settings history: copy sales_budget_change rows into
setting_change (kind 'budget') where the settings history does not have them yet.

Revision ID: 5e1a7c2b9d40
Revises: c25e1a26d303
Create Date: 2026-12-06 05:20:00

"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1a7c2b9d40"
down_revision = "c25e1a26d303"
branch_labels = None
depends_on = None

# Both tables were written in the same transaction, a moment apart.
SAME_CHANGE = timedelta(seconds=60)


def upgrade():
    bind = op.get_bind()
    meta = sa.MetaData()
    old = sa.Table("sales_budget_change", meta, autoload_with=bind)
    budget = sa.Table("sales_budget", meta, autoload_with=bind)
    user = sa.Table("user", meta, autoload_with=bind)
    setting = sa.Table("setting_change", meta, autoload_with=bind)
    rows = bind.execute(
        sa.select(
            old.c.old_amount,
            old.c.new_amount,
            old.c.changed_by_id,
            old.c.changed_at,
            budget.c.month,
            budget.c.branch_id,
            user.c.email,
        )
        .join(budget, budget.c.id == old.c.budget_id)
        .outerjoin(user, user.c.id == budget.c.rep_id)
        .order_by(old.c.id)
    ).all()
    kept = bind.execute(
        sa.select(
            setting.c.key, setting.c.old, setting.c.new, setting.c.user_id, setting.c.changed_at
        ).where(setting.c.kind == "budget")
    ).all()
    known: dict[tuple, list] = {}
    for key, before, after, user_id, at in kept:
        known.setdefault((key, before, after, user_id), []).append(at)
    new_rows = []
    for before, after, user_id, at, month, branch_id, email in rows:
        key = f"{month:%Y-%m}" + (f" {email}" if email else "")
        found = known.get((key, before, after, user_id), [])
        if any(abs(at - other) <= SAME_CHANGE for other in found):
            continue
        new_rows.append(
            {
                "kind": "budget",
                "key": key[:64],
                "branch_id": branch_id,
                "old": before,
                "new": after,
                "user_id": user_id,
                "changed_at": at,
            }
        )
    if new_rows:
        op.bulk_insert(setting, new_rows)


def downgrade():
    # The copied rows cannot be told from the settings history's own: they stay.
    pass
