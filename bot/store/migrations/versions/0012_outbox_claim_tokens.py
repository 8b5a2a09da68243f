"""outbox claims carry a token: a worker sends only a message it still holds

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('claim', sa.String(length=32), nullable=True))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('claim')
