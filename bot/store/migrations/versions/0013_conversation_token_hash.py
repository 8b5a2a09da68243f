"""a conversation's own token, chosen by its client, kept as a hash

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table('conversation') as batch:
        batch.add_column(sa.Column('token_hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table('conversation') as batch:
        batch.drop_column('token_hash')
