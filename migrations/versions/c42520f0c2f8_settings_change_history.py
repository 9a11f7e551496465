"""Settings change history: who changed which target, KPI set, threshold, budget or purpose flag

Revision ID: c42520f0c2f8
Revises: ae0de9a221e4
Create Date: 2026-12-06 02:08:02.582281

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c42520f0c2f8'
down_revision = 'ae0de9a221e4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('setting_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('old', sa.JSON(), nullable=True),
    sa.Column('new', sa.JSON(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('target', 'active_kpis', 'threshold', 'budget', 'purpose')", name=op.f('ck_setting_change_kind')),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_setting_change_branch_id_branch')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_setting_change_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_setting_change'))
    )
    with op.batch_alter_table('setting_change', schema=None) as batch_op:
        batch_op.create_index('ix_setting_change_at', ['changed_at'], unique=False)
        batch_op.create_index('ix_setting_change_branch_at', ['branch_id', 'changed_at'], unique=False)



def downgrade():
    with op.batch_alter_table('setting_change', schema=None) as batch_op:
        batch_op.drop_index('ix_setting_change_branch_at')
        batch_op.drop_index('ix_setting_change_at')

    op.drop_table('setting_change')
