"""Merge the proposal revisions and settings history heads

Revision ID: 4af17206a6f9
Revises: c42520f0c2f8, da456aa47f20
Create Date: 2026-12-06 02:48:23.500600

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4af17206a6f9'
down_revision = ('c42520f0c2f8', 'da456aa47f20')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
