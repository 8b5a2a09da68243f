"""review labels for maintainers; staff roles

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 07:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('review_label',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=500), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('staff', sa.String(length=64), nullable=True),
    sa.Column('labelled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pulled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('staff_user') as batch:
        batch.add_column(sa.Column('role', sa.String(length=16), nullable=False,
                                   server_default='staff'))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table('staff_user') as batch:
        batch.drop_column('role')
    op.drop_table('review_label')
