"""model digests and promotion history (rollback steps back)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table('model_promotion') as batch:
        batch.add_column(sa.Column('digest', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('rollback', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    # Rollbacks so far were recorded with this reason only (they undo the row before them).
    promotion = sa.table('model_promotion', sa.column('reason', sa.Text()),
                         sa.column('rollback', sa.Boolean()))
    op.execute(promotion.update().where(promotion.c.reason.like('rollback:%'))
               .values(rollback=True))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table('model_promotion') as batch:
        batch.drop_column('rollback')
        batch.drop_column('digest')
