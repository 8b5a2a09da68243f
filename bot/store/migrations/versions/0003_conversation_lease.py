"""conversation lease (who handles a conversation's turn, and until when) and token salt

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table('conversation') as batch:
        batch.add_column(sa.Column('lock_token', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('locked_until', sa.Float(), nullable=True))
        batch.add_column(sa.Column('token_salt', sa.String(length=32), nullable=True))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table('conversation') as batch:
        batch.drop_column('token_salt')
        batch.drop_column('locked_until')
        batch.drop_column('lock_token')
