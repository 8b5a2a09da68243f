"""staff accounts can be disabled

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table('staff_user') as batch:
        batch.add_column(sa.Column('disabled', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table('staff_user') as batch:
        batch.drop_column('disabled')
